-- Open cases and overdue open cases per unit of one level, as of $as_of (CONTRACT §6 open_backlog,
-- overdue_open); units of the level inside the scope, optionally only the children of $parent.
with open_cases as (
    select unit_ids[$level_index] as unit_id,
           count(*) as open_cases,
           count(*) filter (where due_at < $as_of) as overdue_cases
    from scoped_cases($scope_level, $scope_units, $scope_dept, $scope_pii)
    where reported_at < $as_of
      and (closed_at is null or closed_at > $as_of)
      and len(unit_ids) >= $level_index
    group by all
)
select u.unit_id, u.name_zh, u.name_en, u.parent_id,
       coalesce(o.open_cases, 0) as open_cases,
       coalesce(o.overdue_cases, 0) as overdue_cases
from scoped_units($scope_level, $scope_units, $level_index) u
left join open_cases o using (unit_id)
where $parent = '' or u.parent_id = $parent
order by open_cases desc, u.unit_id
