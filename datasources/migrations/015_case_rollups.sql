-- Incremental rollups of the case indicators, maintained by the writer with the case facts
-- (Store._case_facts adds each batch's delta: -1 for a case's old values, +1 for its new ones).
--
-- level_index: 0 the whole city (unit_id ''), k a level of the city pack (unit_ids[k]),
-- -1 the department level (unit_id = department). day = the UTC date of reported_at.
--
--   case_rollup       per unit and report day: reported, and "as of the end of time" closed,
--                     closed on time, due (closed or with a due date)
--   case_rollup_hist  per unit, report day and close-time bucket (log scale, monotonic): closed cases;
--                     the median is found in the histogram, then resolved exactly from the few facts
--                     in its bucket (close_bucket below)
--   case_rollup_open  open cases per unit, report day and due day: the backlog and the overdue
--
-- case_stats_rollup() answers any window [t0, t1) exactly: the whole days inside it from the rollups,
-- corrected by the facts that changed after t1 (closed after t1, due after t1), plus the partial
-- days at both ends from the facts. Scopes limited to a department, or coarser than the level asked,
-- use case_stats (migration 012) instead (indicators/compute.py decides).

create table if not exists case_rollup (
    level_index    integer not null,
    unit_id        varchar not null,
    day            date not null,
    reported       bigint not null,
    closed         bigint not null,
    closed_on_time bigint not null,
    due            bigint not null,
    primary key (level_index, unit_id, day)
);

create table if not exists case_rollup_hist (
    level_index integer not null,
    unit_id     varchar not null,
    day         date not null,
    bucket      integer not null,
    n           bigint not null,
    primary key (level_index, unit_id, day, bucket)
);

create table if not exists case_rollup_open (
    level_index integer not null,
    unit_id     varchar not null,
    day         date not null,
    due_day     date not null,  -- 'infinity' when the case has no due date
    n           bigint not null,
    primary key (level_index, unit_id, day, due_day)
);

-- Close-time bucket: 8 per doubling of seconds (about 9 % wide); non-decreasing in the duration.
create or replace macro close_bucket(reported_at, closed_at) as
    cast(floor(log2(greatest(date_diff('microsecond', reported_at, closed_at), 0) / 1e6 + 1) * 8) as integer);

-- Each closed fact carries its bucket, so the median's bucket is found by a join, not computed per row.
alter table case_facts_closed add column if not exists bucket integer;

create or replace macro day_ceil(t) as
    case when date_trunc('day', cast(t as timestamp)) = cast(t as timestamp) then cast(cast(t as timestamp) as date)
         else cast(cast(t as timestamp) as date) + 1 end;

create or replace macro day_floor(t) as cast(cast(t as timestamp) as date);

-- The facts of a scope mapped to the unit they count in at level li (see case_rollup).
create or replace macro rollup_keys(lvl, units, li) as table
select key_id,
       case when li = -1 then department when li = 0 then '' else unit_ids[li] end as unit_id
from case_keys
where lvl = 0 or list_contains(units, unit_ids[lvl]);

create or replace macro case_stats_rollup(lvl, units, li, t0, t1) as table
with k as (
    select * from rollup_keys(lvl, units, li) where unit_id is not null
),
visible as (
    select unit_id from scoped_units(lvl, units, li) where li > 0
),
full_days as (
    select unit_id, reported, closed, closed_on_time, due
    from case_rollup
    where level_index = li and day >= day_ceil(t0) and day < day_floor(t1)
      and (lvl = 0 or unit_id in (select unit_id from visible))
),
-- facts reported in the partial days at both ends of the window
edge_facts as (
    select key_id, reported_at, closed_at, due_at from case_facts_closed
    where reported_at >= cast(t0 as timestamp) and reported_at < least(cast(day_ceil(t0) as timestamp), cast(t1 as timestamp))
    union all
    select key_id, reported_at, null::timestamp, due_at from case_facts_open
    where reported_at >= cast(t0 as timestamp) and reported_at < least(cast(day_ceil(t0) as timestamp), cast(t1 as timestamp))
    union all
    select key_id, reported_at, closed_at, due_at from case_facts_closed
    where reported_at >= cast(greatest(day_ceil(t0), day_floor(t1)) as timestamp) and reported_at < cast(t1 as timestamp)
    union all
    select key_id, reported_at, null::timestamp, due_at from case_facts_open
    where reported_at >= cast(greatest(day_ceil(t0), day_floor(t1)) as timestamp) and reported_at < cast(t1 as timestamp)
),
-- full-day cases the rollup counts as closed (or due) that were not yet at t1
late as (
    select key_id, reported_at, closed_at, due_at from case_facts_closed
    where closed_at > cast(t1 as timestamp)
      and reported_at >= cast(day_ceil(t0) as timestamp) and reported_at < cast(day_floor(t1) as timestamp)
),
not_due as (
    select key_id from case_facts_open
    where due_at > cast(t1 as timestamp)
      and reported_at >= cast(day_ceil(t0) as timestamp) and reported_at < cast(day_floor(t1) as timestamp)
),
parts as (
    select unit_id, reported, closed, closed_on_time, due from full_days
    union all
    select k.unit_id, 1,
           (closed_at <= cast(t1 as timestamp))::int,
           coalesce(closed_at <= cast(t1 as timestamp) and closed_at <= due_at, false)::int,
           coalesce(closed_at <= cast(t1 as timestamp) or due_at <= cast(t1 as timestamp), false)::int
    from edge_facts join k using (key_id)
    union all
    select k.unit_id, 0, -1, -coalesce(closed_at <= due_at, false)::int,
           -(due_at is null or due_at > cast(t1 as timestamp))::int
    from late join k using (key_id)
    union all
    select k.unit_id, 0, 0, 0, -1 from not_due join k using (key_id)
),
counts as (
    select unit_id, sum(reported)::bigint as cases_reported, sum(closed)::bigint as cases_closed,
           sum(due)::bigint as cases_due, sum(closed_on_time)::bigint as cases_closed_on_time
    from parts group by unit_id
),
hist as (
    select unit_id, bucket, sum(n)::bigint as n from (
        select unit_id, bucket, n from case_rollup_hist
        where level_index = li and day >= day_ceil(t0) and day < day_floor(t1)
          and (lvl = 0 or unit_id in (select unit_id from visible))
        union all
        select k.unit_id, close_bucket(reported_at, closed_at), 1
        from edge_facts join k using (key_id) where closed_at <= cast(t1 as timestamp)
        union all
        select k.unit_id, close_bucket(reported_at, closed_at), -1 from late join k using (key_id)
    ) group by unit_id, bucket
    having sum(n) <> 0
),
cumulative as (
    select unit_id, bucket, n, sum(n) over (partition by unit_id order by bucket) as upto from hist
),
-- ranks of the middle value(s) among each unit's closed cases, and the bucket each lies in
ranks as (
    select unit_id, unnest([(cases_closed + 1) // 2, cases_closed // 2 + 1]) as r
    from counts where cases_closed > 0
),
picks as (
    select r.unit_id, r.r, c.bucket, r.r - (c.upto - c.n) as rank_in_bucket
    from ranks r join cumulative c on c.unit_id = r.unit_id and c.upto - c.n < r.r and c.upto >= r.r
),
candidates as (
    select k.unit_id, f.bucket,
           cast(date_diff('microsecond', f.reported_at, f.closed_at) as double) / 3600e6 as hours
    from case_facts_closed f
    join k using (key_id)
    join (select distinct unit_id, bucket from picks) p on p.unit_id = k.unit_id and p.bucket = f.bucket
    where f.reported_at >= cast(t0 as timestamp) and f.reported_at < cast(t1 as timestamp)
      and f.closed_at <= cast(t1 as timestamp)
),
ordered as (
    select unit_id, bucket, hours, row_number() over (partition by unit_id, bucket order by hours) as rank_in_bucket
    from candidates
),
medians as (
    select p.unit_id, avg(o.hours) as median_close_hours
    from picks p join ordered o using (unit_id, bucket, rank_in_bucket)
    group by p.unit_id
),
open_full as (
    select unit_id,
           sum(n)::bigint as open_backlog,
           coalesce(sum(n) filter (where due_day < day_floor(t1)), 0)::bigint as overdue_open
    from case_rollup_open
    where level_index = li and day < day_floor(t1)
      and (lvl = 0 or unit_id in (select unit_id from visible))
    group by unit_id
),
open_edges as (
    -- open, reported on the last partial day before t1
    select k.unit_id, 1 as backlog, coalesce(due_at < cast(t1 as timestamp), false)::int as overdue
    from case_facts_open f join k using (key_id)
    where reported_at >= cast(day_floor(t1) as timestamp) and reported_at < cast(t1 as timestamp)
    union all
    -- open, reported earlier, falling due on the last partial day before t1
    select k.unit_id, 0, 1
    from case_facts_open f join k using (key_id)
    where reported_at < cast(day_floor(t1) as timestamp)
      and due_at >= cast(day_floor(t1) as timestamp) and due_at < cast(t1 as timestamp)
    union all
    -- closed after t1: still open then
    select k.unit_id, 1, coalesce(due_at < cast(t1 as timestamp), false)::int
    from case_facts_closed f join k using (key_id)
    where closed_at > cast(t1 as timestamp) and reported_at < cast(t1 as timestamp)
),
backlog as (
    select unit_id, sum(open_backlog)::bigint as open_backlog, sum(overdue_open)::bigint as overdue_open from (
        select unit_id, open_backlog, overdue_open from open_full
        union all
        select unit_id, backlog, overdue from open_edges
    ) group by unit_id
)
select unit_id,
       coalesce(c.cases_reported, 0) as cases_reported,
       coalesce(c.cases_closed, 0) as cases_closed,
       coalesce(c.cases_due, 0) as cases_due,
       coalesce(c.cases_closed_on_time, 0) as cases_closed_on_time,
       coalesce(b.open_backlog, 0) as open_backlog,
       coalesce(b.overdue_open, 0) as overdue_open,
       m.median_close_hours
from counts c
full join backlog b using (unit_id)
left join medians m using (unit_id);
