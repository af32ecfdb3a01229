-- The history of one dispatch order, if the scope sees it.
select version, at_utc, actor, role, action, department, from_state, to_state, order_from, order_to, note
from scoped_dispatch_events($scope_level, $scope_units, $scope_dept)
where order_id = $order_id
order by version, at_utc
