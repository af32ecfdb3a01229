-- The cases a dispatch launched from an alert or a map area may link, as the scope sees them: not
-- closed, and overdue as of $as_of when $overdue_only; in unit $unit_id of level $level_index when
-- $level_index > 0; inside the box [$min_lon, $max_lon] x [$min_lat, $max_lat] when $boxed; among
-- $ids when $only_ids. Most overdue first, at most $limit.
select c.case_id
from scoped_cases($scope_level, $scope_units, $scope_dept, false) c
where c.closed_at is null
  and c.status <> 'closed'
  and (not $overdue_only or c.due_at < cast($as_of as timestamp))
  and ($level_index = 0 or (len(c.unit_ids) >= $level_index and c.unit_ids[$level_index] = $unit_id))
  and (not $boxed or (c.lon between $min_lon and $max_lon and c.lat between $min_lat and $max_lat))
  and (not $only_ids or list_contains($ids::varchar[], c.case_id))
order by c.due_at, c.case_id
limit $limit
