"""Drill-down: a unit's rates link to the cases behind them; a case page with its timeline."""
from __future__ import annotations

import datetime as dt

from dash import Input, Output, State, callback, dcc, html, no_update

import i18n
from callbacks.context import current_scope, lang_from, runtime
from indicators.compute import IndicatorError, parse_time
from indicators.drill import case_detail, cases_behind
from layouts.components.page import PageIds
from layouts.dispatch import build_order_cards
from layouts.shell import ShellIds
from views.links import case_href, cases_href, page_href, unit_href

COLUMNS = ("case_id", "category_name", "status", "priority", "department", "reported_at", "due_at", "closed_at",
           "overdue", "address")


def drill_href(level_id: str, unit_id: str, indicator: str, part: str, start: dt.datetime, end: dt.datetime,
               lang: str) -> str:
    return cases_href(level_id, unit_id, lang, indicator=indicator, part=part, start=start.isoformat() + "Z",
                      end=end.isoformat() + "Z")


def _time(value, tz, lang):
    return None if value is None else i18n.local_time(value, tz, lang, "short")


@callback(
    Output(PageIds.DRILL_CRUMBS, "children"),
    Output(PageIds.DRILL_TITLE, "children"),
    Output(PageIds.DRILL_SUBTITLE, "children"),
    Output(PageIds.DRILL_EXPORT, "children"),
    Output(PageIds.DRILL_GRID, "columnDefs"),
    Output(PageIds.DRILL_GRID, "rowData"),
    Input(PageIds.DRILL_CONTEXT, "data"),
    Input(ShellIds.URL, "search"),
)
def render_cases_behind(context, search):
    rt = runtime()
    lang = lang_from(search, (context or {}).get("lang"))
    level_id, unit_id = context.get("level"), context.get("unit_id")
    info = rt.pack.units_by_id.get((level_id, unit_id))
    try:
        start, end = (parse_time(context.get(name) or "", rt.pack.timezone, rt.store.time_domain, name)
                      for name in ("start", "end"))
    except IndicatorError:  # ?start=&end= typed or edited by hand: say so rather than fail
        return [], i18n.t("drill.bad_window", lang), "", i18n.t("drill.export", lang), [], []
    try:
        rows = [] if info is None else cases_behind(rt.store, rt.pack, current_scope(), context.get("indicator"),
                                                    context.get("part"), level_id, unit_id, start, end, lang)
    except (IndicatorError, ValueError, KeyError):
        return [], i18n.t("unit.not_found", lang), "", i18n.t("drill.export", lang), [], []
    if info is None:
        return [], i18n.t("unit.not_found", lang), "", i18n.t("drill.export", lang), [], []
    from indicators import catalog

    indicator = catalog.get(context["indicator"])
    name = info["name_zh"] if lang == "zh" else info["name_en"]
    title = i18n.t("drill.title", lang, unit=name, indicator=indicator.name(lang),
                   part=i18n.t(f"drill.part.{context.get('part')}", lang), count=len(rows))
    window = f"{_time(start, rt.pack.timezone, lang)} – {_time(end, rt.pack.timezone, lang)}"
    crumbs = [dcc.Link(rt.pack.name(lang), href=page_href("/", lang)), html.Span("›", className="sep"),
              dcc.Link(name, href=unit_href(level_id, unit_id, lang)), html.Span("›", className="sep"),
              html.Span(indicator.name(lang), className="current")]
    columns = [{"field": c, "headerName": i18n.t(f"case.col.{c}", lang)} for c in COLUMNS]
    data = [{**{c: row.get(c) for c in COLUMNS},
             "reported_at": _time(row["reported_at"], rt.pack.timezone, lang),
             "due_at": _time(row["due_at"], rt.pack.timezone, lang),
             "closed_at": _time(row["closed_at"], rt.pack.timezone, lang),
             "status": i18n.t(f"status.{row['status']}", lang),
             "overdue": i18n.t("yes", lang) if row["overdue"] else ""} for row in rows]
    return crumbs, title, window, i18n.t("drill.export", lang), columns, data


@callback(Output(ShellIds.NAV, "href", allow_duplicate=True), Input(PageIds.DRILL_GRID, "cellClicked"),
          State(ShellIds.URL, "search"), prevent_initial_call=True)
def open_case(cell, search):
    if not cell or cell.get("colId") != "case_id" or not cell.get("value"):
        return no_update
    return case_href(cell["value"], lang_from(search))


@callback(Output(PageIds.DRILL_GRID, "exportDataAsCsv"), Input(PageIds.DRILL_EXPORT, "n_clicks"), prevent_initial_call=True)
def export_cases(n_clicks):
    return bool(n_clicks)


@callback(Output(PageIds.CASE_BODY, "children"), Input(PageIds.CASE_CONTEXT, "data"), Input(ShellIds.URL, "search"),
          Input(ShellIds.VERSION, "data"))
def render_case(context, search, _version):
    rt = runtime()
    lang = lang_from(search, (context or {}).get("lang"))
    case = case_detail(rt.store, rt.pack, current_scope(), (context or {}).get("case_id") or "")
    if case is None:
        return html.H1(i18n.t("case.not_found", lang), className="unit-title")
    return build_case(case, rt.pack, lang, case["orders"])


def build_case(case: dict, pack, lang: str, orders: list[dict] | None = None) -> list:
    """The case's facts and timeline; its dispatch orders with their tasks (dispatch.queue.case_orders)."""
    tz = pack.timezone
    categories = pack.categories.set_index("category_id")
    category = categories["name_zh" if lang == "zh" else "name_en"].get(case["category"], case["category"])
    units = list(case["unit_ids"] or [])
    links = [dcc.Link(pack.name(lang), href=page_href("/", lang))]
    for level, unit in zip(pack.levels, units):
        if unit:
            info = pack.units_by_id[(level.id, unit)]
            links += [html.Span("›", className="sep"),
                      dcc.Link(info["name_zh" if lang == "zh" else "name_en"], href=unit_href(level.id, unit, lang))]
    facts = [
        ("category_name", category), ("status", i18n.t(f"status.{case['status']}", lang)), ("priority", case["priority"]),
        ("department", pack.departments.set_index("department_id")["name_zh" if lang == "zh" else "name_en"]
         .get(case["department"], case["department"])), ("reported_at", _time(case["reported_at"], tz, lang)),
        ("due_at", _time(case["due_at"], tz, lang)), ("closed_at", _time(case["closed_at"], tz, lang) or "–"),
        ("address", case["address"] or "–"), ("reporter", f"{case['reporter_name'] or '–'} {case['reporter_phone'] or ''}"),
    ]
    return [
        html.Nav(links, className="breadcrumbs"),
        html.H1(f"{i18n.t('case.title', lang)} {case['case_id']}", className="unit-title", id="case-title"),
        html.Table(className="data-table facts", children=html.Tbody(
            [html.Tr([html.Th(i18n.t(f"case.col.{k}", lang)), html.Td(str(v))]) for k, v in facts])),
        html.H2(i18n.t("case.timeline", lang)),
        html.Ol(className="timeline", id="case-timeline", children=[
            html.Li([html.Span(_time(e["event_at"], tz, lang), className="when"),
                     html.Span(i18n.t(f"status.{e['status']}", lang), className="what")]) for e in case["timeline"]]),
        html.H2(i18n.t("case.orders", lang)),
        html.Div(build_order_cards(orders or [], pack, lang), id="case-orders", className="order-cards"),
    ]
