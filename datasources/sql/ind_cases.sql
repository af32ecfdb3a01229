-- Case indicators (CONTRACT §6) per unit of one level from the narrow case facts the writer keeps
-- (migration 012: the window's facts and the backlog, never every case); ind_cases_rollup.sql reads
-- the rollups instead where they serve (indicators/compute.py `_rollup_serves`).
-- Window W = [$start, $end), as-of = $end. The unit of a case at level k is unit_ids[k];
-- $level_index = 0 is the whole city (one unit, $city_id, every visible case, located or not);
-- $by_department groups by the case's department instead (the "department" level).
-- Ratios are NULL when their denominator is 0. tests/sql prove these equal the case_flags
-- definition (migration 011) that lineage lists, and an independent pandas computation.
with stats as (
    select * from case_stats($scope_level, $scope_units, $scope_dept,
                             $level_index, $by_department, $city_id, $start, $end)
),
wanted as (
    select unit_id from indicator_units($scope_level, $scope_units, $scope_dept, $level_index, $by_department, $city_id)
    union
    select unit_id from stats where $by_department
)
select w.unit_id,
       coalesce(s.cases_reported, 0) as cases_reported,
       coalesce(s.cases_closed, 0) as cases_closed,
       coalesce(s.cases_due, 0) as cases_due,
       coalesce(s.cases_closed_on_time, 0) as cases_closed_on_time,
       s.cases_closed / nullif(s.cases_due, 0) as closure_rate,
       s.cases_closed_on_time / nullif(s.cases_due, 0) as on_time_closure_rate,
       coalesce(s.open_backlog, 0) as open_backlog,
       coalesce(s.overdue_open, 0) as overdue_open,
       s.median_close_hours
from wanted w
left join stats s using (unit_id)
order by w.unit_id
