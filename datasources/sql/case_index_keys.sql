-- The case keys (unit path, department) of a scope, for the in-memory case index (indicators/caseindex.py).
select key_id, unit_ids, department
from scoped_case_key_paths($scope_level, $scope_units, $scope_dept)
order by key_id
