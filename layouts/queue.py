"""Dispatch queue (/queue): department staff work their tasks; commanders and district leaders
verify and close. Follows the store's data version, so new tasks appear without a reload."""
from __future__ import annotations

import dash
from dash import dcc, html

from layouts.dispatch import DispatchIds

dash.register_page(__name__, path="/queue", title="CityBrain · dispatch queue")


def layout(view: str = "todo", priority: str = "", lang: str | None = None, **_):
    return html.Div(
        className="page queue-page",
        children=[
            dcc.Store(id=DispatchIds.QUEUE_CONTEXT, data={"lang": lang}),
            dcc.Store(id=DispatchIds.QUEUE_REFRESH, data=0),
            html.Section(className="panel-wide", children=[
                html.H1(id=DispatchIds.QUEUE_TITLE, className="unit-title"),
                html.Div(className="queue-filters", children=[
                    dcc.RadioItems(id=DispatchIds.QUEUE_VIEW, options=[], value=view, inline=True,
                                   className="view-choice"),
                    dcc.RadioItems(id=DispatchIds.QUEUE_PRIORITY, options=[], value=priority or "all", inline=True,
                                   className="view-choice priority-filter"),
                    html.Span(id=DispatchIds.QUEUE_COUNT, className="muted"),
                ]),
                html.Div(id=DispatchIds.QUEUE_MESSAGE, className="queue-message", role="status"),
                html.Div(id=DispatchIds.QUEUE_LIST, className="queue-list"),
            ]),
        ],
    )
