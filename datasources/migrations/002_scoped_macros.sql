-- The only way SQL files read feed tables: table macros that apply the caller's scope.
-- lvl = 0 means the whole city; otherwise unit_ids[lvl] must be one of units.
-- dept = '' means every department. pii = false masks reporters' names and phones.

create or replace macro scoped_cases(lvl, units, dept, pii) as table
select * replace (
        case when pii then reporter_name
             when reporter_name is null or reporter_name = '' then reporter_name
             else left(reporter_name, 1) || '**' end as reporter_name,
        case when pii then reporter_phone
             when reporter_phone is null or length(reporter_phone) < 7 then
                  case when reporter_phone is null then null else '****' end
             else left(reporter_phone, 3) || '****' || right(reporter_phone, 4) end as reporter_phone
    )
from cases
where (lvl = 0 or list_contains(units, unit_ids[lvl]))
  and (dept = '' or department = dept);

create or replace macro scoped_devices(lvl, units) as table
select * from devices
where lvl = 0 or list_contains(units, unit_ids[lvl]);

create or replace macro scoped_readings(lvl, units) as table
select r.* from readings r
where lvl = 0 or r.device_id in (select device_id from devices where list_contains(units, unit_ids[lvl]));

create or replace macro scoped_halls(lvl, units) as table
select * from halls
where lvl = 0 or list_contains(units, unit_ids[lvl]);

-- path = the unit's ancestors and itself, coarse to fine; a unit above the scope's level is never visible.
create or replace macro scoped_units(lvl, units, level_idx) as table
select * from units
where level_index = level_idx
  and (lvl = 0 or (len(path) >= lvl and list_contains(units, path[lvl])));
