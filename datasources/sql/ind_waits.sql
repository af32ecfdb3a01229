-- Service-hall waits (CONTRACT §6) per unit of one level ($level_index = 0: the city, one unit
-- $city_id with every visible hall). Window W = [$start, $end).
-- One wait observation per transaction ticketed in W and called (called_at - ticket_at, minutes)
-- and one per hall snapshot observed in W with a posted wait (wait_minutes); mean and p95
-- (linear interpolation) are taken over all observations of the unit's halls together.
-- On-time processing (service_on_time_rate): of the transactions ticketed in W whose service has a
-- standard time (services, from the pack's services.csv), those called by as-of that are done by
-- as-of or already past the standard then fall due; on time = done by as-of within the standard
-- of called_at. Transactions of services without a standard are not judged.
with p as (
    select cast($start as timestamp) as t0, cast($end as timestamp) as t1
),
hall_units as (
    select hall_id,
           case when $level_index = 0 then $city_id else unit_ids[$level_index] end as unit_id
    from scoped_halls($scope_level, $scope_units)
),
waits as (
    select t.hall_id, date_diff('microsecond', t.ticket_at, t.called_at) / 60e6 as wait_minutes
    from scoped_service_transactions($scope_level, $scope_units) t, p
    where t.called_at is not null and t.ticket_at >= p.t0 and t.ticket_at < p.t1
    union all
    select s.hall_id, s.wait_minutes
    from scoped_hall_snapshots($scope_level, $scope_units) s, p
    where s.wait_minutes is not null and s.observed_at >= p.t0 and s.observed_at < p.t1
),
processing as (
    select t.hall_id,
           coalesce(t.done_at <= p.t1, false) as done,
           t.called_at + to_microseconds(cast(s.time_limit_minutes * 60e6 as bigint)) as limit_at,
           t.done_at
    from scoped_service_transactions($scope_level, $scope_units) t
    join services s using (service_code), p
    where t.ticket_at >= p.t0 and t.ticket_at < p.t1 and t.called_at <= p.t1
),
on_time_by_unit as (
    select h.unit_id,
           count(*) filter (where x.done or x.limit_at <= p.t1) as services_due,
           count(*) filter (where x.done and x.done_at <= x.limit_at) as services_on_time
    from processing x join hall_units h using (hall_id), p
    group by h.unit_id
),
by_unit as (
    select h.unit_id, count(*) as wait_observations, avg(w.wait_minutes) as wait_mean_minutes,
           quantile_cont(w.wait_minutes, 0.95) as wait_p95_minutes
    from waits w join hall_units h using (hall_id)
    group by h.unit_id
),
wanted as (
    select unit_id from indicator_units($scope_level, $scope_units, '', $level_index, false, $city_id)
)
select w.unit_id,
       coalesce(b.wait_observations, 0) as wait_observations,
       b.wait_mean_minutes,
       b.wait_p95_minutes,
       coalesce(o.services_due, 0) as services_due,
       coalesce(o.services_on_time, 0) as services_on_time,
       o.services_on_time / nullif(o.services_due, 0) as service_on_time_rate
from wanted w
left join by_unit b using (unit_id)
left join on_time_by_unit o using (unit_id)
order by w.unit_id
