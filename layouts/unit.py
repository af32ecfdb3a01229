"""A unit's page (district, grid, ...): breadcrumbs, scorecard, its children on the map and ranked."""
from __future__ import annotations

import dash
from dash import dcc, html

from layouts.components.deckmap import deck_map
from layouts.components.page import PageIds, page_context
from views.links import route_unit

dash.register_page(__name__, path_template="/unit/<level>/<unit_id>", title="CityBrain")


def layout(level: str | None = None, unit_id: str | None = None, lang: str | None = None, **_):
    level, unit_id = route_unit(level, unit_id)  # percent-encoded in the path: ids are data
    return html.Div(
        className="page unit",
        children=[
            dcc.Store(id=PageIds.CONTEXT, data=page_context(level_index=0, parent=unit_id, unit=[level, unit_id], lang=lang)),
            html.Section(
                className="map-panel",
                children=[
                    html.Nav(id=PageIds.BREADCRUMBS, className="breadcrumbs"),
                    html.H1(id=PageIds.UNIT_TITLE, className="unit-title"),
                    html.Div(id=PageIds.SCORECARD, className="scorecard"),
                    deck_map(),
                ],
            ),
            html.Aside(
                className="side-panel",
                children=[html.H2(id=PageIds.RANKING_TITLE), html.Ol(id=PageIds.RANKING, className="ranking")],
            ),
        ],
    )
