"""The city overview (/): KPI ribbon with trends, point layers, alerts panel, dispatch summary."""
from __future__ import annotations

from alerts import engine
from indicators import layers, overview
from views.cache import per_version, view


@view("overview.kpis")
def kpi_board(store, pack, scope) -> list[dict]:
    return overview.kpi_board(store, pack, scope, previous=kpi_previous(store, pack, scope))


@per_version("overview.kpis_previous", rhythm_s=60.0, versioned=False)
def kpi_previous(store, pack, scope) -> dict:
    """环比 values move with late records only: a minute old at most, whatever the feeds do."""
    return overview.kpi_previous(store, pack, scope)


@view("overview.layers")
def map_layers(store, scope, wanted: tuple) -> dict:
    return layers.map_layers(store, scope, list(wanted))


@view("overview.alerts")
def alert_panel(store, pack, scope) -> dict:
    return engine.alert_panel(store, pack, scope)


@view("overview.dispatch")
def dispatch_board(store, scope) -> dict:
    return layers.dispatch_board(store, scope)
