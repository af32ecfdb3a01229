-- Lineage of the case indicators: every case of one unit ($unit_id at $level_index, the city at 0,
-- a department with $by_department) with the flags ind_cases.sql counts (one definition: case_flags).
select case_id, reported, closed, due, closed_on_time, backlog, overdue
from case_flags($scope_level, $scope_units, $scope_dept, $scope_pii,
                $level_index, $by_department, $city_id, $start, $end)
where unit_id = $unit_id
order by case_id
