-- Located cases reported in [$start, $end) in the caller's scope: the points behind the overview's
-- case hexbin / heat layer (aggregated to H3 cells in indicators/layers.py, never sent raw).
select c.lat, c.lon
from scoped_cases($scope_level, $scope_units, $scope_dept, $scope_pii) c
where c.reported_at >= cast($start as timestamp) and c.reported_at < cast($end as timestamp)
  and c.lat is not null and c.lon is not null
