-- Ids of dispatch orders still open (not verified, closed or cancelled) in the scope: escalation candidates.
select order_id
from scoped_dispatch_orders($scope_level, $scope_units, $scope_dept)
where state not in ('verified', 'closed', 'cancelled')
order by created_at
