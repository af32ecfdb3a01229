-- One dispatch order, if the scope sees it (scoped_dispatch_orders: units of its cases, department of its tasks).
select *
from scoped_dispatch_orders($scope_level, $scope_units, $scope_dept)
where order_id = $order_id
