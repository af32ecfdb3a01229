-- Joint dispatch orders (联动派遣单): one order, one task per department (lead 主办 / assist 协办).
-- Administrative tables written by dispatch/service.py under the writer lock (Store.write_transaction);
-- read through the gateway with the scoped_dispatch_* macros below. Times are naive UTC.

create table if not exists dispatch_orders (
    order_id        varchar primary key,
    version         integer not null,        -- optimistic concurrency: every change bumps it
    state           varchar not null,        -- dispatch/states.py ORDER_STATES
    title           varchar not null,
    priority        tinyint not null,        -- 1 (most urgent) .. 4
    lead_department varchar not null,
    instructions    varchar,
    created_by      varchar not null,
    created_role    varchar not null,
    created_at      timestamp not null,
    updated_at      timestamp not null,
    due_at          timestamp not null,
    verified_at     timestamp,
    closed_at       timestamp,
    cancelled_at    timestamp
);

-- One row per task; a reassigned task stays (state 'reassigned') and a new one is added.
create table if not exists dispatch_tasks (
    order_id         varchar not null,
    task_no          integer not null,
    department       varchar not null,
    task_role        varchar not null,       -- lead | assist
    state            varchar not null,       -- dispatch/states.py TASK_STATES
    due_at           timestamp not null,
    ack_due_at       timestamp not null,
    acknowledged_at  timestamp,
    resolved_at      timestamp,
    escalation_level integer not null default 0,  -- 0 none, 1 department head, 2 commander
    escalated_at     timestamp,
    requested_due_at timestamp               -- a pending extension request
);

-- Linked cases with their unit path copied at creation (the scope of the order).
create table if not exists dispatch_order_cases (
    order_id varchar not null,
    case_id  varchar not null,
    unit_ids varchar[]
);

-- The order's own history (the audit table holds the same commands, city-wide).
create table if not exists dispatch_events (
    order_id    varchar not null,
    version     integer not null,
    at_utc      timestamp not null,
    actor       varchar not null,
    role        varchar not null,
    action      varchar not null,
    department  varchar,
    from_state  varchar,
    to_state    varchar,
    order_from  varchar,
    order_to    varchar,
    note        varchar
);

-- Idempotency: the first result of each command_id.
create table if not exists dispatch_commands (
    command_id varchar primary key,
    order_id   varchar not null,
    action     varchar not null,
    actor      varchar not null,
    status     integer not null,
    result     json not null,
    created_at timestamp not null
);

-- Orders visible to a scope: a unit scope sees orders with a linked case in its units; a
-- department scope sees orders with a task (current or past) for the department.
create or replace macro scoped_dispatch_orders(lvl, units, dept) as table
select o.* from dispatch_orders o
where (lvl = 0 or o.order_id in (select c.order_id from dispatch_order_cases c
                                 where len(c.unit_ids) >= lvl and list_contains(units, c.unit_ids[lvl])))
  and (dept = '' or o.order_id in (select t.order_id from dispatch_tasks t where t.department = dept));

create or replace macro scoped_dispatch_tasks(lvl, units, dept) as table
select t.* from dispatch_tasks t
where t.order_id in (select order_id from scoped_dispatch_orders(lvl, units, dept));

create or replace macro scoped_dispatch_order_cases(lvl, units, dept) as table
select c.* from dispatch_order_cases c
where c.order_id in (select order_id from scoped_dispatch_orders(lvl, units, dept));

create or replace macro scoped_dispatch_events(lvl, units, dept) as table
select e.* from dispatch_events e
where e.order_id in (select order_id from scoped_dispatch_orders(lvl, units, dept));
