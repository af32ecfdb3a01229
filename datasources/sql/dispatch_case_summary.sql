-- The cases a dispatch form is about (those the scope sees among $ids): category with its rules,
-- priority, due time and unit path.
select c.case_id, c.category, c.priority, c.status, c.due_at, c.unit_ids, c.address,
       g.name_zh as category_zh, g.name_en as category_en, g.lead_department, g.assist_departments,
       g.time_limit_hours, g.calendar
from scoped_cases($scope_level, $scope_units, $scope_dept, false) c
left join categories g on g.category_id = c.category
where list_contains($ids, c.case_id)
order by c.case_id
