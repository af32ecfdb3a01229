-- Open joint dispatch orders in the scope (not verified, closed or cancelled) for the console's
-- board and map: state, lead department, deadline, late (the order's or an open task's deadline
-- passed at $as_of), and where its linked cases lie (mean position; null when none is located).
with open_orders as (
    select o.order_id, o.title, o.state, o.priority, o.lead_department, o.due_at, o.created_at
    from scoped_dispatch_orders($scope_level, $scope_units, $scope_dept) o
    where o.state not in ('verified', 'closed', 'cancelled')
),
late_tasks as (
    select t.order_id, count(*) as late_tasks
    from scoped_dispatch_tasks($scope_level, $scope_units, $scope_dept) t
    where t.state in ('issued', 'acknowledged', 'in_progress', 'returned')
      and (t.due_at < cast($as_of as timestamp)
           or (t.state = 'issued' and t.ack_due_at < cast($as_of as timestamp)))
    group by t.order_id
),
places as (
    select oc.order_id, avg(c.lat) as lat, avg(c.lon) as lon
    from scoped_dispatch_order_cases($scope_level, $scope_units, $scope_dept) oc
    join scoped_cases($scope_level, $scope_units, '', false) c using (case_id)
    where c.lat is not null and c.lon is not null
    group by oc.order_id
)
select o.order_id, o.title, o.state, o.priority, o.lead_department, o.due_at, o.created_at,
       coalesce(l.late_tasks, 0) as late_tasks,
       (o.due_at < cast($as_of as timestamp) or coalesce(l.late_tasks, 0) > 0) as late,
       p.lat, p.lon
from open_orders o
left join late_tasks l using (order_id)
left join places p using (order_id)
order by late desc, o.priority, o.due_at, o.order_id
