"""Joint dispatch orders: create, act, read, escalate (storage + the rules of dispatch/states.py).

    actor = actor_for(pack, "zhang", "commander", [])
    status, order = create_order(store, pack, actor, {"title": ..., "case_ids": [...], "command_id": ...})
    status, order = apply_action(store, pack, actor, order["id"], {"action": "verify", "expected_version": 5})
    order = get_order(store, scope, order_id)                  # DispatchError(404) outside the scope
    escalate_due(store, pack, now=...)                          # late tasks -> department head -> commander

Writes run in one transaction under the store's writer lock (`Store.write_transaction`): the order
row is updated only if its version is still the one the command was checked against (optimistic
concurrency: a stale `expected_version` or a lost race is a 409), its tasks and events, one audit
row per command and the command's first result (idempotency by `command_id`). Linked cases then
follow through the feed writer (`Store.apply`), so the case indicators move: dispatched on
creation, handled when the lead task is resolved, reworked when it is returned, closed on
verification, registered again on cancellation.
"""
from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Callable

import pyarrow as pa

from datasources import gateway, timedomain
from datasources.remote import in_writer
from datasources.store import Store, utcnow
from dispatch import notify, webhooks
from dispatch.isotime import iso
from dispatch.states import (
    ACTIONS,
    CREATE_ROLES,
    SLA,
    Actor,
    Command,
    Event,
    Order,
    RefusedError,
    Task,
    escalate,
    in_scope,
    transition,
)
from security.scope import Scope
from security.users import append_audit

MAX_TITLE = 200
MAX_TEXT = 4000
MAX_CASES = 500
SYSTEM = Actor("system", "system")


class DispatchError(Exception):
    """A command that cannot be carried out: `status` is the HTTP status to answer with; `reason`
    the English text; `key` and `params` name the message for the console's catalog
    (i18n "refusal.<key>"; "" = show `reason` as it is)."""

    def __init__(self, status: int, reason: str, key: str = "", **params):
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.key = key
        self.params = params

    def __reduce__(self):  # crosses the writer link as itself (datasources/remote.py)
        return (_dispatch_error, (self.status, self.reason, self.key, self.params))


def _dispatch_error(status, reason, key, params) -> DispatchError:
    return DispatchError(status, reason, key, **params)


# A refusal of the state machine (dispatch/states.py RefusedError.code) as an HTTP status: the role
# or scope forbids it (403), the order's or task's state does not allow it now (409), a bad body (400).
REFUSAL_STATUS = {"bad_request": 400, "role": 403, "scope": 403, "state": 409, "task": 409}


def actor_for(pack, name: str, role: str, scopes) -> Actor:
    """The acting user (role and scope as security.users.scope_for reads them)."""
    from security.users import scope_for

    return Actor.from_scope(name, role, scope_for(pack, role, scopes))


def actor_scope(actor: Actor) -> Scope:
    return Scope(level_index=actor.level_index, unit_ids=actor.unit_ids, department=actor.department)


# ---------------------------------------------------------------------------- (de)serialisation


def order_dict(order: Order) -> dict:
    """The API shape of an order (times ISO 8601 UTC)."""
    return {
        "id": order.order_id,
        "version": order.version,
        "state": order.state,
        "title": order.title,
        "priority": order.priority,
        "lead_department": order.lead_department,
        "assist_departments": [t.department for t in order.tasks if t.task_role == "assist" and t.active],
        "instructions": order.instructions,
        "case_ids": list(order.case_ids),
        "created_by": order.created_by,
        "created_at": iso(order.created_at),
        "updated_at": iso(order.updated_at),
        "due_at": iso(order.due_at),
        "verified_at": iso(order.verified_at),
        "closed_at": iso(order.closed_at),
        "cancelled_at": iso(order.cancelled_at),
        "alert_id": order.alert_id,
        "area": order.area or None,
        "tasks": [
            {
                "department": t.department, "role": t.task_role, "state": t.state, "due_at": iso(t.due_at),
                "ack_due_at": iso(t.ack_due_at), "acknowledged_at": iso(t.acknowledged_at),
                "resolved_at": iso(t.resolved_at), "escalation_level": t.escalation_level,
                "escalated_at": iso(t.escalated_at), "requested_due_at": iso(t.requested_due_at),
            }
            for t in order.tasks
        ],
    }


def load_order(store: Store, scope: Scope, order_id: str) -> Order | None:
    """The order as the scope sees it, or None (unknown or outside the scope)."""
    rows = gateway.query_rows(store, "dispatch_order", scope, order_id=order_id)
    if not rows:
        return None
    tasks = gateway.query_rows(store, "dispatch_order_tasks", scope, order_id=order_id)
    cases = gateway.query_rows(store, "dispatch_order_cases", scope, order_id=order_id)
    return order_from_row(rows[0], tasks, [c["case_id"] for c in cases], [c["unit_ids"] for c in cases])


def task_from_row(row: dict) -> Task:
    """A Task from a row of dispatch_tasks (extra columns ignored)."""
    return Task(**{k: v for k, v in row.items() if k in Task.__dataclass_fields__})


def order_from_row(row: dict, tasks, case_ids, case_units) -> Order:
    """An Order from a row of dispatch_orders, its task rows and its cases (ids and unit paths)."""
    return Order(
        order_id=row["order_id"], version=row["version"], state=row["state"], title=row["title"],
        priority=row["priority"], lead_department=row["lead_department"], instructions=row["instructions"] or "",
        created_by=row["created_by"], created_role=row["created_role"], created_at=row["created_at"],
        updated_at=row["updated_at"], due_at=row["due_at"], verified_at=row["verified_at"],
        closed_at=row["closed_at"], cancelled_at=row["cancelled_at"],
        alert_id=row.get("alert_id"), area=row.get("area") or "",
        tasks=tuple(task_from_row(t) for t in tasks or ()),
        case_ids=tuple(case_ids or ()), case_units=tuple(tuple(u or ()) for u in case_units or ()),
    )


def get_order(store: Store, scope: Scope, order_id: str, *, events: bool = True) -> dict:
    order = load_order(store, scope, order_id)
    if order is None:
        raise DispatchError(404, f"no dispatch order {order_id!r} in your scope", "no_order", id=order_id)
    result = order_dict(order)
    if events:
        result["events"] = [
            {**e, "at_utc": iso(e["at_utc"])}
            for e in gateway.query_rows(store, "dispatch_order_events", scope, order_id=order_id)
        ]
    return result


# ---------------------------------------------------------------------------- writing


def _task_row(order_id: str, t: Task) -> list:
    return [order_id, t.task_no, t.department, t.task_role, t.state, t.due_at, t.ack_due_at, t.acknowledged_at,
            t.resolved_at, t.escalation_level, t.escalated_at, t.requested_due_at]


def _audit_detail(order: Order, events: list[Event], note: str = "") -> str:
    return json.dumps({
        "version": order.version,
        "changes": [{"action": e.action, "department": e.department, "task": f"{e.from_state} -> {e.to_state}",
                     "order": f"{e.order_from} -> {e.order_to}", **{k: iso(v) if isinstance(v, dt.datetime) else v
                                                                     for k, v in e.detail.items()}}
                    for e in events],
        **({"note": note} if note else {}),
    }, ensure_ascii=False)


def _write(store: Store, before: Order | None, after: Order, events: list[Event], actor: Actor, action: str,
           origin: str, now: dt.datetime, note: str = "", command_id: str = "", status: int = 200,
           result: dict | None = None) -> None:
    """One transaction: the order (only if still at `before.version`), tasks, events, audit, command,
    webhook deliveries (an outbox); then the event goes to the store's listeners (dispatch/notify.py)."""
    event = notify.event_for(after, events, actor, action, origin, now)
    with store.write_transaction() as cur:
        if before is None:
            cur.execute(
                "insert into dispatch_orders (order_id, version, state, title, priority, lead_department, instructions, "
                "created_by, created_role, created_at, updated_at, due_at, alert_id, area) "
                "values ($id, $v, $state, $title, $priority, $lead, $instructions, $by, $role, $at, $at, $due, $alert, $area)",
                {"id": after.order_id, "v": after.version, "state": after.state, "title": after.title,
                 "priority": after.priority, "lead": after.lead_department, "instructions": after.instructions,
                 "by": after.created_by, "role": after.created_role, "at": after.created_at, "due": after.due_at,
                 "alert": after.alert_id, "area": after.area or None},
            )
            cur.executemany("insert into dispatch_order_cases values (?, ?, ?)",
                            [[after.order_id, c, list(u)] for c, u in zip(after.case_ids, after.case_units)])
        else:
            updated = cur.execute(
                "update dispatch_orders set version = $v, state = $state, lead_department = $lead, "
                "updated_at = $at, verified_at = $verified, closed_at = $closed, cancelled_at = $cancelled "
                "where order_id = $id and version = $old returning order_id",
                {"v": after.version, "state": after.state, "lead": after.lead_department, "at": after.updated_at,
                 "verified": after.verified_at, "closed": after.closed_at, "cancelled": after.cancelled_at,
                 "id": after.order_id, "old": before.version},
            ).fetchall()
            if not updated:
                raise DispatchError(409, f"order {after.order_id} changed meanwhile (version {before.version} is stale)",
                                    "stale")
            cur.execute("delete from dispatch_tasks where order_id = ?", [after.order_id])
        cur.executemany("insert into dispatch_tasks values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        [_task_row(after.order_id, t) for t in after.tasks])
        if events:
            cur.executemany(
                "insert into dispatch_events values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [[after.order_id, after.version, now, actor.name, actor.role, e.action, e.department or None,
                  e.from_state, e.to_state, e.order_from, e.order_to, e.note or None] for e in events],
            )
        append_audit(cur, now, actor.name, actor.role, f"dispatch.{action}", after.order_id,
                     _audit_detail(after, events, note), origin)
        if command_id:
            cur.execute(
                "insert into dispatch_commands values ($cid, $id, $action, $actor, $status, $result, $at)",
                {"cid": command_id, "id": after.order_id, "action": action, "actor": actor.name, "status": status,
                 "result": json.dumps(result, ensure_ascii=False), "at": now},
            )
        _follow_alert(cur, after, events, actor, now)
        follow = _case_follow(after, events, now)
        if follow is not None:
            cur.execute("insert into dispatch_case_follow values ($id, $v, $status, $closed, $cases, $at, null)",
                        {"id": after.order_id, "v": after.version, "status": follow[0], "closed": follow[1],
                         "cases": list(after.case_ids), "at": now})
        webhooks.enqueue(cur, event)
    if follow is not None:
        _apply_case_follow(store, after.order_id, after.version, follow[0], follow[1], list(after.case_ids))
    notify.emit(store, event)


# The alert an order was launched from follows the order (in the order's transaction): dispatched on
# creation, closed on verification, acknowledged again when the order is cancelled.
ALERT_FOLLOWS = {"create": "dispatched", "verify": "closed", "cancel": "acknowledged"}


def _follow_alert(cur, order: Order, events: list[Event], actor: Actor, now: dt.datetime) -> None:
    state = next((ALERT_FOLLOWS[e.action] for e in events if e.action in ALERT_FOLLOWS), None)
    if order.alert_id is None or state is None:
        return
    from alerts.engine import write_state

    write_state(cur, order.alert_id, state, actor.name, actor.role, now, closed_by=f"dispatch:{order.order_id}",
                detail=order.order_id, origin="dispatch")


def _previous(store: Store, command_id: str, actor: Actor) -> tuple[int, dict] | None:
    """The first result of `command_id`, if it ran; 409 if another actor used the id."""
    if not command_id:
        return None
    rows = gateway.query_rows(store, "dispatch_command", Scope.city(), command_id=command_id)
    if not rows:
        return None
    row = rows[0]
    if row["actor"] != actor.name:
        raise DispatchError(409, f"command_id {command_id!r} was already used by another caller")
    return row["status"], json.loads(row["result"])


def _run(store: Store, command_id: str, actor: Actor, write: Callable[[], tuple[int, dict]]) -> tuple[int, dict]:
    """Idempotent execution: a repeated command id (also one racing with its twin) gets the first result."""
    previous = _previous(store, command_id, actor)
    if previous is not None:
        if previous[1].get("id"):  # a retry after a crash: its cases may not have followed yet
            repair_case_follow(store, previous[1]["id"])
        return previous
    try:
        return write()
    except Exception as exc:
        previous = _previous(store, command_id, actor)  # its twin won the race: same answer
        if previous is not None:
            return previous
        if isinstance(exc, DispatchError):
            raise
        if "constraint" in str(exc).lower() or "conflict" in str(exc).lower():
            raise DispatchError(409, f"concurrent change: {exc}") from exc
        raise


def _case_follow(order: Order, events: list[Event], now: dt.datetime) -> tuple[str, dt.datetime | None] | None:
    """(status, closure time) the linked cases take after `events`, or None when they do not move.
    A closure time of None on "closed" keeps the first one (closed on verification, then closed)."""
    status = None
    for e in events:
        lead_event = e.department == "" or (order.active_task(e.department) or _task(order, e.department)).task_role == "lead"
        if e.action == "resolve" and lead_event:
            status = "handled"
        elif e.action == "return" and lead_event:
            status = "reworked"
        elif e.action in ("verify", "close"):
            status = "closed"
        elif e.action == "cancel":
            status = "registered"
        elif e.action == "create":
            status = "dispatched"
    if status is None or not order.case_ids:
        return None
    keep_first = status == "closed" and events[-1].action == "close"
    return status, (now if status == "closed" and not keep_first else None)


def _apply_case_follow(store: Store, order_id: str, version: int, status: str, closed_at, case_ids: list[str]) -> None:
    """Linked cases follow the order through the feed writer (idempotent), then the outbox row is done."""
    n = len(case_ids)
    batch = pa.table({
        "case_id": pa.array(case_ids, pa.string()),
        "status": pa.array([status] * n, pa.string()),
        "closed_at": pa.array([closed_at] * n, pa.timestamp("us")),
    })
    store.apply("cases", "cases", batch, origin=f"dispatch:{order_id}")
    store.execute_write("update dispatch_case_follow set applied_at = $at where order_id = $id and version <= $v "
                        "and applied_at is null", {"at": utcnow(), "id": order_id, "v": version})


@in_writer
def repair_case_follow(store: Store, order_id: str = "") -> int:
    """Apply case follow-ups a crash left pending (every order's newest; or one order's): the writer
    runs it when it starts, and a retried command runs it for its order. Returns how many."""
    rows = gateway.query_rows(store, "dispatch_case_follow_pending", Scope.city(), order_id=order_id)
    for row in rows:
        _apply_case_follow(store, row["order_id"], row["version"], row["status"], row["closed_at"], list(row["case_ids"]))
    return len(rows)


def _task(order: Order, department: str) -> Task:
    return next(t for t in reversed(order.tasks) if t.department == department)


# ---------------------------------------------------------------------------- validation


def _text(body: dict, key: str, limit: int, required: bool = False) -> str:
    value = body.get(key)
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise DispatchError(400, f"{key} must be a string")
    value = value.strip()
    if required and not value:
        raise DispatchError(400, f"{key} is required")
    if len(value) > limit:
        raise DispatchError(400, f"{key} is longer than {limit} characters")
    return value


def _time(store, pack, value, key: str) -> dt.datetime | None:
    if value is None or value == "":
        return None
    try:
        return timedomain.parse_time(value, pack.timezone, getattr(store, "time_domain", timedomain.DEFAULT), key)
    except timedomain.BadTime as exc:
        raise DispatchError(400, str(exc), "bad_time") from None


def _priority(value) -> int:
    if value is None:
        return 3
    if isinstance(value, str) and value.upper().lstrip("P").isdigit():
        value = int(value.upper().lstrip("P"))
    if isinstance(value, bool) or not isinstance(value, int) or value not in SLA:
        raise DispatchError(400, "priority must be 1..4 (or P1..P4; 1 is the most urgent)")
    return value


def _departments(pack) -> set[str]:
    return set(pack.departments.department_id)


# ---------------------------------------------------------------------------- rules of a new order


def category_lead(cases: list[dict]) -> str:
    """The lead department the cases' categories name most often (a tie: the first case's), or ""."""
    leads = [c["lead_department"] for c in cases if c["lead_department"]]
    return max(leads, key=leads.count) if leads else ""


def order_deadline(pack, cases: list[dict], priority: int, now: dt.datetime) -> dt.datetime:
    """A new order's deadline (naive UTC): the earliest of each case category's time limit on its
    calendar and the priority's resolution SLA (rows of dispatch_case_categories.sql)."""
    _, resolve_within = SLA[priority]
    dues = [now + resolve_within] + [
        pack.calendar.add_hours(now, c["time_limit_hours"], c["calendar"] or "natural")
        for c in cases if c["time_limit_hours"]
    ]
    return min(dues)


# ---------------------------------------------------------------------------- commands


@in_writer
def create_order(store: Store, pack, actor: Actor, body: dict, *, origin: str = "api",
                 now: dt.datetime | None = None) -> tuple[int, dict]:
    """Create an order from `body` (CONTRACT §5); (201, order). DispatchError(400/403/409) otherwise.

    Deadline: `due_at`, else the earliest of (now + each linked case category's time limit on its
    calendar) and (now + the priority's resolution SLA). Lead and assisting departments default to
    those of the linked cases' categories.
    """
    if not isinstance(body, dict):
        raise DispatchError(400, "expected a JSON object")
    if actor.role not in CREATE_ROLES:
        raise DispatchError(403, f"role {actor.role!r} may not create dispatch orders (allowed: {', '.join(sorted(CREATE_ROLES))})",
                            "create_role", role=actor.role)
    now = now or utcnow()
    command_id = _text(body, "command_id", 200)
    title = _text(body, "title", MAX_TITLE, required=True)
    instructions = _text(body, "instructions", MAX_TEXT)
    priority = _priority(body.get("priority"))
    case_ids = body.get("case_ids")
    if not isinstance(case_ids, list) or not case_ids or not all(isinstance(c, str) and c for c in case_ids):
        raise DispatchError(400, "case_ids must be a non-empty array of case ids")
    if len(case_ids) > MAX_CASES:
        raise DispatchError(400, f"at most {MAX_CASES} cases per order")
    case_ids = list(dict.fromkeys(case_ids))
    assist = body.get("assist_departments")
    if assist is not None and (not isinstance(assist, list) or not all(isinstance(a, str) for a in assist)):
        raise DispatchError(400, "assist_departments must be an array of department ids")
    lead = body.get("lead_department")
    if lead is not None and not isinstance(lead, str):
        raise DispatchError(400, "lead_department must be a department id")
    due_at = _time(store, pack, body.get("due_at"), "due_at")
    if due_at is not None and due_at <= now:
        raise DispatchError(400, "due_at must be in the future", "due_in_past")
    alert_id = body.get("alert_id")
    if alert_id is not None and (isinstance(alert_id, bool) or not isinstance(alert_id, int)):
        raise DispatchError(400, "alert_id must be an integer")
    area = _text(body, "area", 200)

    def write() -> tuple[int, dict]:
        if alert_id is not None and not gateway.query_rows(store, "dispatch_alert", actor_scope(actor), alert_id=alert_id):
            raise DispatchError(404, f"no open alert {alert_id} in your scope", key="alert_not_visible", id=alert_id)
        cases = gateway.query_rows(store, "dispatch_case_categories", actor_scope(actor), ids=case_ids)
        unknown = sorted(set(case_ids) - {c["case_id"] for c in cases})
        if unknown:
            raise DispatchError(400, f"unknown case id(s) or outside your scope: {', '.join(unknown[:10])}",
                                key="cases_outside", ids=", ".join(unknown[:10]))
        closed = [c["case_id"] for c in cases if c["status"] == "closed"]
        if closed:  # a closed case is reopened as a new case, not dispatched again
            raise DispatchError(400, f"closed case(s) cannot be dispatched: {', '.join(closed[:10])}",
                                key="cases_closed", ids=", ".join(closed[:10]))
        # suggestions from the categories (the most frequent lead; their assisting departments)
        lead_department = lead or category_lead(cases)
        if not lead_department:
            raise DispatchError(400, "lead_department is required (the cases' categories suggest none)", "need_lead")
        assists = assist if assist is not None else [a for c in cases for a in (c["assist_departments"] or [])]
        assists = [a for a in dict.fromkeys(assists) if a != lead_department]
        known = _departments(pack)
        bad = [d for d in [lead_department, *assists] if d not in known]
        if bad:
            raise DispatchError(400, f"unknown department(s): {', '.join(bad)}")
        ack_within, _ = SLA[priority]
        due = due_at if due_at is not None else order_deadline(pack, cases, priority, now)
        tasks = tuple(
            Task(i + 1, dept, "lead" if i == 0 else "assist", "issued", due, now + ack_within)
            for i, dept in enumerate([lead_department, *assists])
        )
        order = Order(
            order_id=f"DO-{now:%Y%m%d}-{uuid.uuid4().hex[:8]}", version=1, state="issued", title=title,
            priority=priority, lead_department=lead_department, instructions=instructions, created_by=actor.name,
            created_role=actor.role, created_at=now, updated_at=now, due_at=due, tasks=tasks,
            case_ids=tuple(c["case_id"] for c in cases), case_units=tuple(tuple(c["unit_ids"] or ()) for c in cases),
            alert_id=alert_id, area=area,
        )
        if not in_scope(order, actor):
            raise DispatchError(403, "every case of an order must lie in your units", "leader_scope")
        events = [Event("create", t.department, "", "issued", "", "issued", instructions) for t in tasks]
        result = order_dict(order)
        _write(store, None, order, events, actor, "create", origin, now, command_id=command_id, status=201,
               result=result)
        return 201, result

    return _run(store, command_id, actor, write)


@in_writer
def apply_action(store: Store, pack, actor: Actor, order_id: str, body: dict, *, origin: str = "api",
                 now: dt.datetime | None = None) -> tuple[int, dict]:
    """Apply one action (CONTRACT §5 action body) by `actor`; (200, order) or DispatchError.

    404: the order is not in the actor's scope; 409: `expected_version` stale (or a concurrent
    change won); 403: the role, scope or state forbid it (the reason says which); 400: bad body.
    """
    if not isinstance(body, dict):
        raise DispatchError(400, "expected a JSON object")
    now = now or utcnow()
    action = body.get("action")
    if action not in ACTIONS:
        raise DispatchError(400, f"action must be one of {', '.join(ACTIONS)}")
    command_id = _text(body, "command_id", 200)
    note = _text(body, "note", MAX_TEXT)
    department = _text(body, "department", 100)
    to_department = _text(body, "to_department", 100)
    expected = body.get("expected_version")
    if expected is not None and (isinstance(expected, bool) or not isinstance(expected, int)):
        raise DispatchError(400, "expected_version must be an integer")
    hours = body.get("hours")
    if hours is not None and (isinstance(hours, bool) or not isinstance(hours, (int, float)) or not 0 < hours <= 24 * 365):
        raise DispatchError(400, "hours must be a positive number")
    due_at = _time(store, pack, body.get("due_at"), "due_at")
    if to_department and to_department not in _departments(pack):
        raise DispatchError(400, f"unknown department {to_department!r}")

    def write() -> tuple[int, dict]:
        before = load_order(store, actor_scope(actor), order_id)
        if before is None:
            raise DispatchError(404, f"no dispatch order {order_id!r} in your scope", "no_order", id=order_id)
        if expected is not None and expected != before.version:
            raise DispatchError(409, f"expected_version {expected} is stale: the order is at version {before.version}",
                                "stale")
        command = Command(action, now, department, note, to_department, due_at, hours)
        try:
            after, events = transition(before, command, actor)
        except RefusedError as exc:
            raise DispatchError(REFUSAL_STATUS.get(exc.code, 403), exc.reason, exc.key, **exc.params) from None
        result = order_dict(after)
        _write(store, before, after, events, actor, action, origin, now, note, command_id, 200, result)
        return 200, result

    return _run(store, command_id, actor, write)


@in_writer
def escalate_due(store: Store, pack=None, now: dt.datetime | None = None) -> list[dict]:
    """Escalate every late task of open orders at `now` (injectable clock); one audit row per order.

    Returns one entry per escalation: {"order_id", "department", "level", "to", "late"}.
    """
    now = now or utcnow()
    done = []
    for row in gateway.query_rows(store, "dispatch_open_orders", Scope.city()):
        for _ in range(3):  # retry when a command changed the order meanwhile
            before = load_order(store, Scope.city(), row["order_id"])
            if before is None:
                break
            after, events = escalate(before, now)
            if not events:
                break
            try:
                _write(store, before, after, events, SYSTEM, "escalate", "system", now)
            except DispatchError:
                continue
            done += [{"order_id": after.order_id, "department": e.department, **e.detail} for e in events]
            break
    return done


def audit_rows(store: Store, since: dt.datetime, after_id: int = 0, limit: int = 1000) -> list[dict]:
    rows = gateway.query_rows(store, "audit_since", Scope.city(), since=since, after_audit_id=after_id, limit=limit)
    return [{**r, "at_utc": iso(r["at_utc"])} for r in rows]
