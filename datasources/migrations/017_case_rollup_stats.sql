-- case_stats_rollup (migration 015) restated with fewer operators: same answer, same arguments.
--
-- At 10M cases the 015 version spent its time in fixed per-operator costs (eight joins of the
-- scope's keys, four aggregations) and in a join probing every closed fact of the window for the
-- median. Here every fact the rollups need corrected or completed is read once (each scan still
-- pruned by the facts' zone maps), tagged with what it adds to each count, joined to the keys once
-- and aggregated once with the rollup rows; the median's candidates are cut to the bucket range of
-- the picks before the key join. tests/sql/test_case_facts.py proves the answer equals case_flags.
--
-- What each fact adds (window W = [t0, t1), full days D = [day_ceil(t0), day_floor(t1)),
-- edge days E = W minus D; the rollups count "as of the end of time"):
--   closed, reported in E, closed by t1     reported, closed, due, on time; histogram +1
--   closed after t1, reported in D          closed -1, on time -1, due -1 unless due by t1; hist -1
--   closed after t1, reported in E          reported, due if due by t1
--   closed after t1, reported before t1     backlog at t1 (overdue if due before t1)
--   open, reported in E                     reported, due if due by t1
--   open, reported in D, due in (t1, day)   due -1 (whole due days after t1 come from case_rollup_open)
--   open, reported on t1's day before t1    backlog (overdue if due before t1)
--   open, reported earlier, due on t1's day before t1: overdue

-- reported (or due) within the whole days of [t0, t1)
create or replace macro in_full_days(t, t0, t1) as
    t >= cast(day_ceil(t0) as timestamp) and t < cast(day_floor(t1) as timestamp);

create or replace macro case_stats_rollup(lvl, units, li, t0, t1) as table
with k as (
    select * from rollup_keys(lvl, units, li) where unit_id is not null
),
visible as (
    select unit_id from scoped_units(lvl, units, li) where li > 0
),
closed_in_edges as (
    select f.key_id, f.reported_at, f.closed_at, f.due_at, f.bucket from case_facts_closed f
    where f.reported_at >= cast(t0 as timestamp) and f.reported_at < least(cast(day_ceil(t0) as timestamp), cast(t1 as timestamp))
      and f.closed_at <= cast(t1 as timestamp)
    union all
    select f.key_id, f.reported_at, f.closed_at, f.due_at, f.bucket from case_facts_closed f
    where f.reported_at >= greatest(cast(day_ceil(t0) as timestamp), cast(day_floor(t1) as timestamp))
      and f.reported_at < cast(t1 as timestamp) and f.closed_at <= cast(t1 as timestamp)
),
open_in_edges as (
    select f.key_id, f.due_at from case_facts_open f
    where f.reported_at >= cast(t0 as timestamp) and f.reported_at < least(cast(day_ceil(t0) as timestamp), cast(t1 as timestamp))
    union all
    select f.key_id, f.due_at from case_facts_open f
    where f.reported_at >= greatest(cast(day_ceil(t0) as timestamp), cast(day_floor(t1) as timestamp)) and f.reported_at < cast(t1 as timestamp)
),
fact_parts as (
    select key_id, 1 as reported, 1 as closed, coalesce(closed_at <= due_at, false)::int as on_time, 1 as due,
           0 as backlog, 0 as overdue, bucket, 1 as hist
    from closed_in_edges
    union all
    select f.key_id,
           (f.reported_at >= cast(t0 as timestamp) and not in_full_days(f.reported_at, t0, t1))::int,
           -(in_full_days(f.reported_at, t0, t1))::int,
           -(in_full_days(f.reported_at, t0, t1) and coalesce(f.closed_at <= f.due_at, false))::int,
           case when in_full_days(f.reported_at, t0, t1)
                then -(f.due_at is null or f.due_at > cast(t1 as timestamp))::int
                when f.reported_at >= cast(t0 as timestamp) then coalesce(f.due_at <= cast(t1 as timestamp), false)::int
                else 0 end,
           1, coalesce(f.due_at < cast(t1 as timestamp), false)::int,
           f.bucket, -(in_full_days(f.reported_at, t0, t1))::int
    from case_facts_closed f
    where f.closed_at > cast(t1 as timestamp) and f.reported_at < cast(t1 as timestamp)
    union all
    select key_id, 1, 0, 0, coalesce(due_at <= cast(t1 as timestamp), false)::int, 0, 0, null, 0
    from open_in_edges
    union all
    select f.key_id, 0, 0, 0, -1, 0, 0, null, 0 from case_facts_open f
    where f.due_at > cast(t1 as timestamp) and f.due_at < cast(day_floor(t1) as timestamp) + interval 1 day
      and in_full_days(f.reported_at, t0, t1)
    union all
    select f.key_id, 0, 0, 0, 0, 1, coalesce(f.due_at < cast(t1 as timestamp), false)::int, null, 0 from case_facts_open f
    where f.reported_at >= cast(day_floor(t1) as timestamp) and f.reported_at < cast(t1 as timestamp)
    union all
    select f.key_id, 0, 0, 0, 0, 0, 1, null, 0 from case_facts_open f
    where f.reported_at < cast(day_floor(t1) as timestamp)
      and f.due_at >= cast(day_floor(t1) as timestamp) and f.due_at < cast(t1 as timestamp)
),
placed as (
    select k.unit_id, p.* exclude (key_id) from fact_parts p join k using (key_id)
),
totals as (
    select unit_id, sum(reported)::bigint as cases_reported, sum(closed)::bigint as cases_closed,
           sum(due)::bigint as cases_due, sum(on_time)::bigint as cases_closed_on_time,
           sum(backlog)::bigint as open_backlog, sum(overdue)::bigint as overdue_open
    from (
        select unit_id, reported, closed, closed_on_time as on_time, due, 0 as backlog, 0 as overdue
        from case_rollup
        where level_index = li and day >= day_ceil(t0) and day < day_floor(t1)
          and (lvl = 0 or unit_id in (select unit_id from visible))
        union all
        -- open now, reported before t1's day: the backlog; whole due days after t1 are not due in W
        select unit_id, 0, 0, 0,
               -(due_day > day_floor(t1) and due_day < 'infinity'::date and day >= day_ceil(t0))::int * n,
               n, (due_day < day_floor(t1))::int * n
        from case_rollup_open
        where level_index = li and day < day_floor(t1)
          and (lvl = 0 or unit_id in (select unit_id from visible))
        union all
        select unit_id, reported, closed, on_time, due, backlog, overdue from placed
    )
    group by unit_id
),
hist as (
    select unit_id, bucket, sum(n)::bigint as n from (
        select unit_id, bucket, n from case_rollup_hist
        where level_index = li and day >= day_ceil(t0) and day < day_floor(t1)
          and (lvl = 0 or unit_id in (select unit_id from visible))
        union all
        select unit_id, bucket, hist from placed where hist <> 0
    ) group by unit_id, bucket
    having sum(n) <> 0
),
cumulative as (
    select unit_id, bucket, n, sum(n) over (partition by unit_id order by bucket) as upto from hist
),
-- ranks of the middle value(s) among each unit's closed cases, and the bucket each lies in
ranks as (
    select unit_id, unnest([(cases_closed + 1) // 2, cases_closed // 2 + 1]) as r
    from totals where cases_closed > 0
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
      and f.bucket >= (select min(bucket) from picks) and f.bucket <= (select max(bucket) from picks)
),
-- each (unit, bucket)'s candidates sorted, to pick the middle ranks from
ordered as (
    select unit_id, bucket, list_sort(list(hours)) as hours from candidates group by unit_id, bucket
),
medians as (
    select p.unit_id, avg(o.hours[cast(p.rank_in_bucket as bigint)]) as median_close_hours
    from picks p join ordered o using (unit_id, bucket)
    group by p.unit_id
)
select unit_id, cases_reported, cases_closed, cases_due, cases_closed_on_time, open_backlog, overdue_open,
       m.median_close_hours
from totals t
left join medians m using (unit_id);

