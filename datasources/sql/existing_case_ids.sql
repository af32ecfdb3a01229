-- Which of $ids are already stored (the validator treats those records as updates).
select case_id
from scoped_cases($scope_level, $scope_units, $scope_dept, $scope_pii)
where case_id in (select unnest($ids::varchar[]))
