"""Where a joint dispatch starts besides a list of cases: an alert, or an area of the map (a
district picked, or a box drawn).

    origin = parse_origin({"kind": "alert", "alert_id": 7})     # None when malformed
    draft = draft_for(store, pack, scope, origin)               # the cases found + the form's suggestion
    status, order = launch(store, pack, actor, body, origin)    # create_order, the cases read again

The browser only says which alert or which area. The cases are read here through the scoped
gateway, and at launch the ids the form showed are intersected with a fresh read, so a forged list
cannot link a case outside the alert's unit, the area or the caller's scope. Nothing here imports Dash.
"""
from __future__ import annotations

import datetime as dt
import json
import math
from dataclasses import dataclass

from datasources import gateway
from datasources.store import utcnow
from dispatch.service import MAX_CASES, DispatchError, actor_scope, create_order
from dispatch.states import Actor
from dispatch.suggest import Suggestion, suggest
from security.scope import Scope

KINDS = ("alert", "unit", "box")
DISPATCH_RULES = ("spike", "threshold")  # alerts about a place's cases; device and feed alerts have none


@dataclass(frozen=True)
class Origin:
    kind: str  # alert | unit | box
    alert_id: int | None = None
    level: str = ""
    unit_id: str = ""
    bbox: tuple[float, float, float, float] | None = None  # min lon, min lat, max lon, max lat


@dataclass(frozen=True)
class Found:
    origin: Origin
    case_ids: list[str]
    alert: dict | None = None  # the alert row (dispatch_alert.sql), for an alert origin
    from_evidence: bool = False  # the alert's own case records (else the unit's overdue open cases)
    area: str = ""  # what the order records: "district:110105", "box:..."

    @property
    def alert_id(self) -> int | None:
        return None if self.alert is None else self.alert["alert_id"]


def parse_origin(data) -> Origin | None:
    """An Origin from what the page sent ({"kind", ...}), or None when it is not one."""
    if not isinstance(data, dict) or data.get("kind") not in KINDS:
        return None
    kind = data["kind"]
    try:
        if kind == "alert":
            alert_id = data.get("alert_id")
            if isinstance(alert_id, bool) or not isinstance(alert_id, int):
                return None
            return Origin("alert", alert_id=alert_id)
        if kind == "unit":
            level, unit_id = data.get("level"), data.get("unit_id")
            if not (isinstance(level, str) and isinstance(unit_id, str) and level and unit_id):
                return None
            return Origin("unit", level=level[:50], unit_id=unit_id[:100])
        box = [float(v) for v in data.get("bbox")]
    except (TypeError, ValueError):
        return None
    if len(box) != 4 or not all(math.isfinite(v) for v in box):
        return None
    min_lon, min_lat = min(box[0], box[2]), min(box[1], box[3])
    max_lon, max_lat = max(box[0], box[2]), max(box[1], box[3])
    if not (-180 <= min_lon < max_lon <= 180 and -90 <= min_lat < max_lat <= 90):
        return None
    return Origin("box", bbox=(round(min_lon, 6), round(min_lat, 6), round(max_lon, 6), round(max_lat, 6)))


def find_cases(store, scope: Scope, now: dt.datetime, *, overdue_only: bool = True, level_index: int = 0,
               unit_id: str = "", bbox=None, ids: list[str] | None = None) -> list[str]:
    """Ids of the scope's open cases (overdue at `now` when `overdue_only`), in a unit, a box, among
    `ids`; most overdue first (dispatch_origin_cases.sql)."""
    min_lon, min_lat, max_lon, max_lat = bbox or (0.0, 0.0, 0.0, 0.0)
    rows = gateway.query_rows(
        store, "dispatch_origin_cases", scope, as_of=now, overdue_only=overdue_only, level_index=level_index,
        unit_id=unit_id, boxed=bbox is not None, min_lon=min_lon, min_lat=min_lat, max_lon=max_lon,
        max_lat=max_lat, only_ids=ids is not None, ids=list(ids or []), limit=MAX_CASES)
    return [r["case_id"] for r in rows]


def _evidence_ids(alert: dict) -> list[str]:
    try:
        evidence = json.loads(alert.get("evidence") or "{}")
    except ValueError:
        return []
    ids = evidence.get("case_ids") if isinstance(evidence, dict) else None
    return [i for i in ids if isinstance(i, str)] if isinstance(ids, list) else []


def _level_index(pack, level_id: str) -> int:
    try:
        return pack.level(level_id).index
    except KeyError:
        return 0


def origin_cases(store, pack, scope: Scope, origin: Origin, *, now: dt.datetime | None = None) -> Found:
    """The cases a dispatch from `origin` links, as `scope` sees them.

    alert: the alert must be open and visible to the scope (else DispatchError 404); its evidence
    cases that are still open, else the open overdue cases of its unit. unit: the unit's open overdue
    cases. box: the open overdue cases located inside it.
    """
    now = now or utcnow()
    if origin.kind == "alert":
        rows = gateway.query_rows(store, "dispatch_alert", scope, alert_id=origin.alert_id)
        if not rows:
            raise DispatchError(404, f"no open alert {origin.alert_id} in your scope", key="alert_not_visible",
                                id=origin.alert_id)
        alert = rows[0]
        evidence = _evidence_ids(alert)
        if evidence:
            ids = find_cases(store, scope, now, overdue_only=False, ids=evidence)
            if ids:
                return Found(origin, ids, alert, True, "")
        index = _level_index(pack, alert["level"] or "") if alert["unit_id"] else 0
        ids = find_cases(store, scope, now, level_index=index, unit_id=alert["unit_id"]) if index else []
        area = f"{alert['level']}:{alert['unit_id']}" if index else ""
        return Found(origin, ids, alert, False, area)
    if origin.kind == "unit":
        index = _level_index(pack, origin.level)
        if not index or (origin.level, origin.unit_id) not in pack.units_by_id:
            return Found(origin, [], area=f"{origin.level}:{origin.unit_id}")
        return Found(origin, find_cases(store, scope, now, level_index=index, unit_id=origin.unit_id),
                     area=f"{origin.level}:{origin.unit_id}")
    box = origin.bbox
    return Found(origin, find_cases(store, scope, now, bbox=box), area="box:" + ",".join(f"{v:g}" for v in box))


def open_case_ids(store, scope: Scope, case_ids: list[str], *, now: dt.datetime | None = None) -> list[str]:
    """The cases among `case_ids` the scope sees that are not closed (a closed case is not dispatched)."""
    ids = [c for c in dict.fromkeys(case_ids or []) if isinstance(c, str) and c][:MAX_CASES]
    return find_cases(store, scope, now or utcnow(), overdue_only=False, ids=ids) if ids else []


@dataclass(frozen=True)
class Draft:
    found: Found
    suggestion: Suggestion | None  # None without cases


def draft_for(store, pack, scope: Scope, origin: Origin, *, now: dt.datetime | None = None) -> Draft:
    """What the launch form shows for `origin`: the cases found and the suggested order for them."""
    found = origin_cases(store, pack, scope, origin, now=now)
    return Draft(found, suggest(store, pack, scope, found.case_ids, now=now) if found.case_ids else None)


def launch(store, pack, actor: Actor, body: dict, origin: Origin | None, *, origin_label: str = "console",
           now: dt.datetime | None = None) -> tuple[int, dict]:
    """create_order for `body`; with an origin, its cases are the body's ids that a fresh scoped read
    of the origin still finds (all of them when the body names none), and the order records the
    alert or the area (an alert's state follows the order)."""
    if origin is None:
        return create_order(store, pack, actor, body, origin=origin_label, now=now)
    found = origin_cases(store, pack, actor_scope(actor), origin, now=now)
    allowed = set(found.case_ids)
    asked = body.get("case_ids") if isinstance(body.get("case_ids"), list) else []
    ids = [c for c in asked if c in allowed] if asked else list(found.case_ids)
    if not ids:
        raise DispatchError(400, "none of these cases is open in the alert's unit or the area any more",
                            key="origin_no_cases")
    body = {**body, "case_ids": ids, "alert_id": found.alert_id, "area": found.area}
    return create_order(store, pack, actor, body, origin=origin_label, now=now)
