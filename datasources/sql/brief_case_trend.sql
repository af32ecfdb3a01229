-- Briefings: cases reported and closed per bucket of $bucket_s seconds from $start to $end
-- (bucket 0 starts at $start, so local-day buckets follow the window's own midnight).
with p as (
    select cast($start as timestamp) as t0, cast($end as timestamp) as t1
),
reported as (
    select floor(date_diff('second', p.t0, c.reported_at) / $bucket_s)::integer as bucket, count(*) as n
    from scoped_cases($scope_level, $scope_units, $scope_dept, $scope_pii) c, p
    where c.reported_at >= p.t0 and c.reported_at < p.t1
    group by all
),
closed as (
    select floor(date_diff('second', p.t0, c.closed_at) / $bucket_s)::integer as bucket, count(*) as n
    from scoped_cases($scope_level, $scope_units, $scope_dept, $scope_pii) c, p
    where c.closed_at >= p.t0 and c.closed_at < p.t1
    group by all
),
buckets as (
    select unnest(range(0, cast(ceil(date_diff('second', p.t0, p.t1) / $bucket_s) as integer))) as bucket from p
)
select b.bucket, coalesce(r.n, 0) as reported, coalesce(c.n, 0) as closed
from buckets b
left join reported r using (bucket)
left join closed c using (bucket)
order by b.bucket
