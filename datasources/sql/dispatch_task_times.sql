-- One row per task of the orders created in [$since, $until) the scope sees: when it was issued
-- (its create/issue event; a reassigned task is issued later than its order), acknowledged and
-- resolved, and whether it was late ($as_of for steps still open; a task handed over or
-- cancelled before the step is neither late nor on time: null).
with issued as (
    select order_id, department, min(at_utc) as issued_at
    from scoped_dispatch_events($scope_level, $scope_units, $scope_dept)
    where to_state = 'issued' and action in ('create', 'issue')
    group by order_id, department
),
tasks as (
    select t.order_id, t.task_no, t.department, t.task_role, t.state, o.priority,
           coalesce(i.issued_at, o.created_at) as issued_at, t.ack_due_at, t.due_at, t.acknowledged_at,
           t.resolved_at, t.state in ('reassigned', 'cancelled') as inactive
    from scoped_dispatch_tasks($scope_level, $scope_units, $scope_dept) t
    join dispatch_orders o on o.order_id = t.order_id
    left join issued i on i.order_id = t.order_id and i.department = t.department
    where o.created_at >= $since and o.created_at < $until
)
select order_id, department, task_role, state, priority, issued_at, ack_due_at, due_at, acknowledged_at, resolved_at,
       epoch(acknowledged_at - issued_at) / 60.0 as ack_minutes,
       epoch(resolved_at - issued_at) / 60.0 as resolve_minutes,
       case when acknowledged_at is not null then acknowledged_at > ack_due_at
            when inactive then null
            else cast($as_of as timestamp) > ack_due_at end as ack_late,
       case when resolved_at is not null then resolved_at > due_at
            when inactive then null
            else cast($as_of as timestamp) > due_at end as resolve_late
from tasks
order by department, order_id, task_no
