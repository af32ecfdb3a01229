-- Every HTTP attempt of the deliveries $delivery_ids (a department scope: its own only).
select a.delivery_id, a.attempt, a.at_utc, a.status_code, a.error, a.duration_ms
from dispatch_webhook_attempts a
join dispatch_webhook_deliveries d on d.delivery_id = a.delivery_id
where list_contains($delivery_ids, a.delivery_id)
  and ($scope_dept = '' or d.department = $scope_dept)
order by a.delivery_id, a.attempt
