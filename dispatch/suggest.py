"""What a new joint dispatch order should look like, before the commander decides.

    s = suggest(store, pack, scope, ["C-1", "C-2"], now=now)
    s.lead, s.assists           # department ids: the categories' rules, completed by history
    s.priority, s.due_at        # the most urgent case's priority; the deadline it implies
    s.reasons["yingji"]         # why each department is suggested (rule_lead, rule_assist, history ...)
    deadline_for(store, pack, scope, case_ids, 1)   # the deadline at another priority

Rules come from the city pack's categories (lead 主办 and assisting 协办 departments, time limit,
natural or working calendar). History looks at what worked: departments that resolved verified
or closed orders on cases of the same categories (and with whom), and the departments that closed
cases of those categories. The default lead and the deadline are dispatch.service's own
(category_lead, order_deadline: the earliest of each category's time limit on its calendar and
the priority's resolution SLA), so what the form shows is what the order gets. Nothing here imports Dash.
"""
from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field

from datasources import gateway
from datasources.store import utcnow
from dispatch.service import category_lead, order_deadline
from dispatch.states import SLA
from security.scope import Scope

HISTORY_DAYS = 180
MAX_ASSISTS = 4
# A department that resolved at least this share of similar past orders (and at least
# MIN_HISTORY_ORDERS of them) is suggested as an assisting department even without a rule.
HISTORY_SHARE = 0.5
MIN_HISTORY_ORDERS = 2


@dataclass(frozen=True)
class Suggestion:
    cases: list[dict]  # the visible cases among those asked for (dispatch_case_categories.sql rows)
    missing: list[str]  # ids asked for but unknown or outside the scope
    lead: str  # "" when neither rules nor history suggest one
    assists: list[str]
    priority: int
    due_at: dt.datetime | None  # naive UTC; None without cases
    working_calendar: bool  # some category counts its time limit in working time
    categories: list[tuple[str, int]]  # (category id, number of cases), most frequent first
    reasons: dict[str, list[str]] = field(default_factory=dict)  # department -> reason codes
    history_orders: int = 0  # similar orders resolved in the history window
    resolved_together: dict[str, int] = field(default_factory=dict)  # department -> similar orders it resolved
    closed_cases: dict[str, int] = field(default_factory=dict)  # department -> closed cases of the categories


def suggested_priority(cases: list[dict]) -> int:
    """The most urgent linked case's priority (1 = most urgent), 3 when none says."""
    priorities = [int(c["priority"]) for c in cases if c.get("priority") in SLA]
    return min(priorities) if priorities else 3


def _rules(cases: list[dict]) -> tuple[str, list[str]]:
    lead = category_lead(cases)  # exactly the lead create_order picks by default
    assists = list(dict.fromkeys(a for c in cases for a in (c.get("assist_departments") or []) if a != lead))
    return lead, assists


def suggest(store, pack, scope: Scope, case_ids: list[str], *, now: dt.datetime | None = None,
            history_days: int = HISTORY_DAYS) -> Suggestion:
    """The suggested lead and assisting departments, priority and deadline for these cases."""
    now = now or utcnow()
    ids = list(dict.fromkeys(c for c in case_ids if isinstance(c, str) and c))
    cases = gateway.query_rows(store, "dispatch_case_categories", scope, ids=ids) if ids else []
    missing = sorted(set(ids) - {c["case_id"] for c in cases})
    known = set(pack.departments.department_id)
    since = now - dt.timedelta(days=history_days)

    reasons: dict[str, list[str]] = {}

    def because(department: str, reason: str) -> None:
        if department in known and reason not in reasons.setdefault(department, []):
            reasons[department].append(reason)

    lead, assists = _rules(cases)
    if lead:
        because(lead, "rule_lead")
    for department in assists:
        because(department, "rule_assist")

    together: Counter = Counter()
    as_lead: Counter = Counter()
    orders: set[str] = set()
    closed: dict[str, int] = {}
    if cases:
        for row in gateway.query_rows(store, "dispatch_suggest_history", scope, ids=ids, since=since):
            orders.add(row["order_id"])
            together[row["department"]] += 1
            if row["task_role"] == "lead":
                as_lead[row["department"]] += 1
        closed = {r["department"]: r["closed_cases"]
                  for r in gateway.query_rows(store, "dispatch_suggest_case_departments", scope, ids=ids, since=since)}

    if not lead:  # no rule (unknown categories): the department that led most similar orders, else closed most cases
        ranked = [d for d, _ in as_lead.most_common() if d in known] or [d for d in closed if d in known]
        lead = ranked[0] if ranked else ""
        if lead:
            because(lead, "history_lead")
    for department, n in together.most_common():
        if department == lead or department not in known:
            continue
        if department in assists:
            because(department, "history_together")
        elif n >= MIN_HISTORY_ORDERS and n >= HISTORY_SHARE * len(orders):
            assists.append(department)
            because(department, "history_together")
    assists = [a for a in assists if a != lead and a in known][:MAX_ASSISTS]
    for department in [lead, *assists]:
        if closed.get(department):
            because(department, "history_cases")

    priority = suggested_priority(cases)
    categories = Counter(c["category"] for c in cases if c.get("category"))
    return Suggestion(
        cases=cases, missing=missing, lead=lead, assists=assists, priority=priority,
        due_at=order_deadline(pack, cases, priority, now) if cases else None,
        working_calendar=any(c.get("calendar") == "working" for c in cases),
        categories=categories.most_common(), reasons=reasons, history_orders=len(orders),
        resolved_together=dict(together), closed_cases=closed,
    )


def deadline_for(store, pack, scope: Scope, case_ids: list[str], priority: int, *,
                 now: dt.datetime | None = None) -> tuple[dt.datetime | None, bool]:
    """The deadline these cases get at `priority` (None without visible cases), and whether some
    category counts working time only."""
    now = now or utcnow()
    ids = list(dict.fromkeys(c for c in case_ids or [] if isinstance(c, str) and c))
    cases = gateway.query_rows(store, "dispatch_case_categories", scope, ids=ids) if ids else []
    if not cases or priority not in SLA:
        return None, False
    return order_deadline(pack, cases, priority, now), any(c.get("calendar") == "working" for c in cases)
