-- Open cases and overdue open cases per unit of one level, as of $as_of (open_backlog and
-- overdue_open of the indicator catalog, through the shared case_flags definition); units of the
-- level inside the scope, optionally only the children of $parent.
with open_cases as (
    select unit_id,
           count(*) filter (where backlog) as open_cases,
           count(*) filter (where overdue) as overdue_cases
    from case_flags($scope_level, $scope_units, $scope_dept, $scope_pii, $level_index, false, '', $as_of, $as_of)
    where backlog
    group by unit_id
)
select u.unit_id, u.name_zh, u.name_en, u.parent_id,
       coalesce(o.open_cases, 0) as open_cases,
       coalesce(o.overdue_cases, 0) as overdue_cases
from scoped_units($scope_level, $scope_units, $level_index) u
left join open_cases o using (unit_id)
where $parent = '' or u.parent_id = $parent
order by open_cases desc, u.unit_id
