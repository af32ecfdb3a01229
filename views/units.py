"""The map and ranking of a level (overview and unit pages) and a unit's header (scorecard, rates)."""
from __future__ import annotations

from indicators import drill, overview
from views.cache import view


@view("units.map")
def units_map(store, pack, scope, level_id: str, parent: str | None, indicator_id: str | None) -> dict:
    return overview.units_map(store, pack, scope, level_id, parent=parent, indicator_id=indicator_id)


@view("units.scorecard")
def unit_scorecard(store, pack, scope, level_id: str, unit_id: str) -> dict | None:
    return overview.unit_scorecard(store, pack, scope, level_id, unit_id)


@view("units.rates")
def unit_rates(store, pack, scope, level_id: str, unit_id: str, start, end) -> list[dict]:
    return drill.unit_rates(store, pack, scope, level_id, unit_id, start, end)
