-- The cases linked to one dispatch order, with their unit paths, if the scope sees the order.
select case_id, unit_ids
from scoped_dispatch_order_cases($scope_level, $scope_units, $scope_dept)
where order_id = $order_id
order by case_id
