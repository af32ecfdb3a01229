"""Point layers of the overview map (no Dash here): case hexbins, sensors, service halls, dispatch orders.

    cells = case_hexbins(store, scope, start, end)          # [{"hex": "8831aa...", "count": 12}]
    board = dispatch_board(store, scope)                      # open orders, counts by state, late ones

Everything goes through the SQL gateway with the caller's scope. Case points are aggregated to H3
cells here, so the browser gets a few hundred (cell, count) pairs, never the cases themselves.
"""
from __future__ import annotations

import datetime as dt
from collections import Counter

import h3

from datasources import gateway
from datasources.store import Store, utcnow
from security.scope import Scope

HEX_RESOLUTION = 7  # ~5 km² cells: visible at city scale, still finer than a street
SILENT_MINUTES = 15
DISPATCH_STATES = ("issued", "acknowledged", "in_progress", "resolved")


def _r(value: float) -> float:
    return round(float(value), 5)


def case_hexbins(store: Store, scope: Scope, start: dt.datetime, end: dt.datetime,
                 resolution: int = HEX_RESOLUTION) -> list[dict]:
    """Cases reported in [start, end) per H3 cell: [{"hex", "count", "position": [lon, lat]}], most first."""
    table = gateway.query(store, "map_case_points", scope, start=start, end=end)
    lats, lons = table.column("lat").to_pylist(), table.column("lon").to_pylist()
    counts = Counter(h3.latlng_to_cell(lat, lon, resolution) for lat, lon in zip(lats, lons))
    cells = []
    for cell, count in counts.most_common():
        lat, lon = h3.cell_to_latlng(cell)
        cells.append({"hex": cell, "count": count, "position": [_r(lon), _r(lat)]})
    return cells


def sensor_points(store: Store, scope: Scope, as_of: dt.datetime | None = None,
                  silent_minutes: int = SILENT_MINUTES) -> list[dict]:
    """Located devices with their status: "silent" (no reading for `silent_minutes`, or never) or "online"."""
    rows = gateway.query_rows(store, "map_devices", scope, as_of=as_of or utcnow(), silent_minutes=silent_minutes)
    return [{"id": row["device_id"], "name": row["name"] or row["device_id"], "kind": row["kind"],
             "position": [_r(row["lon"]), _r(row["lat"])], "status": "silent" if row["silent"] else "online"}
            for row in rows]


def hall_points(store: Store, scope: Scope, start: dt.datetime, end: dt.datetime) -> list[dict]:
    """Located service halls with their mean wait in [start, end) (None without observations)."""
    rows = gateway.query_rows(store, "map_halls", scope, start=start, end=end)
    return [{"id": row["hall_id"], "name_zh": row["name_zh"], "name_en": row["name_en"],
             "position": [_r(row["lon"]), _r(row["lat"])],
             "wait": None if row["wait_mean_minutes"] is None else round(row["wait_mean_minutes"], 1)}
            for row in rows]


def dispatch_board(store: Store, scope: Scope, as_of: dt.datetime | None = None) -> dict:
    """Open joint dispatch orders in the scope.

    orders: [{order_id, title, state, priority, lead_department, due_at, late, late_tasks, position}]
    (late ones first; position [lon, lat] of the linked cases, None when none is located);
    by_state: count per open state (every state of DISPATCH_STATES present, 0 when none);
    total, late: counts.
    """
    rows = gateway.query_rows(store, "dispatch_board", scope, as_of=as_of or utcnow())
    by_state = {state: 0 for state in DISPATCH_STATES}
    orders = []
    for row in rows:
        by_state[row["state"]] = by_state.get(row["state"], 0) + 1
        orders.append({
            "order_id": row["order_id"], "title": row["title"], "state": row["state"], "priority": row["priority"],
            "lead_department": row["lead_department"], "due_at": row["due_at"], "late": bool(row["late"]),
            "late_tasks": row["late_tasks"],
            "position": None if row["lat"] is None else [_r(row["lon"]), _r(row["lat"])],
        })
    return {"orders": orders, "by_state": by_state, "total": len(orders), "late": sum(o["late"] for o in orders)}


OVERLAYS = ("hexbins", "heat", "sensors", "halls", "dispatch")
MAX_CELLS = 2000


def map_layers(store: Store, scope: Scope, wanted, now: dt.datetime | None = None) -> dict:
    """The data of each wanted overlay (OVERLAYS) for the scope, over the catalog window of the
    matching indicator: hexbins/heat over cases_reported's, halls over wait_mean_minutes'."""
    from indicators.overview import indicator_window

    now = now or utcnow()
    wanted = [w for w in OVERLAYS if w in set(wanted or ())]
    out: dict = {}
    if "hexbins" in wanted or "heat" in wanted:
        cells = case_hexbins(store, scope, *indicator_window("cases_reported", now))[:MAX_CELLS]
        for kind in ("hexbins", "heat"):
            if kind in wanted:
                out[kind] = cells
    if "sensors" in wanted:
        out["sensors"] = sensor_points(store, scope, as_of=now)
    if "halls" in wanted:
        out["halls"] = hall_points(store, scope, *indicator_window("wait_mean_minutes", now))
    if "dispatch" in wanted:
        out["dispatch"] = dispatch_board(store, scope, as_of=now)["orders"]
    return out
