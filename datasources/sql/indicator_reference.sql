-- The units and departments indicators answer for (reference data, the same for every caller):
-- the in-memory case index (indicators/caseindex.py) keeps them until reference data changes and
-- picks a caller's units by the rule of indicator_units (migration 016).
select 'unit' as kind, level_index, unit_id, path from units
union all
select 'department', null, department_id, null from departments
order by kind, unit_id
