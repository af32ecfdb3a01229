"""Feed health: per feed the newest record, rate, totals and the quarantine waiting for a fix."""
from __future__ import annotations

import dash
from dash import html

from layouts.components.page import PageIds

dash.register_page(__name__, path="/feeds", title="CityBrain · feeds")


def layout(lang: str | None = None, **_):
    return html.Div(
        className="page feeds-page",
        children=[
            html.Section(
                className="panel-wide",
                children=[
                    html.H1(id=PageIds.FEEDS_TITLE, className="unit-title"),
                    html.Table(id=PageIds.FEEDS_TABLE, className="data-table"),
                    html.P(id=PageIds.FEEDS_UNPLACED, className="feeds-unplaced"),
                    html.H2(id=PageIds.QUARANTINE_TITLE),
                    html.Table(id=PageIds.QUARANTINE_TABLE, className="data-table"),
                ],
            )
        ],
    )
