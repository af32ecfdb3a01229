-- Quarantined raw payloads may hold personal data and belong to no unit: only a city-wide scope
-- (lvl = 0) sees them.
create or replace macro scoped_quarantine(lvl) as table
select * from quarantine where lvl = 0;

-- A case's status history, visible where the case is.
create or replace macro scoped_case_events(lvl, units, dept) as table
select e.* from case_events e
where e.case_id in (select case_id from scoped_cases(lvl, units, dept, false));
