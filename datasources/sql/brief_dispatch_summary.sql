-- Joint dispatch summary for a brief: orders launched in W = [$start, $end) in the scope, how many
-- were closed (verified or closed) by $end and how many were late (done after their due time, or
-- not done and past due at $end, cancellations aside). One row with department = '' for the orders
-- as a whole, then one per department counting its tasks (reassigned-away tasks left out: the task
-- that replaced them counts). Task states are the current ones; times decide as-of.
with o as (
    select order_id, due_at,
           case when verified_at is null then closed_at
                when closed_at is null then verified_at
                else least(verified_at, closed_at) end as done_at,
           cancelled_at
    from scoped_dispatch_orders($scope_level, $scope_units, $scope_dept)
    where created_at >= cast($start as timestamp) and created_at < cast($end as timestamp)
),
t as (
    select t.department, t.order_id, t.due_at, t.resolved_at, t.state
    from scoped_dispatch_tasks($scope_level, $scope_units, $scope_dept) t
    join o using (order_id)
    where t.state <> 'reassigned'
)
select '' as department,
       count(*) as launched,
       count(*) filter (where done_at <= cast($end as timestamp)) as closed,
       count(*) filter (where coalesce(cancelled_at > cast($end as timestamp), true)
                          and (coalesce(done_at <= cast($end as timestamp) and done_at > due_at, false)
                               or (coalesce(done_at > cast($end as timestamp), true) and due_at < cast($end as timestamp))))
           as late
from o
union all
select department,
       count(*) as launched,
       count(*) filter (where resolved_at <= cast($end as timestamp)) as closed,
       count(*) filter (where state <> 'cancelled'
                          and (coalesce(resolved_at <= cast($end as timestamp) and resolved_at > due_at, false)
                               or (coalesce(resolved_at > cast($end as timestamp), true) and due_at < cast($end as timestamp))))
           as late
from t
group by department
order by department
