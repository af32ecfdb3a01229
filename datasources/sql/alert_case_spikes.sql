-- Cases reported per unit of level $level_index in the last hour before $as_of, and in the same
-- hour of the week in each of the 4 weeks before (the baseline of the spike rule); the ids of the
-- last hour's cases (the alert's evidence, what a dispatch from it links).
with windows as (
    select w, cast($as_of as timestamp) - to_weeks(w) as win_end from range(0, 5) t(w)
),
counts as (
    select c.unit_ids[$level_index] as unit_id, w.w, count(*) as n, list(c.case_id order by c.case_id) as ids
    from scoped_cases($scope_level, $scope_units, $scope_dept, $scope_pii) c
    join windows w on c.reported_at >= w.win_end - interval 1 hour and c.reported_at < w.win_end
    where len(c.unit_ids) >= $level_index
    group by all
)
select u.unit_id, u.name_zh, u.name_en, u.path,
       coalesce(max(n) filter (where w = 0), 0) as last_hour,
       coalesce(max(n) filter (where w = 1), 0) as week_1,
       coalesce(max(n) filter (where w = 2), 0) as week_2,
       coalesce(max(n) filter (where w = 3), 0) as week_3,
       coalesce(max(n) filter (where w = 4), 0) as week_4,
       coalesce(first(ids) filter (where w = 0), []::varchar[]) as last_hour_case_ids
from scoped_units($scope_level, $scope_units, $level_index) u
left join counts using (unit_id)
group by u.unit_id, u.name_zh, u.name_en, u.path
