-- Pending deliveries whose next attempt is due at $as_of, oldest first, with their endpoint.
-- A disabled webhook's deliveries wait (paused) until it is enabled again.
select d.delivery_id, d.event_id, d.event_type, d.department, d.payload, d.attempts, w.url, w.secret
from dispatch_webhook_deliveries d
join dispatch_webhooks w on w.department = d.department
where d.state = 'pending' and w.enabled and d.next_attempt_at <= $as_of
order by d.next_attempt_at, d.delivery_id
limit $limit
