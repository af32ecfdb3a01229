-- Dispatch orders the scope sees, newest first, keyset-paginated by (created_at, order_id).
-- $state: '' any, 'open' not yet verified/closed/cancelled, or one order state; $department:
-- orders with a task (current or past) for it; $since: changed at or after (updated_at).
with orders as (
    select o.*
    from scoped_dispatch_orders($scope_level, $scope_units, $scope_dept) o
    where ($state = ''
           or ($state = 'open' and o.state not in ('verified', 'closed', 'cancelled'))
           or o.state = $state)
      and ($department = '' or o.order_id in (select t.order_id from dispatch_tasks t where t.department = $department))
      and ($since is null or o.updated_at >= $since)
      and ($after_created is null
           or o.created_at < $after_created
           or (o.created_at = $after_created and o.order_id < $after_order_id))
    order by o.created_at desc, o.order_id desc
    limit $limit
)
select o.order_id, o.version, o.state, o.title, o.priority, o.lead_department, o.created_by, o.created_at,
       o.updated_at, o.due_at, o.verified_at, o.closed_at, o.cancelled_at,
       (select count(*) from dispatch_order_cases c where c.order_id = o.order_id) as case_count,
       (select list({'department': t.department, 'role': t.task_role, 'state': t.state, 'due_at': t.due_at,
                     'escalation_level': t.escalation_level} order by t.task_no)
        from dispatch_tasks t where t.order_id = o.order_id) as tasks
from orders o
order by o.created_at desc, o.order_id desc
