-- The units an indicator answers for, at one level and in one scope, whether or not they have
-- records: the visible units of a pack level, the city (one unit, city_id) at level 0, or the
-- departments (a department's scope: its own) when by_department. Shared by the ind_*.sql files,
-- which left-join their numbers onto it so a unit without records shows zeros and empty ratios.
create or replace macro indicator_units(lvl, units, dept, level_idx, by_department, city_id) as table
select unit_id from scoped_units(lvl, units, level_idx) where not by_department and level_idx > 0
union
select cast(city_id as varchar) as unit_id where not by_department and level_idx = 0
union
select department_id as unit_id from departments where by_department and (dept = '' or department_id = dept);
