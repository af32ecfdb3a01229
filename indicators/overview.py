"""Per-unit figures for the map and the ranked lists (open backlog and overdue, CONTRACT §6)."""
from __future__ import annotations

import datetime as dt
import zoneinfo

from datasources import gateway
from datasources.citypack import CityPack
from datasources.store import Store, utcnow
from security.scope import Scope


def unit_ranking(store: Store, pack: CityPack, scope: Scope, level_id: str, parent: str | None = None,
                 as_of: dt.datetime | None = None) -> list[dict]:
    """Units of `level_id` (optionally only children of `parent`) with open and overdue case counts."""
    level = pack.level(level_id)
    return gateway.query_rows(
        store, "open_cases_by_unit", scope, level_index=level.index, parent=parent or "", as_of=as_of or utcnow()
    )


def unit_scorecard(store: Store, pack: CityPack, scope: Scope, level_id: str, unit_id: str,
                   as_of: dt.datetime | None = None) -> dict | None:
    """The unit's own open and overdue counts, or None when it is unknown or outside the scope."""
    level = pack.level(level_id)
    parent = pack.units_by_id.get((level_id, unit_id), {}).get("parent_id")
    rows = gateway.query_rows(
        store, "open_cases_by_unit", scope, level_index=level.index, parent=parent or "", as_of=as_of or utcnow()
    )
    return next((row for row in rows if row["unit_id"] == unit_id), None)


# ---------------------------------------------------------------- the city overview (laptop)

# Indicators a district leader can colour the district layer by, and the KPI ribbon, in order.
MAP_INDICATORS = ("open_backlog", "overdue_open", "cases_reported", "closure_rate", "on_time_closure_rate",
                  "median_close_hours", "pm25_mean", "device_online_rate", "wait_mean_minutes")
KPI_INDICATORS = ("cases_reported", "closure_rate", "on_time_closure_rate", "overdue_open", "pm25_mean",
                  "device_online_rate", "wait_mean_minutes")
TREND_INDICATORS = ("cases_reported", "closure_rate", "pm25_mean", "wait_mean_minutes")
TREND_DAYS = 14
_TREND_TTL_S = 300
_trend_cache: dict[tuple, tuple[float, dict]] = {}


def indicator_window(indicator_id: str, now: dt.datetime | None = None) -> tuple[dt.datetime, dt.datetime]:
    """The catalog's default window of an indicator (P1D, P7D, P30D) ending now, as [start, end)."""
    from indicators.catalog import get

    end = now or utcnow()
    return end - iso_duration(get(indicator_id).default_window), end


def iso_duration(text: str) -> dt.timedelta:
    """An ISO 8601 duration of days, hours and minutes (P1D, P7D, PT15M, P1DT12H)."""
    import re

    match = re.fullmatch(r"P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?)?", text or "")
    if not match or not any(match.groups()):
        raise ValueError(f"not a day/hour/minute ISO duration: {text!r}")
    days, hours, minutes = (int(g or 0) for g in match.groups())
    return dt.timedelta(days=days, hours=hours, minutes=minutes)


def _change(value, previous) -> dict:
    if value is None or previous is None:
        return {"direction": None, "delta": None, "pct": None}
    delta = value - previous
    direction = "same" if abs(delta) < 1e-9 else ("up" if delta > 0 else "down")
    return {"direction": direction, "delta": delta, "pct": None if not previous else delta / abs(previous)}


def headline_status(ind, value) -> str | None:
    """A city-wide headline's colour by the catalog (green/amber/red); None for counts, whose thresholds
    are per unit and window, and for empty values."""
    return None if ind.unit == "cases" else ind.status(value)


def kpi_previous(store: Store, pack: CityPack, scope: Scope, indicators=KPI_INDICATORS,
                 now: dt.datetime | None = None) -> dict[str, object]:
    """Each KPI's value over the window of the same length just before its catalog window (环比)."""
    from indicators.catalog import get
    from indicators.compare import previous_window
    from indicators.compute import compute

    now = now or utcnow()
    by_window: dict[str, list[str]] = {}
    for ident in indicators:
        by_window.setdefault(get(ident).default_window, []).append(ident)
    values = {}
    for group in by_window.values():
        start, end = indicator_window(group[0], now)
        for r in compute(store, pack, scope, "city", *previous_window(start, end, pack.timezone), indicators=group):
            values[r["indicator"]] = r["value"]
    return values


def kpi_ribbon(store: Store, pack: CityPack, scope: Scope, indicators=KPI_INDICATORS,
               now: dt.datetime | None = None, previous: dict | None = None) -> list[dict]:
    """The scope's value of each KPI over its catalog window against the previous window of the same length.

    One dict per indicator: id, name_zh, name_en, unit, window (P1D...), is_ratio, better,
    thresholds, value, previous, status (green/amber/red by the catalog; None for counts, whose
    thresholds are per unit, and for empty values), direction (up/down/same/None), delta, pct,
    improved (True when the change goes the indicator's better way; None when unchanged or not comparable).
    `previous`: the kpi_previous values when the caller has them (they move slowly), else computed.
    """
    from indicators.catalog import get
    from indicators.compute import compute

    now = now or utcnow()
    ids = list(indicators)
    by_window: dict[str, list[str]] = {}
    for ident in ids:
        by_window.setdefault(get(ident).default_window, []).append(ident)
    now_values = {}
    for window, group in by_window.items():
        start, end = indicator_window(group[0], now)
        for r in compute(store, pack, scope, "city", start, end, indicators=group):
            now_values[r["indicator"]] = r["value"]
    before_values = previous if previous is not None else kpi_previous(store, pack, scope, ids, now)
    out = []
    for ident in ids:
        ind = get(ident)
        value, previous = now_values.get(ident), before_values.get(ident)
        change = _change(value, previous)
        improved = None
        if change["direction"] in ("up", "down"):
            improved = (change["direction"] == "up") == (ind.better == "up")
        out.append({"id": ident, "name_zh": ind.name_zh, "name_en": ind.name_en, "unit": ind.unit,
                    "window": ind.default_window, "is_ratio": ind.is_ratio, "better": ind.better,
                    "thresholds": dict(ind.thresholds), "value": value, "previous": previous,
                    "status": headline_status(ind, value),
                    **change, "improved": improved})
    return out


def local_days(timezone: str, days: int, now: dt.datetime | None = None) -> list[tuple[dt.date, dt.datetime, dt.datetime]]:
    """The last `days` local calendar days up to today (today ends at now): (date, start, end) in naive UTC."""
    now = now or utcnow()
    zone = zoneinfo.ZoneInfo(timezone)
    today = now.replace(tzinfo=dt.UTC).astimezone(zone).date()
    out = []
    for back in range(days - 1, -1, -1):
        day = today - dt.timedelta(days=back)
        start = dt.datetime.combine(day, dt.time(), zone).astimezone(dt.UTC).replace(tzinfo=None)
        end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), zone).astimezone(dt.UTC).replace(tzinfo=None)
        out.append((day, start, min(end, now)))
    return out


def daily_trend(store: Store, pack: CityPack, scope: Scope, indicators=TREND_INDICATORS, days: int = TREND_DAYS,
                now: dt.datetime | None = None) -> dict[str, list[dict]]:
    """Daily values of each indicator for the scope over the last `days` local days (today so far last).

    {indicator: [{"day": "YYYY-MM-DD", "value": v | None}, ...]}. Finished days are cached for a few
    minutes per scope (they change only with late records); today is computed on every call.
    """
    import time

    from indicators.compute import compute

    ids = list(indicators)
    out: dict[str, list[dict]] = {ident: [] for ident in ids}
    schedule = local_days(pack.timezone, days, now)
    for i, (day, start, end) in enumerate(schedule):
        finished = i < len(schedule) - 1
        key = (pack.id, scope, tuple(ids), day)
        cached = _trend_cache.get(key) if finished else None
        if cached and time.monotonic() - cached[0] < _TREND_TTL_S:
            values = cached[1]
        else:
            values = {r["indicator"]: r["value"] for r in compute(store, pack, scope, "city", start, end, indicators=ids)}
            if finished:
                _trend_cache[key] = (time.monotonic(), values)
        for ident in ids:
            out[ident].append({"day": day.isoformat(), "value": values.get(ident)})
    if len(_trend_cache) > 5000:  # many scopes over many days: start afresh rather than grow
        _trend_cache.clear()
    return out


def indicator_by_unit(store: Store, pack: CityPack, scope: Scope, level_id: str, indicator_id: str,
                      now: dt.datetime | None = None) -> dict:
    """Each visible unit of `level_id` with the indicator's value over its catalog window and threshold status.

    {"indicator", "window", "start", "end", "rows": [{unit_id, value, numerator, denominator, status}]}
    """
    from indicators.catalog import get
    from indicators.compute import compute

    ind = get(indicator_id)
    start, end = indicator_window(indicator_id, now)
    rows = compute(store, pack, scope, level_id, start, end, indicators=[indicator_id])
    return {"indicator": indicator_id, "window": ind.default_window, "start": start, "end": end,
            "rows": [{"unit_id": r["unit_id"], "value": r["value"], "numerator": r["numerator"],
                      "denominator": r["denominator"], "status": ind.status(r["value"])} for r in rows]}


def units_map(store: Store, pack: CityPack, scope: Scope, level_id: str, parent: str | None = None,
              indicator_id: str | None = None, now: dt.datetime | None = None) -> dict:
    """What the map and the ranked list of a level show, in one call.

    {"ranking": unit_ranking rows (open and overdue counts), "indicator": indicator_by_unit of
    `indicator_id` when one is chosen (the map is coloured by its thresholds), else None (the map is
    coloured by open cases)}.
    """
    return {"ranking": unit_ranking(store, pack, scope, level_id, parent=parent, as_of=now),
            "indicator": indicator_by_unit(store, pack, scope, level_id, indicator_id, now) if indicator_id else None}


def kpi_board(store: Store, pack: CityPack, scope: Scope, now: dt.datetime | None = None,
              previous: dict | None = None) -> list[dict]:
    """The overview's KPI ribbon (kpi_ribbon) with each KPI's daily trend (daily_trend) as "trend"."""
    now = now or utcnow()
    kpis = kpi_ribbon(store, pack, scope, now=now, previous=previous)
    trend = daily_trend(store, pack, scope, indicators=[k["id"] for k in kpis], now=now)
    return [{**k, "trend": trend.get(k["id"], [])} for k in kpis]
