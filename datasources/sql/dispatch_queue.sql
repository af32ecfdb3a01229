-- Dispatch orders the scope sees (a department: those with a task of its own), newest first, with
-- their tasks and linked cases: the department queue, the verification list and a case's orders
-- ($case_id = '' for every order). At most $limit orders.
with visible as (
    select *
    from scoped_dispatch_orders($scope_level, $scope_units, $scope_dept)
    where $case_id = ''
       or order_id in (select order_id
                       from scoped_dispatch_order_cases($scope_level, $scope_units, $scope_dept)
                       where case_id = $case_id)
    order by created_at desc
    limit $limit
), tasks as (
    select order_id,
           list(struct_pack(task_no, department, task_role, state, due_at, ack_due_at, acknowledged_at,
                            resolved_at, escalation_level, escalated_at, requested_due_at) order by task_no) as tasks
    from scoped_dispatch_tasks($scope_level, $scope_units, $scope_dept)
    where order_id in (select order_id from visible)
    group by order_id
), linked as (
    select order_id, list(case_id order by case_id) as case_ids, list(unit_ids order by case_id) as case_units
    from scoped_dispatch_order_cases($scope_level, $scope_units, $scope_dept)
    where order_id in (select order_id from visible)
    group by order_id
)
select v.*, t.tasks, c.case_ids, c.case_units
from visible v
left join tasks t using (order_id)
left join linked c using (order_id)
order by v.created_at desc
