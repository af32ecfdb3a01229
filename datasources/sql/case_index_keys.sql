-- The case keys (unit path, department) of a scope with ids after $after, for the in-memory case
-- index (indicators/caseindex.py): all of them at build, the new ones as batches add them.
select key_id, unit_ids, department
from scoped_case_key_paths($scope_level, $scope_units, $scope_dept)
where key_id > $after
order by key_id
