-- The units a case indicator answers for at one level in the caller's scope (migration 016), for
-- the in-memory case index (indicators/caseindex.py), which fills in their numbers.
select unit_id
from indicator_units($scope_level, $scope_units, $scope_dept, $level_index, $by_department, $city_id)
order by unit_id
