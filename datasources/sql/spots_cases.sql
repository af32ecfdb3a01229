-- Hot and blind spots (indicators/spots.py): per (department, unit at $level_index), demand in the
-- window W = [$start, $end) against the baseline [$since, $start), and handling as of $end.
-- Cases reported before $since only matter while still open after $since (the backlog at $end).
with c as (
    select coalesce(department, '') as department,
           unit_ids[$level_index] as unit_id,
           reported_at, closed_at, due_at,
           coalesce(closed_at is null or closed_at > cast($end as timestamp), false) as open_at_end
    from scoped_cases($scope_level, $scope_units, $scope_dept, $scope_pii)
    where reported_at < cast($end as timestamp)
      and (reported_at >= cast($since as timestamp) or closed_at is null or closed_at > cast($since as timestamp))
)
select department,
       unit_id,
       count(*) filter (where reported_at >= cast($start as timestamp)) as reported_now,
       count(*) filter (where reported_at >= cast($since as timestamp) and reported_at < cast($start as timestamp))
           as reported_before,
       count(*) filter (where reported_at >= cast($start as timestamp) and not open_at_end) as closed_of_reported,
       count(*) filter (where reported_at >= cast($start as timestamp)
                          and (not open_at_end or coalesce(due_at <= cast($end as timestamp), false))) as due_of_reported,
       count(*) filter (where closed_at >= cast($start as timestamp) and not open_at_end) as closures_in_window,
       count(*) filter (where open_at_end) as open_now,
       count(*) filter (where open_at_end and due_at < cast($end as timestamp)) as overdue_now,
       max(date_diff('second', reported_at, cast($end as timestamp)) / 3600.0) filter (where open_at_end)
           as oldest_open_hours
from c
where unit_id is not null
group by department, unit_id
order by department, unit_id
