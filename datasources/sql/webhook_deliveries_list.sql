-- The delivery log, newest first, keyset-paginated by delivery id. A department scope sees its
-- own department's deliveries only; $department, $state ('' = any) and $since filter further.
select delivery_id, event_id, event_type, order_id, department, state, attempts, created_at,
       next_attempt_at, delivered_at, last_status, last_error
from dispatch_webhook_deliveries
where ($scope_dept = '' or department = $scope_dept)
  and ($department = '' or department = $department)
  and ($state = '' or state = $state)
  and ($since is null or created_at >= $since)
  and ($after_delivery_id = 0 or delivery_id < $after_delivery_id)
order by delivery_id desc
limit $limit
