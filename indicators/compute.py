"""Indicator values per unit (CONTRACT §6) and their lineage, through the SQL gateway.

    rows = compute(store, pack, Scope.city(), "cd", start, end)        # [{indicator, level, unit_id, ...}]
    ids = explain(store, pack, Scope.city(), "closure_rate", "cd", "05 Brooklyn", start, end)

Times are naive UTC datetimes (`parse_time` turns user input into them). Level "city" is one
unit (the pack's city id) holding every visible record, located or not; "department" groups the
case indicators by the case's department; any other level is a level of the city pack.
"""
from __future__ import annotations

import datetime as dt

from datasources import gateway, timedomain
from datasources.remote import in_writer
from datasources.timedomain import TimeDomain
from indicators import caseindex
from indicators.catalog import Indicator, catalog, get

ROW_COLUMNS = ("indicator", "level", "unit_id", "value", "numerator", "denominator")


class IndicatorError(ValueError):
    """A request that cannot be answered (unknown level or indicator, bad window)."""


def parse_time(text: str, timezone: str, domain: TimeDomain = timedomain.DEFAULT, name: str = "time") -> dt.datetime:
    """An ISO date or datetime as naive UTC inside the time domain; values without an offset are in
    `timezone` (datasources/timedomain.py); IndicatorError otherwise."""
    try:
        return timedomain.parse_time(str(text), timezone, domain, name)
    except timedomain.BadTime as exc:
        raise IndicatorError(str(exc)) from None


def _level(pack, level: str) -> tuple[str, int, bool]:
    """(level kind, level index, by department) for a level name."""
    if level == "city":
        return "city", 0, False
    if level == "department":
        return "department", 0, True
    try:
        return "pack", pack.level(level).index, False
    except KeyError:
        known = ["city", *[lv.id for lv in pack.levels], "department"]
        raise IndicatorError(f"unknown level {level!r}; levels are {', '.join(known)}") from None


def _select(indicators) -> list[Indicator]:
    if indicators is None:
        return catalog()
    if isinstance(indicators, str):
        indicators = [i for i in indicators.split(",")]
    chosen = []
    for ident in indicators:
        ident = ident.strip()
        if not ident:
            continue
        try:
            chosen.append(get(ident))
        except KeyError:
            raise IndicatorError(f"unknown indicator {ident!r}") from None
    return chosen


def _number(value):
    return value if value == value else None  # NaN (a missing median or mean) as None


def _rollup_serves(scope, kind: str, level_index: int, finest: int) -> bool:
    """Read the case rollups (migration 015) or the narrow case facts (migration 012)?

    The rollups hold whole units per day: they serve the city, the departments and the coarser
    levels of the pack for a city-wide scope or a scope of places at or above the level asked.
    At the finest level a unit-day holds a handful of cases, so the rollup is no smaller than the
    facts and a place-scoped read of the facts is faster (bench/bench_indicators.py: drill); a
    department's scope reads the facts too.
    """
    if scope.department:
        return False
    if kind == "pack":
        return level_index < finest and (scope.level_index == 0 or scope.level_index <= level_index)
    return scope.level_index == 0


def _case_rows(store, pack, scope, kind: str, params: dict) -> list[dict]:
    """The case indicators per unit: from the in-memory case index when the window is recent
    enough (indicators/caseindex.py), else from the rollups or the narrow facts in DuckDB."""
    rows = caseindex.case_rows(store, scope, **params)
    if rows is not None:
        return rows
    source = "ind_cases_rollup" if _rollup_serves(scope, kind, params["level_index"], len(pack.levels)) else "ind_cases"
    return gateway.query_rows(store, source, scope, **params)


@in_writer
def compute(store, pack, scope, level: str, start: dt.datetime, end: dt.datetime,
            indicators=None) -> list[dict]:
    """One row per (indicator, unit) of `level` for window [start, end), as-of = end.

    Rows have ROW_COLUMNS; numerator/denominator are None for indicators that are not ratios,
    and a ratio with a zero denominator has value None. Indicators that do not apply to the
    level (e.g. air quality by department) are left out.
    """
    if start is None or end is None or start >= end:
        raise IndicatorError("the window needs start < end")
    kind, level_index, by_department = _level(pack, level)
    wanted = [ind for ind in _select(indicators) if ind.applies_to(kind)]
    results: dict[str, list[dict]] = {}
    for sql in dict.fromkeys(ind.sql for ind in wanted):
        params = {"level_index": level_index, "city_id": pack.id, "start": start, "end": end}
        if sql in ("ind_cases", "ind_workflow"):
            params["by_department"] = by_department
        if sql == "ind_cases":
            results[sql] = _case_rows(store, pack, scope, kind, params)
        else:
            results[sql] = gateway.query_rows(store, sql, scope, **params)
    rows = []
    for ind in wanted:
        ident, column = ind.id, ind.column
        num, den = (ind.numerator_column, ind.denominator_column) if ind.is_ratio else (None, None)
        rows.extend({
            "indicator": ident,
            "level": level,
            "unit_id": unit["unit_id"],
            "value": _number(unit[column]),
            "numerator": _number(unit[num]) if num else None,
            "denominator": _number(unit[den]) if den else None,
        } for unit in results[ind.sql])
    return rows


@in_writer
def explain(store, pack, scope, indicator: str, level: str, unit_id: str, start: dt.datetime,
            end: dt.datetime) -> dict:
    """Lineage of a case indicator for one unit: the case ids in its numerator and denominator."""
    ind = _select([indicator])[0]
    if not ind.lineage:
        raise IndicatorError(f"{indicator} is not a case indicator; lineage is kept for case indicators")
    kind, level_index, by_department = _level(pack, level)
    if not ind.applies_to(kind):
        raise IndicatorError(f"{indicator} is not computed at level {level!r}")
    rows = gateway.query_rows(store, "ind_cases_lineage", scope, level_index=level_index, city_id=pack.id,
                              by_department=by_department, unit_id=unit_id, start=start, end=end)
    out = {}
    for part in ("numerator", "denominator"):
        flag = ind.lineage.get(part)
        out[part] = [row["case_id"] for row in rows if row[flag]] if flag else []
    return out


def to_csv(rows: list[dict], columns: tuple[str, ...] = ROW_COLUMNS) -> str:
    """CSV with the `columns` header (default ROW_COLUMNS); None as an empty cell."""
    import csv
    import io

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow(["" if row[c] is None else row[c] for c in columns])
    return buffer.getvalue()
