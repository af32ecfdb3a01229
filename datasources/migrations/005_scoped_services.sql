-- Service-hall records, visible where their hall is (lvl = 0: the whole city, halls outside it too).
create or replace macro scoped_service_transactions(lvl, units) as table
select t.* from service_transactions t
where lvl = 0 or t.hall_id in (select hall_id from halls where list_contains(units, unit_ids[lvl]));

create or replace macro scoped_hall_snapshots(lvl, units) as table
select s.* from hall_snapshots s
where lvl = 0 or s.hall_id in (select hall_id from halls where list_contains(units, unit_ids[lvl]));
