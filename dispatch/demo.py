"""A handful of joint dispatch orders for the demo city (`make run`), so the wall's dispatch board,
the map's order markers, the queues and the briefings' dispatch summary have something to show.

    created = seed_orders(store, pack)     # once per store: nothing when orders exist already

Every order goes through dispatch.service (create_order, apply_action) with its clock set in the
past, so the orders carry real tasks, events, audit rows and linked case states, and some are late
(red on the board; the escalation job raises them). Deterministic: the same store gives the same
choices (districts in the pack's order, their most overdue cases of one category), and fixed
command ids make a second run a no-op.
"""
from __future__ import annotations

import datetime as dt
import logging
from collections import Counter

from datasources import gateway
from datasources.store import utcnow
from dispatch.origins import find_cases
from dispatch.service import DispatchError, actor_for, apply_action, create_order
from security.scope import Scope

log = logging.getLogger(__name__)
H = dt.timedelta(hours=1)
M = dt.timedelta(minutes=1)
# (priority, created before now, [(what each department does to its task, when after creation)],
# [(the commander's steps, when after the departments' last)]); the orders' stories, late to done.
PLAN = [
    (1, 6 * H, [("acknowledge", 30 * M), ("start", 40 * M), ("progress", 2 * H)], []),  # resolution late
    (1, 3 * H, [], []),  # nobody acknowledged: late
    (3, 2 * H, [("acknowledge", 20 * M), ("start", 50 * M)], []),
    (2, 1 * H, [("acknowledge", 10 * M), ("extend", 30 * M)], []),  # an extension request waits for approval
    (2, 20 * H, [("acknowledge", 15 * M), ("start", 1 * H), ("resolve", 6 * H)], []),  # waiting for verification
    (3, 30 * H, [("acknowledge", 1 * H), ("start", 2 * H), ("resolve", 20 * H)], [("verify", 1 * H), ("close", 2 * H)]),
]
NOTES = {"progress": "已到场处置，部分完成", "resolve": "处置完毕，已拍照回传", "extend": "需协调施工单位，申请延期一天",
         "verify": "现场核查合格", "close": "结案"}
CASES_PER_ORDER = 3


def _pick_cases(store, pack, district: str, now: dt.datetime, taken: set[str]) -> list[dict]:
    """The district's most overdue open cases of its most frequent overdue category (at most 3)."""
    ids = [c for c in find_cases(store, Scope.city(), now, level_index=1, unit_id=district) if c not in taken]
    rows = gateway.query_rows(store, "dispatch_case_categories", Scope.city(), ids=ids[:200]) if ids else []
    rows = [r for r in rows if r["lead_department"]]
    if not rows:
        return []
    category, _ = Counter(r["category"] for r in rows).most_common(1)[0]
    order = {c: i for i, c in enumerate(ids)}
    return sorted((r for r in rows if r["category"] == category), key=lambda r: order[r["case_id"]])[:CASES_PER_ORDER]


def seed_orders(store, pack, *, now: dt.datetime | None = None, commander: str = "commander") -> list[str]:
    """Create the demo orders (PLAN) unless the store has orders already; returns their ids."""
    if store.cursor().execute("select count(*) from dispatch_orders").fetchall()[0][0]:
        return []
    now = now or utcnow()
    boss = actor_for(pack, commander, "commander", [])
    names = pack.categories.set_index("category_id").name_zh
    districts = list(pack.levels[0].units.unit_id)
    district_names = dict(zip(pack.levels[0].units.unit_id, pack.levels[0].units.name_zh))
    taken: set[str] = set()
    created = []
    next_district = 0
    for n, (priority, age, lead_steps, command_steps) in enumerate(PLAN):
        start = now - age
        cases, district = [], None
        while not cases and next_district < len(districts):  # the next district with overdue cases then
            district = districts[next_district]
            next_district += 1
            cases = _pick_cases(store, pack, district, start, taken)
        if not cases:
            break
        taken.update(c["case_id"] for c in cases)
        title = f"{names.get(cases[0]['category'], cases[0]['category'])}联动处置（{district_names[district]}）"
        try:
            _, order = create_order(store, pack, boss, {
                "title": title, "case_ids": [c["case_id"] for c in cases], "priority": priority,
                "instructions": "请主办部门牵头，协办部门配合，按时办结并回传现场照片。", "command_id": f"demo-seed-{n}"},
                origin="demo", now=start)
            lead = order["lead_department"]
            steps = []
            for k, dept in enumerate([lead, *order["assist_departments"]]):
                staff = actor_for(pack, f"dept-{dept}", "department", [f"department:{dept}"])
                steps += [(after + k * 5 * M, staff, action, dept) for action, after in lead_steps
                          if action != "extend" or dept == lead]
            last = max((s[0] for s in steps), default=dt.timedelta(0))
            steps += [(last + after, boss, action, "") for action, after in command_steps]
            for i, (after, actor, action, dept) in enumerate(sorted(steps, key=lambda s: s[0])):
                body = {"action": action, "expected_version": order["version"], "note": NOTES.get(action, ""),
                        "command_id": f"demo-seed-{n}-{i}", **({"department": dept} if dept else {})}
                if action == "extend":
                    body["hours"] = 24
                _, order = apply_action(store, pack, actor, order["id"], body, origin="demo", now=start + after)
        except DispatchError as exc:  # a demo nicety, never a reason not to start
            log.warning("demo order %d not seeded: %s", n, exc.reason)
            continue
        created.append(order["id"])
    return created
