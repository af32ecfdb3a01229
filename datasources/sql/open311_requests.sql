-- Open311 GeoReport v2 service requests as the city publishes them, newest reported first.
-- Never reporter fields. Only sources in $sources and categories in $categories (null = any),
-- neither in $hidden_sources / $hidden_categories; description and address only when
-- $public_text; coordinates rounded to $decimals places (3: about 100 m).
-- Empty $ids / $codes = any; null $start / $end = unbounded (inclusive, on reported_at);
-- null $closed = any status, true = closed only, false = open only.
-- updated_at = when the case last changed in the store (the commit of its version), never before
-- its report or closure time.
with picked as (
    select case_id, status, category,
           case when $public_text::boolean then description end as description,
           department, reported_at, due_at, closed_at,
           case when $public_text::boolean then address end as address,
           round(lat, $decimals::integer) as lat, round(lon, $decimals::integer) as lon, version
    from scoped_cases($scope_level, $scope_units, $scope_dept, $scope_pii)
    where (len($ids::varchar[]) = 0 or case_id in (select unnest($ids::varchar[])))
      and (len($codes::varchar[]) = 0 or category in (select unnest($codes::varchar[])))
      and ($sources::varchar[] is null or source in (select unnest($sources::varchar[])))
      and coalesce(source not in (select unnest($hidden_sources::varchar[])), true)
      and ($categories::varchar[] is null or category in (select unnest($categories::varchar[])))
      and category not in (select unnest($hidden_categories::varchar[]))
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
