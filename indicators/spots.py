"""Hot spots and blind spots per department (issue 4 item 6), with the numbers as evidence.

    found = spots(store, pack, Scope.city(), start, end)            # level: the scope's child level
    found["hot"]    # [{department, unit_id, reported_now, baseline_mean, rise, ratio, ...}, ...]
    found["blind"]  # [{department, unit_id, reasons: ["overdue", ...], overdue_now, ...}, ...]

One SQL file (datasources/sql/spots_cases.sql) counts, per (department, unit), the cases reported
in the window W = [start, end), those reported in the `periods` windows of the same local length
just before it (the baseline), and the handling as of `end`. The rules below are plain and fixed,
so the same data always gives the same spots, in the same order.

Hot spot (demand rose most): with now = cases reported in W and base = the mean per baseline
period, a unit is hot for a department when
    now >= min_count  and  now - base >= min_rise  and  (now + 1) / (base + 1) >= min_ratio.
The +1 keeps the ratio finite and damps small counts (2 after 0 is not "infinitely" more). Order:
rise, then now, descending; then department and unit id.

Blind spot (demand but slow or no handling), as of `end`, for units with demand (now >= 1 or open
cases >= min_count); reasons, any of:
    "overdue"     open cases past their due time >= min_overdue and >= min_overdue_share of the open;
    "no_closure"  open cases >= min_count and not one case closed during W;
    "low_closure" due >= min_count and closed / due < low_closure, where due = reported in W and
                  closed or due by end, closed = reported in W and closed by end (the closure rate
                  of CONTRACT §6, so cases not yet due do not count against the unit).
Order: number of reasons, overdue, open (descending), closure share (ascending), department, unit.

Coverage: only baseline periods after the first case in the scope count (feed_coverage.sql); with
none covered there is no baseline and no hot spot ("periods" in the answer says how many were used).
"""
from __future__ import annotations

import datetime as dt
from collections import defaultdict

from datasources import gateway
from indicators.compare import baseline_start, feed_starts

DEFAULTS = {"periods": 4, "min_count": 5, "min_rise": 3, "min_ratio": 1.5, "min_overdue": 3,
            "min_overdue_share": 0.25, "low_closure": 0.5, "limit": 5}


class SpotsError(ValueError):
    """A request that cannot be answered (bad level or window)."""


def default_level(pack, scope) -> str:
    """The level just below the scope (the city's districts; a district's grid cells)."""
    index = min(scope.level_index + 1, len(pack.levels))
    return pack.levels[index - 1].id


def hot_spots(rows: list[dict], periods: int, min_count: int, min_rise: float, min_ratio: float) -> list[dict]:
    """Units whose demand rose most against the baseline mean, by the rule in the module doc."""
    hot = []
    for row in rows:
        now, base = row["reported_now"], row["reported_before"] / periods
        rise, smoothed = now - base, (now + 1) / (base + 1)
        if now >= min_count and rise >= min_rise and smoothed >= min_ratio:
            hot.append({"department": row["department"], "unit_id": row["unit_id"], "reported_now": now,
                        "reported_before": row["reported_before"], "periods": periods,
                        "baseline_mean": base, "rise": rise, "ratio": (now / base) if base else None,
                        "smoothed_ratio": smoothed})
    hot.sort(key=lambda s: (-s["rise"], -s["reported_now"], s["department"], s["unit_id"]))
    return hot


def blind_spots(rows: list[dict], min_count: int, min_overdue: int, low_closure: float,
                min_overdue_share: float = 0.0) -> list[dict]:
    """Units with demand and slow or no handling, by the rule in the module doc."""
    blind = []
    for row in rows:
        now, open_now, overdue = row["reported_now"], row["open_now"], row["overdue_now"]
        if not (now >= 1 or open_now >= min_count):
            continue
        due = row["due_of_reported"]
        share = row["closed_of_reported"] / due if due else None
        reasons = []
        if overdue >= min_overdue and overdue >= min_overdue_share * open_now:
            reasons.append("overdue")
        if open_now >= min_count and row["closures_in_window"] == 0:
            reasons.append("no_closure")
        if due >= min_count and share is not None and share < low_closure:
            reasons.append("low_closure")
        if reasons:
            blind.append({"department": row["department"], "unit_id": row["unit_id"], "reasons": reasons,
                          "reported_now": now, "closed_of_reported": row["closed_of_reported"], "due_of_reported": due,
                          "closure_share": share, "closures_in_window": row["closures_in_window"],
                          "open_now": open_now, "overdue_now": overdue,
                          "oldest_open_hours": row["oldest_open_hours"]})
    blind.sort(key=lambda s: (-len(s["reasons"]), -s["overdue_now"], -s["open_now"],
                              s["closure_share"] if s["closure_share"] is not None else 0.0,
                              s["department"], s["unit_id"]))
    return blind


def per_department(spots_list: list[dict], limit: int) -> dict[str, list[dict]]:
    """The first `limit` spots of each department, order kept; departments sorted by id."""
    grouped: dict[str, list[dict]] = defaultdict(list)
    for spot in spots_list:
        if len(grouped[spot["department"]]) < limit:
            grouped[spot["department"]].append(spot)
    return dict(sorted(grouped.items()))


def spots(store, pack, scope, start: dt.datetime, end: dt.datetime, level: str | None = None,
          **options) -> dict:
    """Hot and blind spots for window [start, end) at `level` (default: the scope's child level).

    Options (DEFAULTS): periods, min_count, min_rise, min_ratio, min_overdue, low_closure, limit
    (per department). Returns {"level", "since", "start", "end", "options", "hot", "blind",
    "hot_by_department", "blind_by_department"}; every spot carries its numbers.
    """
    unknown = set(options) - set(DEFAULTS)
    if unknown:
        raise SpotsError(f"unknown options {sorted(unknown)}")
    opts = {**DEFAULTS, **options}
    if start is None or end is None or start >= end:
        raise SpotsError("the window needs start < end")
    level = level or default_level(pack, scope)
    try:
        level_index = pack.level(level).index
    except KeyError:
        raise SpotsError(f"unknown level {level!r}; levels are {', '.join(lv.id for lv in pack.levels)}") from None
    first = feed_starts(store, scope).get("ind_cases")
    periods = opts["periods"]
    while periods > 0 and (first is None or baseline_start(start, end, pack.timezone, periods) < first):
        periods -= 1
    since = baseline_start(start, end, pack.timezone, periods)
    rows = gateway.query_rows(store, "spots_cases", scope, level_index=level_index, since=since, start=start, end=end)
    hot = hot_spots(rows, periods, opts["min_count"], opts["min_rise"], opts["min_ratio"]) if periods else []
    blind = blind_spots(rows, opts["min_count"], opts["min_overdue"], opts["low_closure"], opts["min_overdue_share"])
    return {"level": level, "since": since, "start": start, "end": end, "options": opts, "periods": periods,
            "hot": hot, "blind": blind,
            "hot_by_department": per_department(hot, opts["limit"]),
            "blind_by_department": per_department(blind, opts["limit"])}
