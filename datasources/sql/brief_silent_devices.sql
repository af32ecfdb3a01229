-- Briefings: devices in the scope with no reading of any metric in [$as_of - 15 min, $as_of)
-- (CONTRACT §6 device online), with their last reading before as-of (null: never), at most $limit,
-- longest silent first. unit_id is the device's unit at $level_index (0: none).
with last_seen as (
    select r.device_id, max(r.observed_at) as last_seen
    from scoped_readings($scope_level, $scope_units) r
    where r.observed_at < $as_of
    group by r.device_id
)
select d.device_id, d.kind, d.name,
       case when $level_index > 0 and len(d.unit_ids) >= $level_index then d.unit_ids[$level_index] end as unit_id,
       l.last_seen
from scoped_devices($scope_level, $scope_units) d
left join last_seen l using (device_id)
where l.last_seen is null or l.last_seen < cast($as_of as timestamp) - interval 15 minute
order by l.last_seen nulls first, d.device_id
limit $limit
