-- The case facts of a scope that windows starting at or after $horizon count (reported or closed
-- since then, or open), for the in-memory case index (indicators/caseindex.py).
select key_id, reported_us, closed_us, due_us
from scoped_case_fact_times($scope_level, $scope_units, $scope_dept, $horizon)
