-- History for a new order's suggestion: the departments that resolved past orders (verified or
-- closed since $since) linked to cases of the same categories as the cases $ids. One row per
-- (order, department) with the task's role.
with wanted as (
    select distinct category
    from scoped_cases($scope_level, $scope_units, $scope_dept, false)
    where list_contains($ids, case_id) and category is not null
), similar_orders as (
    select distinct oc.order_id
    from scoped_dispatch_order_cases($scope_level, $scope_units, $scope_dept) oc
    join scoped_cases($scope_level, $scope_units, $scope_dept, false) c using (case_id)
    where c.category in (select category from wanted)
), done as (
    select o.order_id
    from scoped_dispatch_orders($scope_level, $scope_units, $scope_dept) o
    where o.state in ('verified', 'closed')
      and o.updated_at >= $since
      and o.order_id in (select order_id from similar_orders)
)
select t.order_id, t.department, t.task_role
from scoped_dispatch_tasks($scope_level, $scope_units, $scope_dept) t
where t.state = 'resolved'
  and t.order_id in (select order_id from done)
order by t.order_id, t.task_no
