"""The wall display (/wall): one dark 16:9 screen, read from 5 m away, nothing that needs hover.

Top: title, clock, feed freshness. Left: today's city KPIs. Centre: the districts by open cases.
Right: the alert engine's open alerts and the joint-dispatch board. The map outlines
each district with a live anomaly in turn (auto-focus, nothing needs hover). A banner covers the screen when the server is lost.
"""
from __future__ import annotations

import json

import dash
from dash import dcc, html

from layouts.components.deckmap import deck_map
from layouts.components.page import PageIds, page_context
from layouts.components.wall import WallIds

dash.register_page(__name__, path="/wall", title="CityBrain · 大屏")


def _version_poll_ms() -> int:
    """A wall must show a new case within 2 s: check the version 4x per shell poll (>= 250 ms)."""
    try:
        from flask import current_app

        return max(250, int(current_app.extensions["citybrain"].settings.poll_ms) // 4)
    except (RuntimeError, KeyError):
        return 500


def _bounds() -> list[float] | None:
    """The first level's bounds, so the browser can fit the districts to the wall's own map size."""
    try:
        from flask import current_app

        units = current_app.extensions["citybrain"].pack.levels[0].units
        return [round(float(b), 5) for b in units.total_bounds]
    except (RuntimeError, KeyError, IndexError):
        return None


def layout(lang: str | None = None, **_):
    # The map is the overview's (shared ids, drawn by callbacks/map.py from this page's context:
    # the first level, coloured by open cases); assets/wall.js fits view and labels to the screen.
    # The overview's ranking outputs exist but are not shown: the wall lists alerts instead.
    return html.Div(
        className="page wall",
        children=[
            dcc.Store(id=PageIds.CONTEXT, data=page_context(level_index=1, parent=None, unit=None, lang=lang)),
            html.Div(hidden=True, className="wall-unused", children=[html.H2(id=PageIds.RANKING_TITLE), html.Ol(id=PageIds.RANKING)]),
            dcc.Interval(id=WallIds.VERSION_TICK, interval=_version_poll_ms()),
            dcc.Store(id=WallIds.HEARTBEAT),
            dcc.Store(id=WallIds.HEARTBEAT_SEEN),
            dcc.Store(id=WallIds.FOCUS),
            dcc.Store(id=WallIds.FOCUS_SEEN),
            html.Header(
                className="wall-top",
                children=[
                    html.H1(id=WallIds.TITLE, className="wall-title"),
                    html.Div(id=WallIds.FEEDS, className="wall-feeds"),
                    html.Div(id=WallIds.CLOCK, className="wall-clock"),
                ],
            ),
            html.Section(
                className="wall-kpi-panel",
                children=[html.H2(id=WallIds.KPIS_TITLE, className="wall-h2"), html.Div(id=WallIds.KPIS, className="wall-kpis")],
            ),
            html.Section(
                className="wall-map-panel",
                children=[html.H2(id=WallIds.MAP_TITLE, className="wall-h2"),
                          html.Div(deck_map(), className="wall-map-fit", **{"data-bounds": json.dumps(_bounds()), "data-label-vh": "2.2"}),
                          html.Div(id=WallIds.FOCUS_CAPTION, className="wall-focus", **{"data-unit": ""})],
            ),
            html.Section(
                className="wall-side",
                children=[
                    html.Div(className="wall-alerts", children=[
                        html.H2(id=WallIds.ALERTS_TITLE, className="wall-h2"),
                        html.Ul(id=WallIds.ALERTS_FEEDS, className="wall-alert-list"),
                        html.Ul(id=WallIds.ALERTS_DATA, className="wall-alert-list"),
                    ]),
                    html.Div(className="wall-dispatch", children=[
                        html.H2(id=WallIds.DISPATCH_TITLE, className="wall-h2"),
                        html.Div(id=WallIds.DISPATCH_BODY, className="wall-dispatch-body"),
                    ]),
                ],
            ),
            html.Div(id=WallIds.OFFLINE, className="wall-offline", role="alert", **{"data-state": "online"}),
        ],
    )
