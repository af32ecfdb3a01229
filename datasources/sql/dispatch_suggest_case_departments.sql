-- History for a new order's suggestion: which departments closed cases of the same categories as
-- the cases $ids since $since (the department responsible for each closed case).
with wanted as (
    select distinct category
    from scoped_cases($scope_level, $scope_units, $scope_dept, false)
    where list_contains($ids, case_id) and category is not null
)
select c.department, count(*) as closed_cases
from scoped_cases($scope_level, $scope_units, $scope_dept, false) c
where c.category in (select category from wanted)
  and c.closed_at >= $since
  and c.department is not null and c.department <> ''
group by c.department
order by closed_cases desc, c.department
