"""Work lists over joint dispatch orders: a department's queue, the orders to verify, a case's orders.

    items = work_list(store, actor, view="todo", priority=None, now=now)
    for item in items: item["order"], item["tasks"] (with "late"), item["actions"] (what `actor` may do now)
    status, order = act(store, pack, actor, item_order_id, "acknowledge", department="chengguan",
                        version=3, note="")  # via dispatch.service.apply_action, origin "console"

What an actor may do is asked of the state machine itself (dispatch.states.transition on the
order as loaded), so the buttons a screen shows are exactly the commands the service accepts.
Nothing here imports Dash.
"""
from __future__ import annotations

import datetime as dt

from datasources import gateway
from datasources.store import utcnow
from dispatch.service import actor_scope, apply_action, order_dict, order_from_row
from dispatch.states import ORDER_TERMINAL, Actor, Command, Order, RefusedError, Task, escalation_target, transition

VIEWS = ("todo", "open", "late", "all")  # plus any order state (dispatch.states.ORDER_STATES)
# Buttons a work list offers, in the order shown. ADJUST ones change the order rather than move the
# work along (a deadline, another department, cancellation): shown apart, each needs a reason.
DEPARTMENT_BUTTONS = ("acknowledge", "start", "progress", "resolve")
DEPARTMENT_ADJUST = ("extend",)  # a department asks for more time; a commander approves
TASK_COMMAND_BUTTONS = ("return", "approve_extension")  # on a resolved task; on a pending extension request
TASK_COMMAND_ADJUST = ("extend", "reassign")
ORDER_BUTTONS = ("verify", "close")
ORDER_ADJUST = ("cancel",)
ADJUST = frozenset(DEPARTMENT_ADJUST + TASK_COMMAND_ADJUST + ORDER_ADJUST)
NOTE_REQUIRED = frozenset({"progress", "return", "extend", "reassign", "cancel"})
# Probe values for asking the state machine whether an action that needs a parameter is allowed.
_PROBE_DUE = dt.datetime(9999, 1, 1)
LIMIT = 200


class NoteRequired(ValueError):
    """A progress report or a return needs a note (what was done, or why it goes back)."""


def _order(row: dict) -> Order:
    """A dispatch_queue.sql row (tasks and cases aggregated into lists) as an Order."""
    return order_from_row(row, row["tasks"], row["case_ids"], row["case_units"])


def _allowed(order: Order, actor: Actor, action: str, department: str, now: dt.datetime) -> bool:
    # extend and reassign need a parameter: probe with one the state machine accepts (a far deadline,
    # a department no order has), so the role, scope and state decide
    try:
        transition(order, Command(action, now, department, to_department="?" if action == "reassign" else "",
                                  due_at=_PROBE_DUE if action == "extend" else None), actor)
    except RefusedError:
        return False
    return True


def actions_for(order: Order, actor: Actor, now: dt.datetime) -> list[dict]:
    """The buttons `actor` gets on `order` now: [{"action", "department", "adjust"}] (department ""
    = the order itself; adjust: extend/reassign/cancel and approvals, shown apart with a reason)."""
    found = []
    if actor.role == "department":
        task = order.active_task(actor.department)
        if task is not None:
            found += [{"action": a, "department": task.department, "adjust": a in ADJUST,
                       **({"label": "request_extension"} if a == "extend" else {})}
                      for a in DEPARTMENT_BUTTONS + DEPARTMENT_ADJUST if _allowed(order, actor, a, task.department, now)]
        return found
    found += [{"action": a, "department": "", "adjust": a in ADJUST}
              for a in ORDER_BUTTONS + ORDER_ADJUST if _allowed(order, actor, a, "", now)]
    for task in order.tasks:
        if task.active:
            found += [{"action": a, "department": task.department, "adjust": a in ADJUST}
                      for a in TASK_COMMAND_BUTTONS + TASK_COMMAND_ADJUST
                      if _allowed(order, actor, a, task.department, now)]
    return found


def is_late(task: Task, priority: int, now: dt.datetime) -> bool:
    """Past its acknowledgement deadline while still issued, or past its deadline while not resolved."""
    return escalation_target(task, priority, now) > 0


def _item(order: Order, actor: Actor | None, now: dt.datetime) -> dict:
    shown = order_dict(order)
    tasks = [{**shown_task, "late": is_late(task, order.priority, now) if order.state not in ORDER_TERMINAL else False,
              "due_at_utc": task.due_at, "ack_due_at_utc": task.ack_due_at,
              "requested_due_at_utc": task.requested_due_at}
             for shown_task, task in zip(shown["tasks"], order.tasks)]
    return {
        "order": {**shown, "due_at_utc": order.due_at, "created_at_utc": order.created_at},
        "tasks": tasks,
        "late": any(t["late"] for t in tasks),
        "actions": actions_for(order, actor, now) if actor is not None else [],
    }


def _matches(item: dict, actor: Actor, view: str, priority: int | None) -> bool:
    order = item["order"]
    if priority is not None and order["priority"] != priority:
        return False
    if view == "todo":  # work to move along; the adjustments are always possible on an open order
        return any(not a["adjust"] for a in item["actions"])
    if view == "open":
        return order["state"] not in ORDER_TERMINAL
    if view == "late":
        mine = [t for t in item["tasks"] if actor.role != "department" or t["department"] == actor.department]
        return any(t["late"] for t in mine)
    if view == "all":
        return True
    return order["state"] == view


def work_list(store, actor: Actor, *, view: str = "todo", priority: int | None = None,
              now: dt.datetime | None = None, limit: int = LIMIT) -> list[dict]:
    """The orders `actor` sees (its scope), filtered by `view` and priority, newest first.

    Department staff see orders with a task of their department; district leaders those with cases
    in their units; commanders every order. Each item: order (API shape), tasks with a `late` flag,
    `late`, and the actions the actor may take now.
    """
    now = now or utcnow()
    rows = gateway.query_rows(store, "dispatch_queue", actor_scope(actor), case_id="", limit=limit)
    items = [_item(_order(row), actor, now) for row in rows]
    return [item for item in items if _matches(item, actor, view, priority)]


def case_orders(store, scope, case_id: str, *, now: dt.datetime | None = None) -> list[dict]:
    """The orders linked to one case (within `scope`), with their tasks and late flags."""
    now = now or utcnow()
    rows = gateway.query_rows(store, "dispatch_queue", scope, case_id=case_id or "", limit=LIMIT)
    return [_item(_order(row), None, now) for row in rows]


def command_id(actor: Actor, order_id: str, version: int, action: str, department: str) -> str:
    """The id of one button press: the same button on the same order version is the same command,
    so a double click (or a retry after a lost answer) is carried out once."""
    return f"console:{actor.name}:{order_id}:v{version}:{action}:{department or '-'}"


def act(store, pack, actor: Actor, order_id: str, action: str, *, department: str = "", version: int,
        note: str = "", due_at: str = "", to_department: str = "", now: dt.datetime | None = None) -> tuple[int, dict]:
    """One button press on a work list: apply_action with the version the screen showed (`due_at`:
    the new deadline of an extension, local time of the city unless it says otherwise;
    `to_department`: where a reassigned task goes)."""
    note = (note or "").strip()
    if action in NOTE_REQUIRED and not note:
        raise NoteRequired(action)
    body = {"action": action, "expected_version": version, "note": note,
            "command_id": command_id(actor, order_id, version, action, department)}
    if department:
        body["department"] = department
    if action == "extend" and due_at:
        body["due_at"] = due_at
    if action == "reassign" and to_department:
        body["to_department"] = to_department
    return apply_action(store, pack, actor, order_id, body, origin="console", now=now)
