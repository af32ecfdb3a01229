"""Dispatch effectiveness: department response times, and the area's indicators before/after.

    report = effectiveness(store, pack, scope, since, until)       # what GET /api/v1/dispatch-metrics answers
    rows = department_times(task_rows)                              # pure: per-department summary

Response times count from the task's issue (its order's creation, or the reassignment that
created it) to acknowledgement and to resolution, in minutes: count, median, p90 and the number
of late tasks (past the acknowledgement deadline / the resolution deadline; a step still open
at `as_of` counts as late once its deadline passed). Orders created in [since, until).

Before/after: for each order completed (verified or closed) in [since, until), the case
indicators of the area of its cases (the finest unit holding all of them; or each district they
lie in) over the window of `window_hours` before the order's launch and the window after its
completion (cut at `as_of`), through indicators.compute.compute.
"""
from __future__ import annotations

import datetime as dt
import itertools
import math

from datasources import gateway
from datasources.store import utcnow
from dispatch.isotime import iso
from security.scope import Scope

AREA_INDICATORS = ("open_backlog", "overdue_open", "closure_rate")
MAX_ORDERS = 200


def _quantile(values: list[float], q: float) -> float | None:
    """Linear interpolation between closest ranks (numpy's default, DuckDB's quantile_cont)."""
    if not values:
        return None
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q
    low, high = math.floor(pos), math.ceil(pos)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def _stats(values: list[float], late: int) -> dict:
    median, p90 = _quantile(values, 0.5), _quantile(values, 0.9)
    return {"count": len(values), "median_minutes": None if median is None else round(median, 2),
            "p90_minutes": None if p90 is None else round(p90, 2), "late": late}


def department_times(task_rows: list[dict]) -> list[dict]:
    """Per department: tasks, acknowledge and resolve statistics (pure; rows of dispatch_task_times)."""
    by_department: dict[str, list[dict]] = {}
    for row in task_rows:
        by_department.setdefault(row["department"], []).append(row)
    out = []
    for department, rows in sorted(by_department.items()):
        out.append({
            "department": department,
            "tasks": len(rows),
            "acknowledge": _stats([r["ack_minutes"] for r in rows if r["ack_minutes"] is not None],
                                  sum(1 for r in rows if r["ack_late"])),
            "resolve": _stats([r["resolve_minutes"] for r in rows if r["resolve_minutes"] is not None],
                              sum(1 for r in rows if r["resolve_late"])),
        })
    return out


def order_area(case_units, scope: Scope) -> tuple[int, list[str]]:
    """(level index, unit ids) of the area of an order's cases that `scope` may see.

    The finest level at which every case lies in one unit; if the cases span several units even
    at the coarsest level, those units. A unit scope keeps only units inside its own units.
    """
    paths = [tuple(itertools.takewhile(bool, u or ())) for u in case_units]  # a case without a grid: up to its street
    paths = [p for p in paths if p]
    lvl = scope.level_index
    if lvl:
        paths = [p for p in paths if len(p) >= lvl and p[lvl - 1] in scope.unit_ids]
    if not paths:
        return 0, []
    level, units = 1, sorted({p[0] for p in paths})
    for k in range(min(len(p) for p in paths), 0, -1):
        at_k = {p[k - 1] for p in paths}
        if len(at_k) == 1:
            level, units = k, sorted(at_k)
            break
    if lvl and level < lvl:  # coarser than the caller's units: only the units they hold
        level, units = lvl, sorted({p[lvl - 1] for p in paths})
    return level, units


def _combine(rows: list[dict], indicators) -> dict:
    """Indicator rows of several units as one area: counts add up, ratios from summed parts."""
    out = {}
    for ind in indicators:
        mine = [r for r in rows if r["indicator"] == ind]
        if not mine:
            out[ind] = {"value": None, "numerator": None, "denominator": None}
        elif any(r["denominator"] is not None or r["numerator"] is not None for r in mine):
            num = sum(r["numerator"] or 0 for r in mine)
            den = sum(r["denominator"] or 0 for r in mine)
            out[ind] = {"value": num / den if den else None, "numerator": num, "denominator": den}
        else:
            values = [r["value"] for r in mine if r["value"] is not None]
            out[ind] = {"value": sum(values) if values else None, "numerator": None, "denominator": None}
    return out


def before_after(store, pack, scope: Scope, order: dict, window: dt.timedelta, as_of: dt.datetime,
                 indicators=AREA_INDICATORS) -> dict:
    """The area's indicators for [launch - window, launch) and [completion, completion + window)."""
    from indicators.compute import compute

    level_index, units = order_area(order["case_units"], scope)
    result = {"order_id": order["order_id"], "title": order["title"], "lead_department": order["lead_department"],
              "created_at": iso(order["created_at"]), "completed_at": iso(order["completed_at"]),
              "level": pack.levels[level_index - 1].id if level_index else None, "unit_ids": units}
    if not units:
        return {**result, "before": None, "after": None, "change": None}
    # Only the area's units are computed (a narrower scope than the caller's, so nothing extra shows).
    area = Scope(level_index=level_index, unit_ids=tuple(units), department=scope.department)
    level = pack.levels[level_index - 1].id
    launch, done = order["created_at"], order["completed_at"]
    windows = {"before": (launch - window, launch), "after": (done, min(done + window, as_of))}
    for name, (start, end) in windows.items():
        if start >= end:
            result[name] = None
            continue
        rows = [r for r in compute(store, pack, area, level, start, end, list(indicators)) if r["unit_id"] in units]
        result[name] = {"start": iso(start), "end": iso(end), "complete": end - start >= window,
                        "indicators": _combine(rows, indicators)}
    if result["before"] and result["after"]:
        result["change"] = {
            ind: (None if result["after"]["indicators"][ind]["value"] is None
                  or result["before"]["indicators"][ind]["value"] is None
                  else result["after"]["indicators"][ind]["value"] - result["before"]["indicators"][ind]["value"])
            for ind in indicators
        }
    else:
        result["change"] = None
    return result


def effectiveness(store, pack, scope: Scope, since: dt.datetime, until: dt.datetime, *,
                  window_hours: float = 168.0, as_of: dt.datetime | None = None,
                  max_orders: int = MAX_ORDERS) -> dict:
    """Department response times for orders created in [since, until) and the before/after of
    the areas of orders completed in [since, until) (newest first, at most `max_orders`)."""
    if since >= until:
        raise ValueError("since must be before until")
    if not 0 < window_hours <= 24 * 366:
        raise ValueError("window_hours must be in (0, 8784]")
    as_of = as_of or utcnow()
    tasks = gateway.query_rows(store, "dispatch_task_times", scope, since=since, until=until, as_of=as_of)
    closed = gateway.query_rows(store, "dispatch_closed_orders", scope, since=since, until=until,
                                limit=max_orders + 1)
    window = dt.timedelta(hours=window_hours)
    return {
        "since": iso(since), "until": iso(until), "as_of": iso(as_of), "window_hours": window_hours,
        "departments": department_times(tasks),
        "orders": [before_after(store, pack, scope, order, window, as_of) for order in closed[:max_orders]],
        "orders_truncated": len(closed) > max_orders,
    }
