-- Departments among $departments with an enabled webhook: a dispatch event is queued for them.
select department
from dispatch_webhooks
where enabled and list_contains($departments, department)
order by department
