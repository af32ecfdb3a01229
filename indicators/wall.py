"""What the wall display shows (no Dash here): today's city KPIs, district open cases, anomalies.

    board = wall_board(store, pack, scope)          # on every data-version change
    pulse = wall_pulse(store, settings)               # on every poll tick: feed ages grow

"Today" is the city's local midnight to now. Every read goes through the SQL gateway with the
caller's scope (feed freshness is metadata and city-wide, see datasources.health).
"""
from __future__ import annotations

import datetime as dt
import zoneinfo

from datasources import gateway
from datasources.citypack import CityPack
from datasources.health import feed_health_for
from datasources.store import Store, utcnow
from indicators.catalog import get
from indicators.compute import compute
from indicators.layers import dispatch_board
from indicators.overview import headline_status, unit_ranking
from security.scope import Scope

# The wall's KPI column, in display order.
WALL_INDICATORS = ("cases_reported", "cases_closed", "closure_rate", "on_time_closure_rate", "open_backlog",
                   "overdue_open", "pm25_mean", "device_online_rate", "wait_mean_minutes")
SILENT_MINUTES = 15
TOP_OVERDUE = 3
TICKER_ALERTS = 4   # what fits the wall's alert column at 1080p (stalled feeds come first, every tick)
BOARD_ORDERS = 4


def today_window(timezone: str, now: dt.datetime | None = None) -> tuple[dt.datetime, dt.datetime]:
    """[local midnight, now) of the city's zone, as naive UTC datetimes."""
    now = now or utcnow()
    zone = zoneinfo.ZoneInfo(timezone)
    local = now.replace(tzinfo=dt.UTC).astimezone(zone)
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    start = midnight.astimezone(dt.UTC).replace(tzinfo=None)
    return start, max(now, start + dt.timedelta(microseconds=1))


def wall_kpis(store: Store, pack: CityPack, scope: Scope, now: dt.datetime | None = None) -> list[dict]:
    """City-wide values for today of WALL_INDICATORS: id, names, value, unit, status (green/amber/red/None)."""
    start, end = today_window(pack.timezone, now)
    rows = compute(store, pack, scope, "city", start, end, indicators=list(WALL_INDICATORS))
    values = {row["indicator"]: row["value"] for row in rows}
    out = []
    for ident in WALL_INDICATORS:
        ind = get(ident)
        value = values.get(ident)
        out.append({"id": ident, "name_zh": ind.name_zh, "name_en": ind.name_en, "unit": ind.unit,
                    "value": value, "status": headline_status(ind, value)})
    return out


def silent_devices(store: Store, scope: Scope, as_of: dt.datetime | None = None,
                   minutes: int = SILENT_MINUTES) -> list[dict]:
    """Devices in the scope with no reading in the last `minutes` before `as_of` (never heard first)."""
    return gateway.query_rows(store, "silent_devices", scope, as_of=as_of or utcnow(), silent_minutes=minutes)


def wall_board(store: Store, pack: CityPack, scope: Scope, now: dt.datetime | None = None) -> dict:
    """Everything on the wall that follows the data version.

    kpis: see wall_kpis. districts: the first level's units with open and overdue counts (for the
    map). overdue_top: up to TOP_OVERDUE districts with overdue open cases, most first.
    silent_devices: how many devices are silent and a few of their names.
    alerts: the alert engine's open spike and threshold alerts, most severe first, at most
    TICKER_ALERTS, and alerts_more = how many were left out.
    dispatch: open joint dispatch orders (late first, at most BOARD_ORDERS), counts by state, late.
    focus: the districts with a live anomaly (an open spike or threshold alert), each with
    the title of its most severe alert, for the map's auto-focus.
    """
    from alerts.engine import alert_panel

    now = now or utcnow()
    level = pack.levels[0]
    districts = unit_ranking(store, pack, scope, level.id, as_of=now)
    overdue = sorted((r for r in districts if r["overdue_cases"]), key=lambda r: (-r["overdue_cases"], r["unit_id"]))
    silent = silent_devices(store, scope, as_of=now)
    panel = alert_panel(store, pack, scope, limit=200)
    # device silences are summed up in one line (silent_devices, the engine's own rule); feed stalls
    # are on the pulse; every other open alert is listed on its own
    ticker = [a for a in panel["alerts"] if a["rule"] not in ("feed_silence", "device_silence")]
    focus: dict[str, dict] = {}
    for a in ticker:
        if a["level"] == level.id and a["unit_id"] and a["unit_id"] not in focus:
            focus[a["unit_id"]] = {"unit_id": a["unit_id"], "name_zh": a["unit_name_zh"], "name_en": a["unit_name_en"],
                                   "title_zh": a["title_zh"], "title_en": a["title_en"], "severity": a["severity"]}
    board = dispatch_board(store, scope, as_of=now)
    return {
        "as_of": now,
        "level": level.id,
        "kpis": wall_kpis(store, pack, scope, now),
        "districts": districts,
        "overdue_top": overdue[:TOP_OVERDUE],
        "silent_devices": {"count": len(silent), "names": [d["name"] or d["device_id"] for d in silent[:3]],
                           "minutes": SILENT_MINUTES},
        "alerts": ticker[:TICKER_ALERTS],
        "alerts_more": max(0, len(ticker) - TICKER_ALERTS),
        "dispatch": {**board, "orders": board["orders"][:BOARD_ORDERS]},
        "focus": list(focus.values()),
    }


def wall_pulse(store: Store, settings, now: dt.datetime | None = None) -> dict:
    """What changes with time alone: every feed's freshness (configured thresholds), the stalled feeds, the time."""
    now = now or utcnow()
    feeds = feed_health_for(store, settings, now=now)
    stalled = [{"feed": feed, "state": info["state"], "age_s": info["age_s"]}
               for feed, info in feeds.items() if info["state"] != "ok"]
    stalled.sort(key=lambda s: (s["state"] != "red", s["feed"]))
    return {"at": now, "feeds": feeds, "stalled": stalled}
