-- The cases among $ids the caller may see (reporter fields masked unless $scope_pii), newest first.
select case_id, category, status, priority, department, reported_at, due_at, closed_at, address,
       reporter_name, reporter_phone, unit_ids
from scoped_cases($scope_level, $scope_units, $scope_dept, $scope_pii)
where case_id in (select unnest($ids::varchar[]))
order by reported_at desc
