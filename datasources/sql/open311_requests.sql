-- Open311 GeoReport v2 service requests (public: no reporter fields), newest reported first.
-- Empty $ids / $codes = any; null $start / $end = unbounded (inclusive, on reported_at);
-- null $closed = any status, true = closed only, false = open only.
-- updated_at = when the case last changed in the store (the commit of its version), never before
-- its report or closure time.
with picked as (
    select case_id, status, category, description, department, reported_at, due_at, closed_at,
           address, lat, lon, version
    from scoped_cases($scope_level, $scope_units, $scope_dept, $scope_pii)
    where (len($ids::varchar[]) = 0 or case_id in (select unnest($ids::varchar[])))
      and (len($codes::varchar[]) = 0 or category in (select unnest($codes::varchar[])))
      and ($start::timestamp is null or reported_at >= $start::timestamp)
      and ($end::timestamp is null or reported_at <= $end::timestamp)
      and ($closed::boolean is null or (status = 'closed') = $closed::boolean)
    order by reported_at desc, case_id
    limit $limit
)
select p.* exclude (version), greatest(p.reported_at, p.closed_at, k.committed_at) as updated_at
from picked p
left join commits k on k.version = p.version
order by p.reported_at desc, p.case_id
