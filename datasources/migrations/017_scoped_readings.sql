-- scoped_readings (migration 002) as a plain semi-join on the scope's devices: the former
-- "lvl = 0 or device_id in (...)" made DuckDB test every reading of the window against the OR,
-- three times slower for a district's scope than for the city's (bench/bench_sensors.py, drill).
create or replace macro scoped_readings(lvl, units) as table
select r.* from readings r
where r.device_id in (select device_id from devices where lvl = 0 or list_contains(units, unit_ids[lvl]));
