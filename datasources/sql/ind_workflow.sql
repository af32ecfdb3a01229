-- Workflow indicators of the cases reported in W = [$start, $end), as of $end (unit as in ind_cases:
-- $level_index = 0 the city $city_id, $by_department the case's department), from the cases and
-- their status history (case_events):
--   registered       reached 立案 (registered, or any later workflow status) by as-of, or closed
--   handled          first handled / verified / closed event, or closed_at, at or before as-of
--   handle_due       handled, or due_at <= as-of (应处置数, as cases_due is to closing)
--   handled_on_time  handled, and that first handling at or before due_at
--   reworked         handled, then returned or reworked after the first handling (by as-of)
--   closed_late      closed by as-of after due_at
--   rated/satisfied  closed by as-of with a satisfaction score / a score of 4 or 5
-- Ratios are NULL when their denominator is 0.
with p as (
    select cast($start as timestamp) as t0, cast($end as timestamp) as t1
),
c as (
    select c.case_id,
           case when $by_department then c.department when $level_index = 0 then $city_id
                else c.unit_ids[$level_index] end as unit_id,
           c.closed_at, c.due_at, c.satisfaction
    from scoped_cases($scope_level, $scope_units, $scope_dept, false) c, p
    where c.reported_at >= p.t0 and c.reported_at < p.t1
),
ev as (
    select e.case_id, e.status, e.event_at
    from scoped_case_events($scope_level, $scope_units, $scope_dept) e, p
    where e.event_at <= p.t1 and e.case_id in (select case_id from c)
),
history as (
    select case_id,
           bool_or(status in ('registered', 'dispatched', 'handled', 'verified', 'closed', 'extended', 'reworked')) as registered,
           min(event_at) filter (where status in ('handled', 'verified', 'closed')) as first_handled_at
    from ev group by case_id
),
flags as (
    select c.unit_id, c.case_id, c.due_at, c.satisfaction,
           coalesce(h.registered, false) or coalesce(c.closed_at <= p.t1, false) as registered,
           least(h.first_handled_at, case when c.closed_at <= p.t1 then c.closed_at end) as handled_at,
           coalesce(c.closed_at <= p.t1, false) as closed,
           coalesce(c.closed_at <= p.t1 and c.closed_at > c.due_at, false) as closed_late
    from c cross join p left join history h using (case_id)
),
reworked as (
    select distinct e.case_id
    from ev e join flags f using (case_id)
    where e.status in ('returned', 'reworked') and e.event_at > f.handled_at
),
stats as (
    select f.unit_id,
           count(*) as reported,
           count(*) filter (where registered) as registered,
           count(*) filter (where handled_at is not null) as handled,
           count(*) filter (where handled_at is not null or f.due_at <= (select t1 from p)) as handle_due,
           count(*) filter (where handled_at <= f.due_at) as handled_on_time,
           count(*) filter (where r.case_id is not null) as reworked,
           count(*) filter (where closed) as closed,
           count(*) filter (where closed_late) as closed_late,
           count(*) filter (where closed and satisfaction is not null) as rated,
           count(*) filter (where closed and satisfaction >= 4) as satisfied
    from flags f left join reworked r using (case_id)
    where f.unit_id is not null
    group by f.unit_id
),
wanted as (
    select unit_id from indicator_units($scope_level, $scope_units, $scope_dept, $level_index, $by_department, $city_id)
    union
    select unit_id from stats where $by_department
)
select w.unit_id,
       coalesce(s.reported, 0) as cases_reported,
       coalesce(s.registered, 0) as cases_registered,
       coalesce(s.handled, 0) as cases_handled,
       coalesce(s.handle_due, 0) as cases_handle_due,
       coalesce(s.handled_on_time, 0) as cases_handled_on_time,
       coalesce(s.reworked, 0) as cases_reworked,
       coalesce(s.closed, 0) as cases_closed,
       coalesce(s.closed_late, 0) as cases_closed_late,
       coalesce(s.rated, 0) as cases_rated,
       coalesce(s.satisfied, 0) as cases_satisfied,
       s.registered / nullif(s.reported, 0) as registration_rate,
       s.handled / nullif(s.handle_due, 0) as handling_rate,
       s.handled_on_time / nullif(s.handle_due, 0) as on_time_handling_rate,
       s.reworked / nullif(s.handled, 0) as rework_rate,
       s.closed_late / nullif(s.closed, 0) as overdue_closure_rate,
       s.satisfied / nullif(s.rated, 0) as satisfaction_rate
from wanted w
left join stats s using (unit_id)
order by w.unit_id
