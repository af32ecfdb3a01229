-- One case's status history (visible only where the case is), oldest first.
select status, event_at
from scoped_case_events($scope_level, $scope_units, $scope_dept)
where case_id = $case_id
order by event_at, status
