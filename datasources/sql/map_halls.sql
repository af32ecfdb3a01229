-- Service halls in the scope with their mean wait (minutes) in [$start, $end): transactions
-- (called_at - ticket_at) and posted snapshot waits together, as in ind_waits.sql.
with waits as (
    select t.hall_id, date_diff('microsecond', t.ticket_at, t.called_at) / 60e6 as wait_minutes
    from scoped_service_transactions($scope_level, $scope_units) t
    where t.called_at is not null and t.ticket_at >= cast($start as timestamp) and t.ticket_at < cast($end as timestamp)
    union all
    select s.hall_id, s.wait_minutes
    from scoped_hall_snapshots($scope_level, $scope_units) s
    where s.wait_minutes is not null and s.observed_at >= cast($start as timestamp) and s.observed_at < cast($end as timestamp)
),
by_hall as (
    select hall_id, count(*) as observations, avg(wait_minutes) as wait_mean_minutes
    from waits group by hall_id
)
select h.hall_id, h.name_zh, h.name_en, h.lat, h.lon, coalesce(b.observations, 0) as observations, b.wait_mean_minutes
from scoped_halls($scope_level, $scope_units) h
left join by_hall b using (hall_id)
where coalesce(h.outside_city, false) = false and h.lat is not null and h.lon is not null
order by h.hall_id
