-- The tasks of one dispatch order (current and reassigned ones), if the scope sees the order.
select *
from scoped_dispatch_tasks($scope_level, $scope_units, $scope_dept)
where order_id = $order_id
order by task_no
