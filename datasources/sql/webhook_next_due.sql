-- When the worker next has something to send (null: nothing pending on an enabled webhook).
select min(d.next_attempt_at) as next_attempt_at
from dispatch_webhook_deliveries d
join dispatch_webhooks w on w.department = d.department
where d.state = 'pending' and w.enabled
