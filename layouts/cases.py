"""The cases behind a number: a unit's records in an indicator's numerator or denominator (lineage)."""
from __future__ import annotations

import dash
import dash_ag_grid as dag
from dash import dcc, html

import i18n
from layouts.components.page import PageIds
from layouts.dispatch import launch_bar
from views.links import route_unit

dash.register_page(__name__, path_template="/unit/<level>/<unit_id>/cases", title="CityBrain · cases")


def layout(level: str | None = None, unit_id: str | None = None, indicator: str = "open_backlog",
           part: str = "numerator", start: str = "", end: str = "", lang: str | None = None, **_):
    level, unit_id = route_unit(level, unit_id, cases=True)  # percent-encoded in the path: ids are data
    context = {"level": level, "unit_id": unit_id, "indicator": indicator, "part": part, "start": start, "end": end,
               "lang": lang}
    return html.Div(
        className="page cases-page",
        children=[
            dcc.Store(id=PageIds.DRILL_CONTEXT, data=context),
            html.Section(
                className="panel-wide",
                children=[
                    html.Nav(id=PageIds.DRILL_CRUMBS, className="breadcrumbs"),
                    html.H1(id=PageIds.DRILL_TITLE, className="unit-title"),
                    html.P(id=PageIds.DRILL_SUBTITLE, className="muted"),
                    html.Div(className="grid-tools", children=[
                        html.Button(id=PageIds.DRILL_EXPORT, className="button", n_clicks=0),
                        launch_bar(),
                    ]),
                    dag.AgGrid(
                        id=PageIds.DRILL_GRID,
                        className="cases-grid",
                        rowData=[],
                        columnDefs=[],
                        defaultColDef={"sortable": True, "filter": True, "resizable": True},
                        dashGridOptions={
                            "pagination": True, "paginationPageSize": 50, "animateRows": False,
                            "localeText": i18n.ag_grid_locale(i18n.request_lang(lang)),  # AG Grid's own texts
                            # tick cases to launch a joint dispatch on them (callbacks/dispatch.py)
                            "rowSelection": {"mode": "multiRow", "enableClickSelection": False},
                            # the console's dark palette (AG Grid theming API; no external stylesheet)
                            "theme": {"function": "themeQuartz.withParams({backgroundColor: '#121b2e', "
                                      "foregroundColor: '#e8eef9', headerBackgroundColor: '#18233a', "
                                      "borderColor: '#24314d', accentColor: '#5cc8ff', fontSize: 15, "
                                      "fontFamily: 'Noto Sans CJK SC, sans-serif'})"},
                        },
                        csvExportParams={"fileName": "cases.csv"},
                        style={"height": "68vh", "width": "100%"},
                    ),
                ],
            ),
        ],
    )
