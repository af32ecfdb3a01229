"""City overview: the map of the first level coloured by open cases, and its ranked list."""
from __future__ import annotations

import dash
from dash import dcc, html

from layouts.components.deckmap import deck_map
from layouts.components.page import PageIds, page_context

dash.register_page(__name__, path="/", title="CityBrain")


def layout(lang: str | None = None, **_):
    return html.Div(
        className="page overview",
        children=[
            dcc.Store(id=PageIds.CONTEXT, data=page_context(level_index=1, parent=None, unit=None, lang=lang)),
            html.Section(deck_map(), className="map-panel"),
            html.Aside(
                className="side-panel",
                children=[html.H2(id=PageIds.RANKING_TITLE), html.Ol(id=PageIds.RANKING, className="ranking")],
            ),
        ],
    )
