"""City overview (laptop): KPI ribbon with 环比 and sparklines, the district map coloured by a chosen
indicator (legend = the catalog's thresholds) with point layers, alerts, joint dispatch, ranking."""
from __future__ import annotations

import dash
from dash import dcc, html

from layouts.components.deckmap import MapIds, deck_map
from layouts.components.overview import CASES_MODES, POINT_LAYERS, OverviewIds
from layouts.components.page import PageIds, page_context
from layouts.dispatch import launch_bar

dash.register_page(__name__, path="/", title="CityBrain")

DEFAULT_INDICATOR = "open_backlog"


def layout(lang: str | None = None, indicator: str | None = None, **_):
    from indicators.overview import MAP_INDICATORS

    chosen = indicator if indicator in MAP_INDICATORS else DEFAULT_INDICATOR
    context = {**page_context(level_index=1, parent=None, unit=None, lang=lang), "indicator": chosen}
    return html.Div(
        className="page overview",
        children=[
            dcc.Store(id=PageIds.CONTEXT, data=context),
            dcc.Store(id=OverviewIds.ACK_REQUEST),
            # the point layers exist on this page only (their toggles are here)
            dcc.Store(id=MapIds.OVERLAYS),
            dcc.Store(id=MapIds.OVERLAYS_RENDERED),
            html.Section(id=OverviewIds.KPIS, className="kpi-ribbon"),
            html.Section(
                className="map-panel",
                children=[
                    html.Div(className="map-toolbar", children=[
                        html.Label(id=OverviewIds.INDICATOR_LABEL, htmlFor=OverviewIds.INDICATOR, className="toolbar-label"),
                        dcc.Dropdown(id=OverviewIds.INDICATOR, value=chosen, clearable=False, searchable=False,
                                     options=[{"label": i, "value": i} for i in MAP_INDICATORS], className="indicator-select"),
                        html.Span(id=OverviewIds.CASES_LABEL, className="toolbar-label"),
                        dcc.RadioItems(id=OverviewIds.CASES_LAYER, value="off", inline=True, className="layer-radio",
                                       options=[{"label": v, "value": v} for v in CASES_MODES]),
                        dcc.Checklist(id=OverviewIds.LAYERS, value=[], inline=True, className="layer-toggles",
                                      options=[{"label": v, "value": v} for v in POINT_LAYERS]),
                        html.Button(id=OverviewIds.AREA_MODE, className="area-mode", n_clicks=0, hidden=True,
                                    **{"aria-pressed": "false"}),
                        html.Span(id=OverviewIds.AREA_HINT, className="area-hint"),
                    ]),
                    # the launch form of a dispatch from an alert or a map area, over the map
                    html.Section(className="overview-launch", children=[launch_bar()]),
                    deck_map(),
                    html.Div(id=OverviewIds.LAYER_LEGEND, className="layer-legend"),
                ],
            ),
            html.Aside(
                className="side-panel",
                children=[
                    html.Div(className="side-block alerts-block", children=[
                        html.H2(id=OverviewIds.ALERTS_TITLE),
                        html.Div(id=OverviewIds.ACK_RESULT, className="ack-result", role="status"),
                        html.Ul(id=OverviewIds.ALERTS, className="alert-list"),
                    ]),
                    html.Div(className="side-block dispatch-block", children=[
                        html.H2(id=OverviewIds.DISPATCH_TITLE),
                        html.Div(id=OverviewIds.DISPATCH, className="dispatch-summary"),
                    ]),
                    html.Div(className="side-block ranking-block", children=[
                        html.H2(id=PageIds.RANKING_TITLE), html.Ol(id=PageIds.RANKING, className="ranking"),
                    ]),
                ],
            ),
        ],
    )
