-- Lineage of the case indicators: every case of one unit ($unit_id at $level_index, the city at 0,
-- a department with $by_department) with the flags ind_cases.sql counts (same definitions).
with p as (
    select cast($start as timestamp) as t0, cast($end as timestamp) as t1
),
keyed as (
    select c.case_id,
           case when $by_department then c.department
                when $level_index = 0 then $city_id
                else c.unit_ids[$level_index] end as unit_id,
           c.reported_at, c.closed_at, c.due_at, p.t1,
           coalesce(c.reported_at >= p.t0 and c.reported_at < p.t1, false) as reported
    from scoped_cases($scope_level, $scope_units, $scope_dept, $scope_pii) c, p
)
select case_id,
       reported,
       reported and coalesce(closed_at <= t1, false) as closed,
       reported and coalesce(closed_at <= t1 or due_at <= t1, false) as due,
       reported and coalesce(closed_at <= t1 and closed_at <= due_at, false) as closed_on_time,
       coalesce(reported_at < t1 and (closed_at is null or closed_at > t1), false) as backlog,
       coalesce(reported_at < t1 and (closed_at is null or closed_at > t1) and due_at < t1, false) as overdue
from keyed
where unit_id = $unit_id
order by case_id
