-- Stored cases in no unit of the city's first level, as the ingest summary counts new ones:
-- "outside" (coordinates, but in no unit: a boundary gap, a wrong CRS, a point far away) and
-- "unlocated" (no usable place: neither coordinates nor a unit), all and still open (not closed).
-- A scope below the city sees none (its cases are those in its units).
select count(*) filter (where lat is not null) as outside_cases,
       count(*) filter (where lat is not null and closed_at is null) as outside_open,
       count(*) filter (where lat is null) as unlocated_cases,
       count(*) filter (where lat is null and closed_at is null) as unlocated_open
from scoped_cases($scope_level, $scope_units, $scope_dept, $scope_pii)
where unit_ids[1] is null
