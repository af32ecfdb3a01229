-- Department webhooks without their secrets (CLI `webhooks list`).
select department, url, enabled, created_at, updated_at,
       (select count(*) from dispatch_webhook_deliveries d
        where d.department = w.department and d.state = 'pending') as pending
from dispatch_webhooks w
order by department
