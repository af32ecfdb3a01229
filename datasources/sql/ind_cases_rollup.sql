-- Case indicators (CONTRACT §6) per unit of one level from the incremental rollups (migrations 015, 017:
-- per-day tables, corrected by the facts that changed after as-of and completed by the partial days
-- at the ends). indicators/compute.py picks this file or ind_cases.sql (the narrow case facts,
-- migration 012) by `_rollup_serves`; both end in the same unit list and ratios, and tests/sql prove
-- both equal the case_flags definition (migration 011) that lineage lists.
-- Window W = [$start, $end), as-of = $end; $level_index = 0 is the whole city ($city_id);
-- $by_department groups by the case's department. Ratios are NULL when their denominator is 0.
with stats as (
    select * replace (case when unit_id = '' then $city_id else unit_id end as unit_id)
    from case_stats_rollup($scope_level, $scope_units, case when $by_department then -1 else $level_index end,
                           $start, $end)
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
