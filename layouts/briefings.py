"""Briefings: generate a pack for a scope and period ("Brief this" links land here), and the archive."""
from __future__ import annotations

import dash
from dash import dcc, html

from layouts.components.page import PageIds

dash.register_page(__name__, path="/briefings", title="CityBrain · briefings")


def layout(scope: str = "city", template: str = "daily", lang: str | None = None, **_):
    return html.Div(
        className="page briefings-page",
        children=[
            dcc.Store(id=PageIds.BRIEF_CONTEXT, data={"scope": scope, "template": template, "lang": lang}),
            html.Section(className="panel-wide", children=[
                html.H1(id=PageIds.BRIEF_TITLE, className="unit-title"),
                html.Div(className="brief-form", children=[
                    dcc.Dropdown(id=PageIds.BRIEF_TEMPLATE, options=[], value=template, clearable=False),
                    dcc.Dropdown(id=PageIds.BRIEF_SCOPE, options=[], value=scope, clearable=False),
                    dcc.DatePickerRange(id=PageIds.BRIEF_PERIOD, display_format="YYYY-MM-DD"),
                    html.Button(id=PageIds.BRIEF_GENERATE, className="button primary", n_clicks=0),
                ]),
                dcc.Loading(html.Div(id=PageIds.BRIEF_RESULT, className="brief-result"), type="dot"),
                html.H2(id=PageIds.BRIEF_ARCHIVE_TITLE),
                html.Table(id=PageIds.BRIEF_ARCHIVE, className="data-table"),
            ]),
        ],
    )
