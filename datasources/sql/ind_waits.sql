-- Service-hall waits (CONTRACT §6) per unit of one level ($level_index = 0: the city, one unit
-- $city_id with every visible hall). Window W = [$start, $end).
-- One wait observation per transaction ticketed in W and called (called_at - ticket_at, minutes)
-- and one per hall snapshot observed in W with a posted wait (wait_minutes); mean and p95
-- (linear interpolation) are taken over all observations of the unit's halls together.
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
       b.wait_p95_minutes
from wanted w
left join by_unit b using (unit_id)
order by w.unit_id
