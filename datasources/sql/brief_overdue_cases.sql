-- Briefings: the oldest overdue open cases as of $as_of (open: reported before as-of and not
-- closed at as-of; overdue: due_at < as-of), at most $limit, most overdue first. No reporter or
-- free-text columns are selected; unit_id is the case's unit at $level_index (0: none).
select c.case_id,
       c.category,
       k.name_zh as category_zh,
       k.name_en as category_en,
       c.department,
       case when $level_index > 0 and len(c.unit_ids) >= $level_index then c.unit_ids[$level_index] end as unit_id,
       c.reported_at,
       c.due_at,
       date_diff('second', c.due_at, cast($as_of as timestamp)) / 3600.0 as hours_overdue
from scoped_cases($scope_level, $scope_units, $scope_dept, $scope_pii) c
left join categories k on k.category_id = c.category
where c.reported_at < $as_of
  and (c.closed_at is null or c.closed_at > $as_of)
  and c.due_at < $as_of
order by hours_overdue desc, c.case_id
limit $limit
