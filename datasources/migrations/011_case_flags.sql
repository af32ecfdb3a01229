-- The one definition of the case indicators' flags (CONTRACT §6), shared by ind_cases.sql (counts),
-- ind_cases_lineage.sql (the cases behind them) and open_cases_by_unit.sql (the map), so a rate and
-- the records listed behind it can never drift apart. Window [t0, t1), as-of = t1; unit_id is the
-- case's unit at level_index (0: city_id; by_department: its department).
create or replace macro case_flags(lvl, units, dept, pii, level_index, by_department, city_id, t0, t1) as table
with keyed as (
    select c.case_id,
           case when by_department then c.department
                when level_index = 0 then city_id
                else c.unit_ids[level_index] end as unit_id,
           c.reported_at, c.closed_at, c.due_at,
           cast(t1 as timestamp) as t1,
           coalesce(c.reported_at >= cast(t0 as timestamp) and c.reported_at < cast(t1 as timestamp), false) as reported
    from scoped_cases(lvl, units, dept, pii) c
)
select case_id, unit_id, reported_at, closed_at, due_at,
       reported,
       reported and coalesce(closed_at <= t1, false) as closed,
       reported and coalesce(closed_at <= t1 or due_at <= t1, false) as due,
       reported and coalesce(closed_at <= t1 and closed_at <= due_at, false) as closed_on_time,
       coalesce(reported_at < t1 and (closed_at is null or closed_at > t1), false) as backlog,
       coalesce(reported_at < t1 and (closed_at is null or closed_at > t1) and due_at < t1, false) as overdue
from keyed
where unit_id is not null;
