-- Air and device indicators (CONTRACT §6) per unit of one level ($level_index = 0: the city,
-- one unit $city_id with every visible device). Window W = [$start, $end), as-of = $end.
-- pm25_mean: mean of the pm25 readings in W; pm25_exceed_hours: (device, clock hour) pairs in W
-- whose mean pm25 > 75 ug/m3; device online: a reading of any metric in [as-of - 15 min, as-of).
-- Data completeness: (device, clock hour) pairs with a reading of any metric, over the whole clock
-- hours inside W, divided by devices x those hours (hourly data capture, as air-quality networks
-- count valid hours); empty when W holds no whole hour or the unit has no device.
with p as (
    select cast($start as timestamp) as t0, cast($end as timestamp) as t1,
           date_trunc('hour', cast($start as timestamp) - interval 1 microsecond) + interval 1 hour as h0,
           date_trunc('hour', cast($end as timestamp)) as h1
),
device_units as (
    select device_id,
           case when $level_index = 0 then $city_id else unit_ids[$level_index] end as unit_id
    from scoped_devices($scope_level, $scope_units)
),
-- the window's valid readings, read once for pm25 and for completeness (whole hours lie inside W)
valid as (
    select r.device_id, r.metric, r.observed_at, r.value
    from scoped_readings($scope_level, $scope_units) r, p
    where r.value is not null and r.observed_at >= p.t0 and r.observed_at < p.t1
),
pm25 as (
    select device_id, observed_at, value from valid where metric = 'pm25'
),
pm25_hours as (
    -- rounded to 1e-9: a mean of exactly 75 must not cross the threshold by the order of summation
    select device_id, date_trunc('hour', observed_at) as hour, round(avg(value), 9) as hourly_mean
    from pm25
    group by all
),
online as (
    select distinct r.device_id
    from scoped_readings($scope_level, $scope_units) r, p
    where r.observed_at >= p.t1 - interval 15 minute and r.observed_at < p.t1
),
hours_with_data as (
    select distinct v.device_id, date_trunc('hour', v.observed_at) as hour
    from valid v, p
    where v.observed_at >= p.h0 and v.observed_at < p.h1
),
completeness_by_unit as (
    select d.unit_id, count(*) as device_hours_with_data
    from hours_with_data x join device_units d using (device_id)
    group by d.unit_id
),
readings_by_unit as (
    select d.unit_id, avg(x.value) as pm25_mean, count(*) as pm25_readings
    from pm25 x join device_units d using (device_id)
    group by d.unit_id
),
exceed_by_unit as (
    select d.unit_id, count(*) filter (where h.hourly_mean > 75) as pm25_exceed_hours
    from pm25_hours h join device_units d using (device_id)
    group by d.unit_id
),
devices_by_unit as (
    select d.unit_id, count(*) as devices,
           count(*) filter (where o.device_id is not null) as devices_online
    from device_units d left join online o using (device_id)
    group by d.unit_id
),
wanted as (
    select unit_id from indicator_units($scope_level, $scope_units, '', $level_index, false, $city_id)
)
select w.unit_id,
       r.pm25_mean,
       coalesce(r.pm25_readings, 0) as pm25_readings,
       coalesce(e.pm25_exceed_hours, 0) as pm25_exceed_hours,
       coalesce(d.devices, 0) as devices,
       coalesce(d.devices_online, 0) as devices_online,
       d.devices_online / nullif(d.devices, 0) as device_online_rate,
       coalesce(c.device_hours_with_data, 0) as device_hours_with_data,
       coalesce(d.devices, 0) * greatest(date_diff('hour', p.h0, p.h1), 0) as device_hours_expected,
       coalesce(c.device_hours_with_data, 0) / nullif(coalesce(d.devices, 0) * greatest(date_diff('hour', p.h0, p.h1), 0), 0)
           as data_completeness
from wanted w cross join p
left join readings_by_unit r using (unit_id)
left join exceed_by_unit e using (unit_id)
left join devices_by_unit d using (unit_id)
left join completeness_by_unit c using (unit_id)
order by w.unit_id
