"""The dispatch state machine, exhaustively: every situation x action x role, against a table
written out here by hand (not derived from dispatch/states.py)."""
import datetime as dt
import itertools

import pytest

from dispatch.states import Actor, Command, Order, RefusedError, Task, escalate, transition

NOW = dt.datetime(2030, 3, 4, 2, 0)
DUE = NOW + dt.timedelta(hours=24)
ASK = DUE + dt.timedelta(hours=24)  # every situation carries a pending extension request to this

# The situations of a one-task order: (order state, lead task state).
SITUATIONS = {
    "issued": ("issued", "issued"),
    "acknowledged": ("acknowledged", "acknowledged"),
    "in_progress": ("in_progress", "in_progress"),
    "returned": ("in_progress", "returned"),
    "resolved": ("resolved", "resolved"),
    "verified": ("verified", "resolved"),
    "closed": ("closed", "resolved"),
    "cancelled": ("cancelled", "cancelled"),
}
ACTIONS = ["acknowledge", "start", "progress", "resolve", "verify", "close", "return", "reassign", "extend",
           "approve_extension", "cancel"]
ACTORS = {
    "commander": Actor("c", "commander"),
    "leader_in": Actor("l", "district_leader", level_index=1, unit_ids=("110105",)),
    "leader_out": Actor("l2", "district_leader", level_index=1, unit_ids=("110108",)),
    "dept_own": Actor("d", "department", department="chengguan"),
    "dept_other": Actor("d2", "department", department="shuiwu"),
    "briefing": Actor("b", "briefing"),
    "wall": Actor("w", "wall"),
    "admin": Actor("a", "admin"),
}

# Who may do what (by hand): department staff move their task; commanders and district leaders steer.
DEPT = {"acknowledge", "start", "progress", "resolve", "extend"}
STEER = {"verify", "close", "return", "reassign", "extend", "approve_extension", "cancel"}
MAY = {"commander": STEER, "leader_in": STEER, "leader_out": STEER, "dept_own": DEPT, "dept_other": DEPT,
       "briefing": set(), "wall": set(), "admin": set()}

# situation -> action -> (order state after, lead-department task state after); missing = refused (state).
# "reassign" moves the work to jiaotong: the old task is 'reassigned' and a new one 'issued'.
OPEN = ("issued", "acknowledged", "in_progress", "returned")
NEXT = {
    "issued": {"acknowledge": ("acknowledged", "acknowledged"), "extend": ("issued", "issued"),
               "approve_extension": ("issued", "issued"), "reassign": ("issued", "reassigned"),
               "cancel": ("cancelled", "cancelled")},
    "acknowledged": {"start": ("in_progress", "in_progress"), "extend": ("acknowledged", "acknowledged"),
                     "approve_extension": ("acknowledged", "acknowledged"), "reassign": ("issued", "reassigned"),
                     "cancel": ("cancelled", "cancelled")},
    "in_progress": {"progress": ("in_progress", "in_progress"), "resolve": ("resolved", "resolved"),
                    "extend": ("in_progress", "in_progress"), "approve_extension": ("in_progress", "in_progress"),
                    "reassign": ("issued", "reassigned"), "cancel": ("cancelled", "cancelled")},
    "returned": {"start": ("in_progress", "in_progress"), "extend": ("in_progress", "returned"),
                 "approve_extension": ("in_progress", "returned"), "reassign": ("issued", "reassigned"),
                 "cancel": ("cancelled", "cancelled")},
    "resolved": {"verify": ("verified", "resolved"), "return": ("in_progress", "returned"),
                 "cancel": ("cancelled", "cancelled")},
    "verified": {"close": ("closed", "resolved")},
    "closed": {},
    "cancelled": {},
}


def order_in(situation: str) -> Order:
    order_state, task_state = SITUATIONS[situation]
    task = Task(1, "chengguan", "lead", task_state, DUE, NOW - dt.timedelta(hours=1), requested_due_at=ASK)
    return Order("DO-1", 7, order_state, "t", 2, "chengguan", "", "c", "commander", NOW, NOW, DUE, (task,),
                 ("case-1",), (("110105", "110105-grid-1"),))


def expected(situation: str, action: str, who: str):
    """('ok', order state, task state) or ('refused', code)."""
    if action not in MAY[who]:
        return ("refused", "role")
    if who == "leader_out":
        return ("refused", "scope")
    if who == "dept_other":
        return ("refused", "task")  # shuiwu has no task on this order
    if situation == "cancelled" and action not in ("verify", "close", "cancel"):
        return ("refused", "task")  # the cancelled task is no longer active
    outcome = NEXT[situation].get(action)
    return ("ok", *outcome) if outcome else ("refused", "state")


CASES = list(itertools.product(SITUATIONS, ACTIONS, ACTORS))


def test_the_table_covers_every_combination():
    assert len(CASES) == 8 * 11 * 8


@pytest.mark.parametrize("situation,action,who", CASES)
def test_every_state_action_role(situation, action, who):
    order = order_in(situation)
    command = Command(action, NOW, note="n", to_department="jiaotong" if action == "reassign" else "",
                      hours=12 if action == "extend" else None)
    want = expected(situation, action, who)
    if want[0] == "refused":
        with pytest.raises(RefusedError) as refused:
            transition(order, command, ACTORS[who])
        assert refused.value.code == want[1], refused.value.reason
        assert refused.value.reason
        return
    new, events = transition(order, command, ACTORS[who])
    assert new.version == order.version + 1 and new is not order
    assert new.state == want[1]
    old_task = next(t for t in new.tasks if t.task_no == 1)
    assert old_task.state == want[2]
    assert events and events[0].action == action and events[0].order_to == new.state
    if action == "reassign":
        assert [(t.department, t.state) for t in new.tasks] == [("chengguan", "reassigned"), ("jiaotong", "issued")]
        assert new.lead_department == "jiaotong"
    if action == "extend":
        if who == "dept_own":  # a request, not yet a new deadline
            assert old_task.due_at == DUE and old_task.requested_due_at == DUE + dt.timedelta(hours=12)
        else:
            assert old_task.due_at == DUE + dt.timedelta(hours=12) and old_task.requested_due_at is None
    if action == "approve_extension":
        assert old_task.due_at == ASK and old_task.requested_due_at is None
    assert order.state == SITUATIONS[situation][0]  # the input is untouched (pure)


def two_task_order(lead_state="resolved", assist_state="in_progress") -> Order:
    tasks = (Task(1, "chengguan", "lead", lead_state, DUE, NOW), Task(2, "shuiwu", "assist", assist_state, DUE, NOW))
    return Order("DO-2", 1, "resolved", "t", 2, "chengguan", "", "c", "commander", NOW, NOW, DUE, tasks,
                 ("a", "b"), (("110105",), ("110108",)))


def test_verify_waits_for_assisting_tasks_and_order_follows_the_lead():
    order = two_task_order()
    with pytest.raises(RefusedError, match="shuiwu"):
        transition(order, Command("verify", NOW), ACTORS["commander"])
    resolved, _ = transition(order, Command("resolve", NOW), ACTORS["dept_other"])  # shuiwu resolves its own task
    assert resolved.state == "resolved"
    verified, _ = transition(resolved, Command("verify", NOW), ACTORS["commander"])
    assert verified.state == "verified" and verified.verified_at == NOW
    # an assisting task's progress does not move the order
    started = two_task_order("acknowledged", "acknowledged")
    started = Order(**{**started.__dict__, "state": "acknowledged"})
    moved, _ = transition(started, Command("start", NOW), ACTORS["dept_other"])
    assert moved.state == "acknowledged"


def test_a_leader_acts_only_when_every_case_is_in_the_district():
    order = two_task_order()  # one case in 110105, one in 110108
    with pytest.raises(RefusedError) as refused:
        transition(order, Command("return", NOW), ACTORS["leader_in"])
    assert refused.value.code == "scope"


def test_a_department_cannot_name_another_departments_task():
    with pytest.raises(RefusedError) as refused:
        transition(order_in("issued"), Command("acknowledge", NOW, department="chengguan"), ACTORS["dept_other"])
    assert refused.value.code == "scope" and "own task" in refused.value.reason


def test_bad_parameters_are_refused_as_bad_requests():
    order = order_in("in_progress")
    for command in (Command("reassign", NOW), Command("reassign", NOW, to_department="chengguan"),
                    Command("extend", NOW), Command("extend", NOW, hours=-1), Command("nonsense", NOW)):
        with pytest.raises(RefusedError) as refused:
            transition(order, command, ACTORS["commander"])
        assert refused.value.code == "bad_request"


def test_escalation_levels_with_a_clock():
    task = Task(1, "chengguan", "lead", "issued", NOW + dt.timedelta(hours=8), NOW + dt.timedelta(minutes=30))
    order = Order("DO-3", 1, "issued", "t", 2, "chengguan", "", "c", "commander", NOW, NOW, task.due_at, (task,))
    same, events = escalate(order, NOW + dt.timedelta(minutes=29))
    assert same is order and events == []
    late, events = escalate(order, NOW + dt.timedelta(minutes=31))  # acknowledgement late: department head
    assert late.tasks[0].escalation_level == 1 and events[0].detail["to"] == "department_head"
    assert late.version == 2
    again, events = escalate(late, NOW + dt.timedelta(minutes=40))  # nothing new
    assert events == [] and again is late
    later, events = escalate(late, NOW + dt.timedelta(minutes=61))  # still late a P2 ack period later
    assert later.tasks[0].escalation_level == 2 and events[0].detail["to"] == "commander"
    acked, _ = transition(order, Command("acknowledge", NOW), ACTORS["dept_own"])
    assert escalate(acked, NOW + dt.timedelta(hours=2))[1] == []  # acknowledged in time, not yet due
    assert escalate(acked, NOW + dt.timedelta(hours=8, minutes=1))[0].tasks[0].escalation_level == 1


# The queue's buttons (dispatch.queue.actions_for) against the same hand-written table: a button is
# offered exactly when the table says the action goes through (the adjustments apart, with a reason).
QUEUE_ACTORS = ("commander", "leader_in", "leader_out", "dept_own", "dept_other", "wall")


@pytest.mark.parametrize("situation", list(SITUATIONS))
@pytest.mark.parametrize("who", QUEUE_ACTORS)
def test_queue_buttons_are_what_the_state_machine_accepts(situation, who):
    from dispatch.queue import ADJUST, actions_for

    offered = {(a["action"], a["adjust"]) for a in actions_for(order_in(situation), ACTORS[who], NOW)}
    accepted = {a for a in ACTIONS if expected(situation, a, who)[0] == "ok"}
    assert {a for a, _ in offered} == accepted, (situation, who)
    assert all(adjust == (a in ADJUST) for a, adjust in offered)
    assert {a for a, adjust in offered if adjust} <= {"extend", "reassign", "cancel"}


def test_refusals_carry_a_catalog_key_with_zh_and_en():
    import i18n

    refused = set()
    for situation, action, who in CASES:
        try:
            transition(order_in(situation), Command(action, NOW, due_at=ASK, to_department="jiaotong"), ACTORS[who])
        except RefusedError as exc:
            refused.add(exc.key)
            entry = i18n.MESSAGES.get(f"refusal.{exc.key}")
            assert entry and entry["zh"] and entry["en"], exc.key
    assert {"role", "leader_scope", "no_task", "task_state", "order_state"} <= refused
