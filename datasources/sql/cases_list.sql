-- Cases visible to the caller, optionally in one unit and with a status filter, newest first,
-- keyset-paginated by (reported_at, case_id). Reporter fields come masked unless $scope_pii.
select case_id, source, category, description, reported_at, lat, lon, address, priority, department,
       due_at, status, closed_at, satisfaction, reporter_name, reporter_phone, unit_ids
from scoped_cases($scope_level, $scope_units, $scope_dept, $scope_pii)
where ($unit_level = 0 or (len(unit_ids) >= $unit_level and unit_ids[$unit_level] = $unit_id))
  and ($status = ''
       or ($status = 'open' and status <> 'closed')
       or status = $status)
  and ($after_reported is null
       or reported_at < $after_reported
       or (reported_at = $after_reported and case_id < $after_id))
order by reported_at desc, case_id desc
limit $limit
