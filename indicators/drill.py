"""Drill-down for the console: a unit's rates (each one a link to its records), the cases behind a
rate (lineage), and one case with its timeline. Every read with the caller's Scope; no Dash."""
from __future__ import annotations

import datetime as dt

from datasources import gateway
from datasources.citypack import CityPack
from datasources.store import Store, utcnow
from dispatch.queue import case_orders
from indicators import catalog
from indicators.compute import compute, explain
from security.scope import Scope

SCORECARD = ("cases_reported", "closure_rate", "on_time_closure_rate", "open_backlog", "overdue_open", "median_close_hours")
DRILLABLE = {"cases_reported", "cases_closed", "cases_due", "closure_rate", "on_time_closure_rate", "open_backlog",
             "overdue_open"}


def default_window(now: dt.datetime | None = None, days: int = 30) -> tuple[dt.datetime, dt.datetime]:
    end = (now or utcnow()).replace(second=0, microsecond=0)
    return end - dt.timedelta(days=days), end


def unit_rates(store: Store, pack: CityPack, scope: Scope, level_id: str, unit_id: str,
               start: dt.datetime, end: dt.datetime) -> list[dict]:
    """The scorecard indicators of one unit: value, numerator, denominator, status, drillable."""
    rows = compute(store, pack, scope, level_id, start, end, ",".join(SCORECARD))
    mine = {row["indicator"]: row for row in rows if row["unit_id"] == unit_id}
    out = []
    for indicator_id in SCORECARD:
        row = mine.get(indicator_id)
        if row is None:
            continue
        indicator = catalog.get(indicator_id)
        out.append({**row, "name_zh": indicator.name_zh, "name_en": indicator.name_en, "unit": indicator.unit,
                    "status": indicator.status(row["value"]), "drillable": indicator_id in DRILLABLE,
                    "is_ratio": indicator.is_ratio})
    return out


def cases_behind(store: Store, pack: CityPack, scope: Scope, indicator: str, part: str, level_id: str, unit_id: str,
                 start: dt.datetime, end: dt.datetime, lang: str = "zh") -> list[dict]:
    """The cases in the numerator (or denominator) of `indicator` for one unit and window."""
    lineage = explain(store, pack, scope, indicator, level_id, unit_id, start, end)
    ids = lineage.get(part) or lineage.get("numerator") or []
    if not ids:
        return []
    rows = gateway.query_rows(store, "cases_by_ids", scope, ids=ids)
    categories = pack.categories.set_index("category_id")
    departments = pack.departments.set_index("department_id")
    name = "name_zh" if lang == "zh" else "name_en"
    for row in rows:
        row["category_name"] = categories[name].get(row["category"], row["category"])
        row["department"] = departments[name].get(row["department"], row["department"])
        row["unit_ids"] = list(row["unit_ids"] or [])
        overdue = row["due_at"] is not None and (row["closed_at"] or end) > row["due_at"]
        row["overdue"] = bool(overdue)
    return rows


def case_detail(store: Store, pack: CityPack, scope: Scope, case_id: str) -> dict | None:
    """One case the caller may see, with its status timeline and linked dispatch orders; else None."""
    rows = gateway.query_rows(store, "cases_by_ids", scope, ids=[case_id])
    if not rows:
        return None
    case = rows[0]
    case["timeline"] = gateway.query_rows(store, "case_timeline", scope, case_id=case_id)
    case["orders"] = case_orders(store, scope, case_id)
    return case
