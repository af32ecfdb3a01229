"""One case: its facts, its status timeline and linked joint dispatch orders."""
from __future__ import annotations

import dash
from dash import dcc, html

from layouts.components.page import PageIds
from layouts.dispatch import launch_bar
from views.links import parse_case_path

dash.register_page(__name__, path_template="/case/<case_id>", title="CityBrain · case")


def layout(case_id: str | None = None, lang: str | None = None, **_):
    case_id = parse_case_path(f"/case/{case_id}") if case_id else None  # percent-encoded in the path
    return html.Div(
        className="page case-page",
        children=[
            dcc.Store(id=PageIds.CASE_CONTEXT, data={"case_id": case_id, "lang": lang}),
            html.Section(className="panel-wide", children=[html.Div(id=PageIds.CASE_BODY),
                                                           launch_bar([case_id] if case_id else [])]),
        ],
    )
