-- Devices in the scope with a position and their newest reading before $as_of; silent = no
-- reading in the last $silent_minutes (the same rule as silent_devices.sql), never heard included.
with recent as (
    select r.device_id, max(r.observed_at) as last_reading_at
    from scoped_readings($scope_level, $scope_units) r
    where r.observed_at < $as_of
    group by r.device_id
)
select d.device_id, d.name, d.kind, d.lat, d.lon, x.last_reading_at,
       (x.last_reading_at is null
        or x.last_reading_at < cast($as_of as timestamp) - to_minutes(cast($silent_minutes as bigint))) as silent
from scoped_devices($scope_level, $scope_units) d
left join recent x using (device_id)
where coalesce(d.outside_city, false) = false and d.lat is not null and d.lon is not null
order by d.device_id
