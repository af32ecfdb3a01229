-- What the in-memory case index (indicators/caseindex.py) is built from: the case keys and the
-- narrow case facts (migration 012) of a scope, times as epoch microseconds (a missing close or
-- due time as the largest int64). The index keeps the facts reported since a horizon, closed since
-- it, or open: exactly those any window starting at or after the horizon counts (reported in W,
-- or in the backlog at as-of >= horizon).

create or replace macro scoped_case_key_paths(lvl, units, dept) as table
select key_id, unit_ids, department
from case_keys
where (lvl = 0 or list_contains(units, unit_ids[lvl]))
  and (dept = '' or department = dept);

create or replace macro scoped_case_fact_times(lvl, units, dept, horizon) as table
select f.key_id, epoch_us(f.reported_at) as reported_us, epoch_us(f.closed_at) as closed_us,
       coalesce(epoch_us(f.due_at), 9223372036854775807) as due_us
from case_facts_closed f
semi join scoped_case_key_paths(lvl, units, dept) k using (key_id)
where f.reported_at >= cast(horizon as timestamp) or f.closed_at >= cast(horizon as timestamp)
union all
select f.key_id, epoch_us(f.reported_at), 9223372036854775807, coalesce(epoch_us(f.due_at), 9223372036854775807)
from case_facts_open f
semi join scoped_case_key_paths(lvl, units, dept) k using (key_id);

create or replace macro scoped_case_newest_report(lvl, units, dept) as table
select max(reported_at) as newest from (
    select f.reported_at from case_facts_closed f semi join scoped_case_key_paths(lvl, units, dept) k using (key_id)
    union all
    select f.reported_at from case_facts_open f semi join scoped_case_key_paths(lvl, units, dept) k using (key_id)
);
