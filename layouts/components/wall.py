"""Ids of the wall page (/wall). The map inside it uses the shared MapIds (one page shows at a time)."""
from __future__ import annotations

from enum import StrEnum


class WallIds(StrEnum):
    TITLE = "wall-title"
    CLOCK = "wall-clock"
    FEEDS = "wall-feeds"
    KPIS = "wall-kpis"
    KPIS_TITLE = "wall-kpis-title"
    MAP_TITLE = "wall-map-title"
    ALERTS_TITLE = "wall-alerts-title"
    ALERTS_FEEDS = "wall-alerts-feeds"  # stalled feeds (every tick)
    ALERTS_DATA = "wall-alerts-data"    # silent devices, overdue districts (every data version)
    DISPATCH_TITLE = "wall-dispatch-title"
    DISPATCH_BODY = "wall-dispatch-body"
    HEARTBEAT = "wall-heartbeat"        # {at_ms, poll_ms, offline_text} from the server every tick
    HEARTBEAT_SEEN = "wall-heartbeat-seen"
    OFFLINE = "wall-offline"
    FOCUS = "wall-focus"                # districts with live anomalies: [{unit_id, name_*, title_*}]
    FOCUS_SEEN = "wall-focus-seen"
    FOCUS_CAPTION = "wall-focus-caption"
    VERSION_TICK = "wall-version-tick"  # the wall checks the data version more often than the shell
