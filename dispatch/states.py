"""The joint dispatch state machine, as data, and one pure function applying it.

    new_order, events = transition(order, Command("acknowledge", at=now), actor)   # or RefusedError

An order (联动派遣单) has one task per department: the lead (主办) and assisting (协办) departments.
Department staff move their own task: issued → acknowledged → in_progress → resolved (and ask
for more time with `extend`). Commanders and district leaders (the latter only for orders whose
cases all lie in their units) verify and close the order, return a resolved task for rework,
reassign a task to another department, extend deadlines, approve extension requests and cancel.
Briefing staff, wall kiosks and admins never act on orders.

The order's state follows its lead task (returned → in_progress) until it is verified, closed or
cancelled. Verification needs every active task resolved. Nothing here reads a clock or a
database: `transition` and `escalate` take the time in the command and return new values.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace

ORDER_STATES = ("issued", "acknowledged", "in_progress", "resolved", "verified", "closed", "cancelled")
ORDER_TERMINAL = frozenset({"verified", "closed", "cancelled"})  # task actions stop here
TASK_STATES = ("issued", "acknowledged", "in_progress", "resolved", "returned", "reassigned", "cancelled")
TASK_INACTIVE = frozenset({"reassigned", "cancelled"})
OPEN_TASK_STATES = ("issued", "acknowledged", "in_progress", "returned")  # may still be late

DEPARTMENT_ACTIONS = ("acknowledge", "start", "progress", "resolve", "extend")
COMMAND_ACTIONS = ("verify", "close", "return", "reassign", "extend", "approve_extension", "cancel")
ACTIONS = ("acknowledge", "start", "progress", "resolve", "verify", "close", "return", "reassign", "extend",
           "approve_extension", "cancel")
ORDER_ACTIONS = frozenset({"verify", "close", "cancel"})  # act on the order; the others on one task

# Which role may do what. Department staff only on their own department's task; district leaders
# only on orders whose cases all lie in their units.
ROLE_ACTIONS: dict[str, frozenset[str]] = {
    "department": frozenset(DEPARTMENT_ACTIONS),
    "commander": frozenset(COMMAND_ACTIONS),
    "district_leader": frozenset(COMMAND_ACTIONS),
    "briefing": frozenset(),
    "wall": frozenset(),
    "admin": frozenset(),
    "source": frozenset(),
}
CREATE_ROLES = frozenset({"commander", "district_leader"})

# (action, task state) -> task state, for task actions (the order must not be verified/closed/cancelled).
TASK_TRANSITIONS: dict[tuple[str, str], str] = {
    ("acknowledge", "issued"): "acknowledged",
    ("start", "acknowledged"): "in_progress",
    ("start", "returned"): "in_progress",
    ("progress", "in_progress"): "in_progress",
    ("resolve", "in_progress"): "resolved",
    ("return", "resolved"): "returned",
    **{("extend", s): s for s in OPEN_TASK_STATES},
    **{("approve_extension", s): s for s in OPEN_TASK_STATES},
    **{("reassign", s): "reassigned" for s in OPEN_TASK_STATES},
}
# (action, order state) -> order state, for order actions.
ORDER_TRANSITIONS: dict[tuple[str, str], str] = {
    ("verify", "resolved"): "verified",
    ("close", "verified"): "closed",
    **{("cancel", s): "cancelled" for s in ("issued", "acknowledged", "in_progress", "resolved")},
}
# The order's state while active = its lead task's state mapped here.
ORDER_FROM_LEAD = {"issued": "issued", "acknowledged": "acknowledged", "in_progress": "in_progress",
                   "returned": "in_progress", "resolved": "resolved"}

# Per-priority service levels: (acknowledge within, resolve within).
SLA: dict[int, tuple[dt.timedelta, dt.timedelta]] = {
    1: (dt.timedelta(minutes=15), dt.timedelta(hours=4)),
    2: (dt.timedelta(minutes=30), dt.timedelta(hours=8)),
    3: (dt.timedelta(hours=2), dt.timedelta(hours=24)),
    4: (dt.timedelta(hours=4), dt.timedelta(hours=72)),
}
ESCALATION_LEVELS = {0: "none", 1: "department_head", 2: "commander"}


class RefusedError(Exception):
    """An action the actor may not take now. `code`: role | scope | task | state | bad_request;
    `reason`: English text; `key` and `params`: the message for the console's catalog
    (i18n "refusal.<key>": actions, states and departments in params are ids the console names)."""

    def __init__(self, code: str, reason: str, key: str = "", **params):
        super().__init__(reason)
        self.code = code
        self.reason = reason
        self.key = key
        self.params = params


@dataclass(frozen=True)
class Actor:
    name: str
    role: str
    department: str = ""  # a department user's department
    level_index: int = 0  # a district leader's level (1 = coarsest); 0 = the whole city
    unit_ids: tuple[str, ...] = ()

    @classmethod
    def from_scope(cls, name: str, role: str, scope) -> "Actor":
        """From a security.scope.Scope (what security.users.scope_for returns)."""
        return cls(name, role, scope.department, scope.level_index, tuple(scope.unit_ids))


@dataclass(frozen=True)
class Task:
    task_no: int
    department: str
    task_role: str  # lead | assist
    state: str
    due_at: dt.datetime
    ack_due_at: dt.datetime
    acknowledged_at: dt.datetime | None = None
    resolved_at: dt.datetime | None = None
    escalation_level: int = 0
    escalated_at: dt.datetime | None = None
    requested_due_at: dt.datetime | None = None

    @property
    def active(self) -> bool:
        return self.state not in TASK_INACTIVE


@dataclass(frozen=True)
class Order:
    order_id: str
    version: int
    state: str
    title: str
    priority: int
    lead_department: str
    instructions: str
    created_by: str
    created_role: str
    created_at: dt.datetime
    updated_at: dt.datetime
    due_at: dt.datetime
    tasks: tuple[Task, ...]
    case_ids: tuple[str, ...] = ()
    case_units: tuple[tuple[str, ...], ...] = ()  # each linked case's unit path, coarse to fine
    verified_at: dt.datetime | None = None
    closed_at: dt.datetime | None = None
    cancelled_at: dt.datetime | None = None
    alert_id: int | None = None  # the alert it was launched from
    area: str = ""  # the map area it was launched from ("district:110105", "box:...")

    def active_task(self, department: str) -> Task | None:
        return next((t for t in self.tasks if t.department == department and t.active), None)

    @property
    def lead_task(self) -> Task | None:
        return next((t for t in self.tasks if t.task_role == "lead" and t.active), None)


@dataclass(frozen=True)
class Command:
    action: str
    at: dt.datetime
    department: str = ""  # the task's department (default: the actor's own, or the lead)
    note: str = ""
    to_department: str = ""  # reassign
    due_at: dt.datetime | None = None  # extend: the new deadline ...
    hours: float | None = None  # ... or hours added to the current one


@dataclass(frozen=True)
class Event:
    action: str
    department: str  # "" for order actions
    from_state: str  # the task's (or, for order actions, the order's) state before
    to_state: str
    order_from: str
    order_to: str
    note: str = ""
    detail: dict = field(default_factory=dict)


def in_scope(order: Order, actor: Actor) -> bool:
    """A district leader's order: every linked case lies in one of the leader's units."""
    if actor.level_index == 0:
        return True
    lvl = actor.level_index
    return bool(order.case_units) and all(len(u) >= lvl and u[lvl - 1] in actor.unit_ids for u in order.case_units)


def _derive_state(order: Order) -> str:
    if order.state in ORDER_TERMINAL:
        return order.state
    lead = order.lead_task
    return ORDER_FROM_LEAD.get(lead.state, order.state) if lead else order.state


def _replace_task(order: Order, task: Task, new: Task) -> tuple[Task, ...]:
    return tuple(new if t.task_no == task.task_no else t for t in order.tasks)


def _new_due(task: Task, command: Command) -> dt.datetime:
    if command.due_at is not None:
        due = command.due_at
    elif command.hours is not None:
        due = task.due_at + dt.timedelta(hours=command.hours)
    else:
        raise RefusedError("bad_request", "extend needs due_at or hours", "extend_needs_due")
    if due <= task.due_at:
        raise RefusedError("bad_request", f"the new deadline must be later than the current one ({task.due_at:%Y-%m-%d %H:%M} UTC)",
                           "deadline_not_later", due=task.due_at)
    return due


def transition(order: Order, command: Command, actor: Actor) -> tuple[Order, list[Event]]:
    """Apply `command` by `actor` to `order`: the new order (version + 1) and its events.

    Raises RefusedError (with a code and a reason) when the role, the scope or the state forbid it.
    Checks run in this order: known action, role, scope (district / department), target task, state.
    """
    action = command.action
    if action not in ACTIONS:
        raise RefusedError("bad_request", f"unknown action {action!r}; actions are {', '.join(ACTIONS)}", "unknown_action",
                           action=str(action))
    if action not in ROLE_ACTIONS.get(actor.role, frozenset()):
        allowed = sorted(r for r, acts in ROLE_ACTIONS.items() if action in acts)
        raise RefusedError("role", f"role {actor.role!r} may not {action} (allowed: {', '.join(allowed)})", "role",
                           role=actor.role, action=action)
    if actor.role == "district_leader" and not in_scope(order, actor):
        raise RefusedError("scope", "the order has cases outside the district leader's units", "leader_scope")
    now = command.at
    if action in ORDER_ACTIONS:
        return _order_action(order, command, actor, now)

    # a task action: find the task
    if actor.role == "department":
        department = command.department or actor.department
        if department != actor.department:
            raise RefusedError("scope", f"department {actor.department!r} may act only on its own task, not {department!r}",
                               "own_task", department=department)
    else:
        department = command.department or order.lead_department
    task = order.active_task(department)
    if task is None:
        raise RefusedError("task", f"the order has no active task for department {department!r}", "no_task",
                           department=department)
    if order.state in ORDER_TERMINAL:
        raise RefusedError("state", f"cannot {action}: the order is {order.state}", "order_state", action=action,
                           state=order.state)
    new_state = TASK_TRANSITIONS.get((action, task.state))
    if new_state is None:
        raise RefusedError("state", f"cannot {action} a task in state {task.state}", "task_state", action=action,
                           state=task.state)
    if action == "approve_extension" and task.requested_due_at is None:
        raise RefusedError("state", "no extension request is pending for this task", "no_extension")

    changes: dict = {"state": new_state}
    detail: dict = {}
    tasks_extra: tuple[Task, ...] = ()
    lead_department = order.lead_department
    if action == "acknowledge":
        changes["acknowledged_at"] = now
    elif action == "resolve":
        changes["resolved_at"] = now
    elif action == "return":
        changes["resolved_at"] = None
    elif action == "extend":
        due = _new_due(task, command)
        if actor.role == "department":  # a request: a commander approves it
            changes["requested_due_at"] = due
            detail = {"requested_due_at": due}
        else:
            changes.update(due_at=due, requested_due_at=None)
            detail = {"due_at": due, "previous_due_at": task.due_at}
    elif action == "approve_extension":
        changes.update(due_at=task.requested_due_at, requested_due_at=None)
        detail = {"due_at": task.requested_due_at, "previous_due_at": task.due_at}
    elif action == "reassign":
        target = command.to_department
        if not target:
            raise RefusedError("bad_request", "reassign needs to_department", "reassign_needs_target")
        if target == task.department or order.active_task(target) is not None:
            raise RefusedError("bad_request", f"department {target!r} already has an active task on this order",
                               "already_tasked", department=target)
        ack_within = SLA[order.priority][0]
        tasks_extra = (Task(max(t.task_no for t in order.tasks) + 1, target, task.task_role, "issued",
                            task.due_at, now + ack_within),)
        if task.task_role == "lead":
            lead_department = target
        detail = {"to_department": target}
    new_task = replace(task, **changes)
    tasks = _replace_task(order, task, new_task) + tasks_extra
    new_order = replace(order, tasks=tasks, lead_department=lead_department, version=order.version + 1, updated_at=now)
    new_order = replace(new_order, state=_derive_state(new_order))
    events = [Event(action, task.department, task.state, new_state, order.state, new_order.state, command.note, detail)]
    if tasks_extra:
        t = tasks_extra[0]
        events.append(Event("issue", t.department, "", "issued", order.state, new_order.state, command.note,
                            {"reassigned_from": task.department}))
    return new_order, events


def _order_action(order: Order, command: Command, actor: Actor, now: dt.datetime) -> tuple[Order, list[Event]]:
    action = command.action
    new_state = ORDER_TRANSITIONS.get((action, order.state))
    if new_state is None:
        raise RefusedError("state", f"cannot {action} an order in state {order.state}", "order_state", action=action,
                           state=order.state)
    tasks = order.tasks
    changes: dict = {}
    if action == "verify":
        open_tasks = [t.department for t in order.tasks if t.active and t.state != "resolved"]
        if open_tasks:
            raise RefusedError("state", f"cannot verify: task(s) of {', '.join(open_tasks)} not resolved yet", "verify_waits",
                               departments=open_tasks)
        changes["verified_at"] = now
    elif action == "close":
        changes["closed_at"] = now
    elif action == "cancel":
        tasks = tuple(replace(t, state="cancelled") if t.active else t for t in order.tasks)
        changes["cancelled_at"] = now
    new_order = replace(order, state=new_state, tasks=tasks, version=order.version + 1, updated_at=now, **changes)
    return new_order, [Event(action, "", order.state, new_state, order.state, new_state, command.note)]


def escalation_target(task: Task, priority: int, now: dt.datetime) -> int:
    """The escalation level a task should have at `now`.

    Late = past its acknowledgement deadline while still issued, or past its deadline while not
    resolved. Level 1 (the department head) as soon as it is late; level 2 (the commander) once it
    has been late for another acknowledgement period of its priority.
    """
    if task.state not in OPEN_TASK_STATES:
        return 0
    missed = [d for d in ([task.ack_due_at] if task.state == "issued" else []) + [task.due_at] if d < now]
    if not missed:
        return 0
    late_since = min(missed)
    return 2 if now >= late_since + SLA[priority][0] else 1


def escalate(order: Order, now: dt.datetime) -> tuple[Order, list[Event]]:
    """Raise the escalation level of late tasks (levels only grow); the order unchanged if none is due."""
    if order.state in ORDER_TERMINAL:
        return order, []
    events = []
    tasks = []
    for task in order.tasks:
        target = escalation_target(task, order.priority, now)
        if target > task.escalation_level:
            why = "acknowledgement" if task.state == "issued" and task.ack_due_at < now and not task.due_at < now else "resolution"
            events.append(Event("escalate", task.department, task.state, task.state, order.state, order.state, "",
                                {"level": target, "to": ESCALATION_LEVELS[target], "late": why}))
            task = replace(task, escalation_level=target, escalated_at=now)
        tasks.append(task)
    if not events:
        return order, []
    return replace(order, tasks=tuple(tasks), version=order.version + 1, updated_at=now), events
