"""Per-unit figures for the map and the ranked lists (open backlog and overdue, CONTRACT §6)."""
from __future__ import annotations

import datetime as dt

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
