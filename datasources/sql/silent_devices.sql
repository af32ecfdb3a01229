-- Devices in the scope with no reading (any metric) in [$as_of - $silent_minutes, $as_of): the
-- "silent devices" of the wall's alert ticker. last_reading_at is null for a device never heard.
with recent as (
    select r.device_id, max(r.observed_at) as last_reading_at
    from scoped_readings($scope_level, $scope_units) r
    where r.observed_at < $as_of
    group by r.device_id
)
select d.device_id, d.name, d.kind, d.unit_ids, x.last_reading_at
from scoped_devices($scope_level, $scope_units) d
left join recent x using (device_id)
where coalesce(d.outside_city, false) = false
  and (x.last_reading_at is null
       or x.last_reading_at < cast($as_of as timestamp) - to_minutes(cast($silent_minutes as bigint)))
order by x.last_reading_at nulls first, d.device_id
