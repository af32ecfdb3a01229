-- Orders completed (verified or closed) in [$since, $until) that the scope sees, with their
-- linked cases' unit paths: the areas whose indicators are compared before and after.
select o.order_id, o.title, o.priority, o.lead_department, o.created_at,
       coalesce(o.verified_at, o.closed_at) as completed_at,
       list(c.unit_ids order by c.case_id) as case_units
from scoped_dispatch_orders($scope_level, $scope_units, $scope_dept) o
join dispatch_order_cases c on c.order_id = o.order_id
where o.state in ('verified', 'closed')
  and coalesce(o.verified_at, o.closed_at) >= $since and coalesce(o.verified_at, o.closed_at) < $until
group by all
order by completed_at desc, o.order_id desc
limit $limit
