-- Cases still open as of $as_of (the simulator plans their closure after a restart).
select case_id, category, reported_at
from scoped_cases($scope_level, $scope_units, $scope_dept, $scope_pii)
where closed_at is null and reported_at < $as_of
