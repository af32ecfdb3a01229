"""Comparisons for indicator values (issue 4 item 5): previous period (环比), same period last
year (同比), change, good/bad direction, and the rank of each unit among its siblings.

    rows = compare(store, pack, Scope.city(), "district", start, end)
    # each row: ROW_COLUMNS of indicators.compute plus COMPARE_COLUMNS

Only `indicators.compute.compute` is called (three times: current, previous, last year), so the
numbers are exactly the ones the rest of the app shows for those windows.

Windows are shifted on the wall clock of the city's time zone, so that a "day" stays midnight to
midnight across a daylight-saving change:
- previous period: [start - (end - start), start), the length measured in local wall time;
- same period last year: start and end moved back one calendar year in local time. Feb 29 has no
  twin: a start on Feb 29 becomes Feb 28, an end on Feb 29 becomes Mar 1, so the comparison window
  is never empty and covers the matching days.

Coverage: a base window that starts before the feed's first record in the scope (table
feed_coverage.sql) is not covered by data; its values (a count of 0 there means "no data", not
"nothing happened") are given as None, so no change is claimed against them.

Change = current - base; relative change = change / |base| (None when base is 0 or either value
is None). Direction is "good" when the change goes the indicator's `better` way, "bad" when it
goes against it, "flat" when there is no change, None when not computable.

Rank: among the units of the same level that share a parent unit in the city pack (for the top
level, the city; for "city" and "department" all units are siblings), 1 = best by `better`.
Equal values share a rank (competition ranking: 1, 2, 2, 4); empty values are not ranked.
`rank_of` is the number of ranked siblings.
"""
from __future__ import annotations

import datetime as dt
import zoneinfo
from collections import defaultdict

from datasources import gateway
from indicators.catalog import get
from indicators.compute import ROW_COLUMNS, compute

COMPARE_COLUMNS = ("prev_value", "prev_change", "prev_change_rel", "prev_direction",
                   "yoy_value", "yoy_change", "yoy_change_rel", "yoy_direction", "rank", "rank_of")
COLUMNS = (*ROW_COLUMNS, *COMPARE_COLUMNS)  # a compared row, in CSV order (compute.to_csv(rows, COLUMNS))


# ---------------------------------------------------------------------------- windows


def _to_local(moment: dt.datetime, tz: zoneinfo.ZoneInfo) -> dt.datetime:
    return moment.replace(tzinfo=dt.UTC).astimezone(tz).replace(tzinfo=None)


def _to_utc(local: dt.datetime, tz: zoneinfo.ZoneInfo) -> dt.datetime:
    return local.replace(tzinfo=tz).astimezone(dt.UTC).replace(tzinfo=None)


def baseline_start(start: dt.datetime, end: dt.datetime, timezone: str, periods: int = 1) -> dt.datetime:
    """Start of `periods` windows of [start, end)'s local wall-clock length just before it (naive UTC)."""
    tz = zoneinfo.ZoneInfo(timezone)
    local_start, local_end = _to_local(start, tz), _to_local(end, tz)
    return _to_utc(local_start - periods * (local_end - local_start), tz)


def previous_window(start: dt.datetime, end: dt.datetime, timezone: str) -> tuple[dt.datetime, dt.datetime]:
    """The period of the same local wall-clock length just before [start, end) (naive UTC in and out)."""
    return baseline_start(start, end, timezone), start


def _year_back(local: dt.datetime, is_end: bool) -> dt.datetime:
    if local.month == 2 and local.day == 29:
        return local.replace(year=local.year - 1, month=3, day=1) if is_end else local.replace(year=local.year - 1, day=28)
    return local.replace(year=local.year - 1)


def last_year_window(start: dt.datetime, end: dt.datetime, timezone: str) -> tuple[dt.datetime, dt.datetime]:
    """[start, end) moved back one calendar year in the city's local time (naive UTC in and out)."""
    tz = zoneinfo.ZoneInfo(timezone)
    return (_to_utc(_year_back(_to_local(start, tz), False), tz),
            _to_utc(_year_back(_to_local(end, tz), True), tz))


def windows(pack, start: dt.datetime, end: dt.datetime) -> dict[str, tuple[dt.datetime, dt.datetime]]:
    """{"current", "previous", "last_year"}: the three windows a comparison reads."""
    return {"current": (start, end), "previous": previous_window(start, end, pack.timezone),
            "last_year": last_year_window(start, end, pack.timezone)}


# ---------------------------------------------------------------------------- pure parts


def change(current, base) -> tuple[float | None, float | None]:
    """(current - base, (current - base) / |base|); None where not computable."""
    if current is None or base is None:
        return None, None
    delta = current - base
    return delta, (delta / abs(base) if base != 0 else None)


def direction(better: str, delta) -> str | None:
    """"good" / "bad" / "flat" for a change of an indicator whose better direction is `better`."""
    if delta is None:
        return None
    if delta == 0:
        return "flat"
    return "good" if (delta > 0) == (better == "up") else "bad"


def rank_values(values: dict[str, float | None], better: str) -> dict[str, int | None]:
    """Competition rank of each key by value, 1 = best by `better`; ties share; None unranked."""
    ranked = sorted((v for v in values.values() if v is not None), reverse=(better == "up"))
    first = {}
    for position, value in enumerate(ranked, start=1):
        first.setdefault(value, position)
    return {key: (first[value] if value is not None else None) for key, value in values.items()}


def _parent(pack, level: str, unit_id: str):
    if level in ("city", "department"):
        return None
    return (pack.units_by_id.get((level, unit_id)) or {}).get("parent_id")


def add_comparisons(pack, level: str, rows: list[dict], previous: list[dict], last_year: list[dict],
                    uncovered: frozenset = frozenset()) -> list[dict]:
    """Rows of compute() for the current window, each with COMPARE_COLUMNS added (new dicts).

    `uncovered` holds (prefix, indicator) pairs, prefix "prev" or "yoy", whose base window has no
    data: their base values are None."""
    prev_by = {(r["indicator"], r["unit_id"]): r["value"] for r in previous if ("prev", r["indicator"]) not in uncovered}
    yoy_by = {(r["indicator"], r["unit_id"]): r["value"] for r in last_year if ("yoy", r["indicator"]) not in uncovered}
    groups: dict[tuple, dict[int, float | None]] = defaultdict(dict)
    for n, row in enumerate(rows):
        groups[(row["indicator"], _parent(pack, level, row["unit_id"]))][n] = row["value"]
    ranks: dict[int, int | None] = {}
    rank_of: dict[int, int] = {}
    for (indicator, _), members in groups.items():
        ranks.update(rank_values(members, get(indicator).better))
        count = sum(v is not None for v in members.values())
        rank_of.update({n: count for n in members})
    out = []
    for n, row in enumerate(rows):
        better = get(row["indicator"]).better
        key = (row["indicator"], row["unit_id"])
        extra = {}
        for prefix, base_by in (("prev", prev_by), ("yoy", yoy_by)):
            base = base_by.get(key)
            delta, rel = change(row["value"], base)
            extra.update({f"{prefix}_value": base, f"{prefix}_change": delta, f"{prefix}_change_rel": rel,
                          f"{prefix}_direction": direction(better, delta)})
        out.append({**row, **extra, "rank": ranks[n], "rank_of": rank_of[n]})
    return out


# ---------------------------------------------------------------------------- entry point


def compare(store, pack, scope, level: str, start: dt.datetime, end: dt.datetime, indicators=None) -> list[dict]:
    """compute() for [start, end) with 环比, 同比 and sibling ranks (COMPARE_COLUMNS) on every row."""
    current = compute(store, pack, scope, level, start, end, indicators)
    spans = windows(pack, start, end)
    wanted = list(dict.fromkeys(r["indicator"] for r in current))
    uncovered = uncovered_bases(store, scope, wanted, spans)
    bases = {}
    for prefix, span in (("prev", spans["previous"]), ("yoy", spans["last_year"])):
        covered = [ident for ident in wanted if (prefix, ident) not in uncovered]
        # a base window without data is not read at all
        bases[prefix] = compute(store, pack, scope, level, *span, covered) if covered else []
    return add_comparisons(pack, level, current, bases["prev"], bases["yoy"], uncovered)


def feed_starts(store, scope) -> dict[str, dt.datetime | None]:
    """First record time per indicator SQL file ("ind_cases", "ind_air", "ind_waits") in the scope."""
    return {r["feed"]: r["first_at"] for r in gateway.query_rows(store, "feed_coverage", scope)}


def uncovered_bases(store, scope, indicator_ids, spans: dict) -> frozenset:
    """(prefix, indicator) pairs whose base window starts before the indicator's feed has data."""
    firsts = feed_starts(store, scope)
    out = set()
    for ident in indicator_ids:
        first = firsts.get(get(ident).sql)
        for prefix, window in (("prev", spans["previous"]), ("yoy", spans["last_year"])):
            if first is None or window[0] < first:
                out.add((prefix, ident))
    return frozenset(out)
