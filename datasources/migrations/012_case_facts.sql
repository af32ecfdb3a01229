-- Narrow case facts, maintained by the writer as batches land (Store._case_facts), so the case
-- indicators read a few narrow columns of the window's cases and of the open backlog instead of
-- every column of every case (issue 4: 10M cases, a 30-day drill in milliseconds).
--
--   case_keys          one row per (unit path, department) seen: small (units x departments)
--   case_facts_open    open cases (closed_at null): the backlog, small
--   case_facts_closed  closed cases, appended as they close: physically ordered by close time
--                      (and so, roughly, by report time), so DuckDB's zone maps skip old row groups
--                      for "reported in the last 30 days" and "closed after as-of"
--
-- The facts hold exact timestamps, so medians and every CONTRACT §6 flag stay exact for any window
-- and any as-of; case_stats() below is the one place computing them. Lineage (the case ids behind a
-- number) still reads case_flags (migration 011) over the full cases; a test proves both agree.

create table if not exists case_keys (
    key_id     integer primary key,
    unit_ids   varchar[],
    department varchar
);

create table if not exists case_facts_open (
    case_id     varchar not null,
    key_id      integer not null,
    reported_at timestamp not null,
    due_at      timestamp
);

create table if not exists case_facts_closed (
    case_id     varchar not null,
    key_id      integer not null,
    reported_at timestamp not null,
    closed_at   timestamp not null,
    due_at      timestamp
);

-- Cases stored before this migration are backfilled by Store.migrate (Store.rebuild_case_facts).

-- The keys a scope may read, with the unit each counts in at the level asked (NULL: not located
-- at that level, left out). Same scope rule as scoped_cases (migration 002).
create or replace macro scoped_case_keys(lvl, units, dept, level_index, by_department, city_id) as table
select key_id,
       case when by_department then department
            when level_index = 0 then city_id
            else unit_ids[level_index] end as unit_id
from case_keys
where (lvl = 0 or list_contains(units, unit_ids[lvl]))
  and (dept = '' or department = dept);

-- CONTRACT §6 case indicators per unit for window [t0, t1), as-of = t1, from the facts:
--   reported in W (both fact tables, zone-map pruned by reported_at) and
--   the backlog at t1 (open cases reported before t1, plus cases closed after t1).
create or replace macro case_stats(lvl, units, dept, level_index, by_department, city_id, t0, t1) as table
with k as (
    select * from scoped_case_keys(lvl, units, dept, level_index, by_department, city_id)
    where unit_id is not null
),
win as (
    select key_id, reported_at, closed_at, due_at from case_facts_closed
    where reported_at >= cast(t0 as timestamp) and reported_at < cast(t1 as timestamp)
    union all
    select key_id, reported_at, null::timestamp, due_at from case_facts_open
    where reported_at >= cast(t0 as timestamp) and reported_at < cast(t1 as timestamp)
),
reported as (
    select k.unit_id,
           count(*) as cases_reported,
           count(*) filter (where closed_at <= cast(t1 as timestamp)) as cases_closed,
           count(*) filter (where closed_at <= cast(t1 as timestamp) or due_at <= cast(t1 as timestamp)) as cases_due,
           count(*) filter (where closed_at <= cast(t1 as timestamp) and closed_at <= due_at) as cases_closed_on_time,
           median(cast(date_diff('microsecond', reported_at, closed_at) as double) / 3600e6)
               filter (where closed_at <= cast(t1 as timestamp)) as median_close_hours
    from win join k using (key_id)
    group by k.unit_id
),
backlog_facts as (
    select key_id, due_at from case_facts_open
    where reported_at < cast(t1 as timestamp)
    union all
    select key_id, due_at from case_facts_closed
    where closed_at > cast(t1 as timestamp) and reported_at < cast(t1 as timestamp)
),
backlog as (
    select k.unit_id,
           count(*) as open_backlog,
           count(*) filter (where due_at < cast(t1 as timestamp)) as overdue_open
    from backlog_facts join k using (key_id)
    group by k.unit_id
)
select unit_id,
       coalesce(r.cases_reported, 0) as cases_reported,
       coalesce(r.cases_closed, 0) as cases_closed,
       coalesce(r.cases_due, 0) as cases_due,
       coalesce(r.cases_closed_on_time, 0) as cases_closed_on_time,
       coalesce(b.open_backlog, 0) as open_backlog,
       coalesce(b.overdue_open, 0) as overdue_open,
       r.median_close_hours
from reported r full join backlog b using (unit_id);
