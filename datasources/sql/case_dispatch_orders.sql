-- Dispatch orders linked to one case the caller may see.
select o.order_id, o.title, o.state, o.priority, o.lead_department, o.due_at
from dispatch_order_cases oc
join dispatch_orders o using (order_id)
where oc.case_id = $case_id
  and oc.case_id in (select case_id from scoped_cases($scope_level, $scope_units, $scope_dept, false))
order by o.created_at desc
