"""Ids and choices of the city overview page (/); its map uses the shared MapIds."""
from __future__ import annotations

from enum import StrEnum


class OverviewIds(StrEnum):
    INDICATOR = "overview-indicator"
    INDICATOR_LABEL = "overview-indicator-label"
    CASES_LAYER = "overview-cases-layer"
    CASES_LABEL = "overview-cases-label"
    LAYERS = "overview-layers"
    LAYER_LEGEND = "overview-layer-legend"
    KPIS = "overview-kpis"
    ALERTS_TITLE = "overview-alerts-title"
    ALERTS = "overview-alerts"
    ACK_REQUEST = "overview-ack-request"    # {"alert_id", "at"} set by assets/overview.js on a button press
    ACK_RESULT = "overview-ack-result"
    DISPATCH_TITLE = "overview-dispatch-title"
    DISPATCH = "overview-dispatch"
    AREA_MODE = "overview-area-mode"  # toggles picking a map area to dispatch (assets/overview.js)
    AREA_HINT = "overview-area-hint"


# The map's layer toggles (indicators.layers.map_layers draws them): case density one way or none,
# and any of the point layers.
CASES_MODES = ("off", "hexbins", "heat")
POINT_LAYERS = ("sensors", "halls", "dispatch")
