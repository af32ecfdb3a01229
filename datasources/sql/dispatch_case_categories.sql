-- Cases to link to a new dispatch order, or to suggest one for (those the scope sees among $ids),
-- with their priority and their category's departments and time limit.
select c.case_id, c.status, c.priority, c.unit_ids, c.category, g.lead_department, g.assist_departments,
       g.time_limit_hours, g.calendar
from scoped_cases($scope_level, $scope_units, $scope_dept, false) c
left join categories g on g.category_id = c.category
where list_contains($ids, c.case_id)
order by c.case_id
