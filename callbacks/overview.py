"""City overview: KPI ribbon, point layers, alerts (with acknowledge), joint-dispatch summary.

The district map itself is drawn by callbacks/map.py (the page context carries the chosen indicator).
"""
from __future__ import annotations

import urllib.parse

from dash import Input, Output, State, callback, clientside_callback, html, no_update

import i18n
from alerts.engine import ACT_ROLES, AlertError, acknowledge
from callbacks.context import current_scope, lang_from, runtime, signed_in_as
from dispatch.origins import DISPATCH_RULES
from dispatch.states import CREATE_ROLES
from indicators.catalog import get
from indicators.overview import MAP_INDICATORS, TREND_DAYS
from layouts.components.deckmap import MapIds, build_overlays
from layouts.components.page import PageIds
from layouts.components.overview import CASES_MODES, POINT_LAYERS, OverviewIds
from layouts.shell import ShellIds
from views.cache import shared
from views.overview import alert_panel, dispatch_board, kpi_board, map_layers

# The indicator selector writes the page context; callbacks/map.py recolours the districts from it.
clientside_callback(
    """function (indicator, context) {
        if (!indicator || !context || context.indicator === indicator) { return window.dash_clientside.no_update; }
        return Object.assign({}, context, {indicator: indicator});
    }""",
    Output(PageIds.CONTEXT, "data", allow_duplicate=True),
    Input(OverviewIds.INDICATOR, "value"),
    State(PageIds.CONTEXT, "data"),
    prevent_initial_call=True,
)


@callback(
    Output(OverviewIds.INDICATOR_LABEL, "children"),
    Output(OverviewIds.INDICATOR, "options"),
    Output(OverviewIds.CASES_LABEL, "children"),
    Output(OverviewIds.CASES_LAYER, "options"),
    Output(OverviewIds.LAYERS, "options"),
    Output(OverviewIds.AREA_MODE, "children"),
    Output(OverviewIds.AREA_MODE, "hidden"),
    Output(OverviewIds.AREA_MODE, "title"),
    Input(ShellIds.URL, "search"),
    State(PageIds.CONTEXT, "data"),
)
def render_overview_controls(search, context):
    lang = lang_from(search, (context or {}).get("lang"))
    indicators = [{"label": f"{get(i).name(lang)} · {i18n.t('window.' + get(i).default_window, lang)}", "value": i}
                  for i in MAP_INDICATORS]
    cases = [{"label": i18n.t(f"layer.{v}", lang), "value": v} for v in CASES_MODES]
    layers = [{"label": i18n.t(f"layer.{v}", lang), "value": v} for v in POINT_LAYERS]
    return (i18n.t("overview.indicator", lang), indicators, i18n.t("overview.cases_layer", lang), cases, layers,
            i18n.t("overview.area_mode", lang), not signed_in_as(CREATE_ROLES), i18n.t("overview.area_hint", lang))


@callback(
    Output(OverviewIds.KPIS, "children"),
    Input(ShellIds.VERSION, "data"),
    Input(ShellIds.URL, "search"),
    State(PageIds.CONTEXT, "data"),
)
def render_kpi_ribbon(_version, search, context):
    rt = runtime()
    lang = lang_from(search, (context or {}).get("lang"))
    scope = current_scope()
    return shared("kpi_ribbon", (scope, lang), rt.store, lambda: build_kpi_ribbon(kpi_board(rt.store, rt.pack, scope), lang))


@callback(
    Output(MapIds.OVERLAYS, "data"),
    Output(OverviewIds.LAYER_LEGEND, "children"),
    Input(ShellIds.VERSION, "data"),
    Input(OverviewIds.CASES_LAYER, "value"),
    Input(OverviewIds.LAYERS, "value"),
    Input(ShellIds.URL, "search"),
    State(PageIds.CONTEXT, "data"),
)
def render_overlays(version, cases_mode, layers, search, context):
    rt = runtime()
    lang = lang_from(search, (context or {}).get("lang"))
    wanted = tuple(parse_layers(cases_mode, layers))
    scope = current_scope()

    def build():
        data = map_layers(rt.store, scope, wanted) if wanted else {}
        return build_overlays(data, version or 0), build_layer_legend(list(wanted), lang)

    return shared("overlays", (scope, lang, wanted, version), rt.store, build)


@callback(
    Output(OverviewIds.ACK_RESULT, "children"),
    Input(OverviewIds.ACK_REQUEST, "data"),
    State(ShellIds.URL, "search"),
    prevent_initial_call=True,
)
def acknowledge_alert(request, search):
    """Acknowledge one alert; the role and the alert's scope are checked by the alert engine, not here."""
    from api.auth import principal

    lang = lang_from(search)
    alert_id = parse_alert_id(request)
    who = principal()
    if alert_id is None or who is None:
        return no_update
    rt = runtime()
    try:
        acknowledge(rt.store, current_scope(), alert_id, actor=who.name, role=who.role)
    except (AlertError, PermissionError):
        return html.Span(i18n.t("alert.denied", lang), className="ack-denied", **{"data-alert": str(alert_id)})
    return html.Span(i18n.t("alert.acked", lang, id=alert_id), className="ack-done", **{"data-alert": str(alert_id)})


@callback(
    Output(OverviewIds.ALERTS_TITLE, "children"),
    Output(OverviewIds.ALERTS, "children"),
    Input(ShellIds.VERSION, "data"),
    Input(OverviewIds.ACK_RESULT, "children"),
    Input(ShellIds.URL, "search"),
    State(PageIds.CONTEXT, "data"),
)
def render_alerts(_version, _acked, search, context):
    rt = runtime()
    lang = lang_from(search, (context or {}).get("lang"))
    scope, may_act, may_dispatch = current_scope(), signed_in_as(ACT_ROLES), signed_in_as(CREATE_ROLES)

    def build():
        panel = alert_panel(rt.store, rt.pack, scope)
        return (i18n.t("overview.alerts.count", lang, n=i18n.number(panel["total"], lang)),
                build_alert_list(panel["alerts"], lang, rt.pack.timezone, may_act, may_dispatch))

    return shared("alerts", (scope, lang, may_act, may_dispatch), rt.store, build)


@callback(
    Output(OverviewIds.DISPATCH_TITLE, "children"),
    Output(OverviewIds.DISPATCH, "children"),
    Input(ShellIds.VERSION, "data"),
    Input(ShellIds.URL, "search"),
    State(PageIds.CONTEXT, "data"),
)
def render_dispatch_summary(_version, search, context):
    rt = runtime()
    lang = lang_from(search, (context or {}).get("lang"))
    scope = current_scope()
    return shared("dispatch_summary", (scope, lang), rt.store, lambda: (
        i18n.t("overview.dispatch", lang), build_dispatch_summary(dispatch_board(rt.store, scope), lang, rt.pack.timezone)))


# ---------------------------------------------------------------- parsers and pure builders


def parse_layers(cases_mode, layers) -> list[str]:
    wanted = [v for v in (layers or []) if v in POINT_LAYERS]
    if cases_mode in CASES_MODES and cases_mode != "off":
        wanted.insert(0, cases_mode)
    return wanted


def parse_alert_id(request) -> int | None:
    try:
        return int((request or {}).get("alert_id"))
    except (TypeError, ValueError):
        return None


def sparkline_svg(values: list, colour: str, width: int = 120, height: int = 28) -> str:
    """A tiny inline SVG polyline of daily values (gaps for empty days) as a data: URI."""
    points = [(i, v) for i, v in enumerate(values) if v is not None]
    if len(points) < 2:
        body = ""
    else:
        lo = min(v for _, v in points)
        hi = max(v for _, v in points)
        span = (hi - lo) or 1
        step = (width - 4) / max(len(values) - 1, 1)
        coords = " ".join(f"{2 + i * step:.1f},{height - 3 - (v - lo) / span * (height - 6):.1f}" for i, v in points)
        last_x, last_y = coords.split(" ")[-1].split(",")
        body = (f'<polyline fill="none" stroke="{colour}" stroke-width="2" stroke-linejoin="round" points="{coords}"/>'
                f'<circle cx="{last_x}" cy="{last_y}" r="2.5" fill="{colour}"/>')
    svg = f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}">{body}</svg>'
    return "data:image/svg+xml;utf8," + urllib.parse.quote(svg)


def _change_text(kpi: dict, lang: str) -> tuple[str, str]:
    """(text, css class) of the 环比 change: arrow up/down, coloured by whether it went the better way."""
    if kpi["direction"] is None:
        return i18n.t("kpi.change.na", lang), "change-na"
    if kpi["direction"] == "same":
        return i18n.t("kpi.change.same", lang), "change-same"
    arrow = "▲" if kpi["direction"] == "up" else "▼"
    pct = "–" if kpi["pct"] is None else f"{abs(kpi['pct']) * 100:.1f}%"
    return i18n.t("kpi.change", lang, arrow=arrow, pct=pct), "change-better" if kpi["improved"] else "change-worse"


def build_kpi_ribbon(kpis: list[dict], lang: str) -> list:
    cards = []
    for kpi in kpis:
        status = kpi["status"] or ("none" if kpi["value"] is None else "count")
        change, change_class = _change_text(kpi, lang)
        trend = [p["value"] for p in kpi["trend"]]
        cards.append(html.Div(
            className=f"kpi ribbon-kpi status-{status}",
            **{"data-metric": kpi["id"], "data-status": status, "data-direction": kpi["direction"] or "na"},
            children=[
                html.Div(f"{kpi['name_zh'] if lang == 'zh' else kpi['name_en']} · {i18n.t('window.' + kpi['window'], lang)}",
                         className="kpi-label"),
                html.Div(i18n.indicator_value(kpi["value"], kpi["unit"], lang), className="kpi-value"),
                html.Div(change, className=f"kpi-change {change_class}",
                         title=i18n.t("kpi.previous", lang, value=i18n.indicator_value(kpi["previous"], kpi["unit"], lang))),
                html.Img(src=sparkline_svg(trend, "#7cc4ff"), className="sparkline", alt=i18n.t("kpi.trend", lang, days=TREND_DAYS),
                         title=i18n.t("kpi.trend", lang, days=TREND_DAYS), **{"data-points": str(len(trend))}),
            ],
        ))
    return cards


def build_layer_legend(wanted: list[str], lang: str) -> list:
    items = []
    if "hexbins" in wanted or "heat" in wanted:
        items.append(html.Span(i18n.t("layer.legend.cases", lang, window=i18n.t("window.P1D", lang)),
                               className="layer-key key-cases"))
    if "sensors" in wanted:
        items += [html.Span(i18n.t("layer.legend.sensor_online", lang), className="layer-key key-online"),
                  html.Span(i18n.t("layer.legend.sensor_silent", lang), className="layer-key key-silent")]
    if "halls" in wanted:
        items.append(html.Span(i18n.t("layer.legend.hall", lang), className="layer-key key-hall"))
    if "dispatch" in wanted:
        items += [html.Span(i18n.t(f"board.state.{s}", lang), className=f"layer-key key-dispatch-{s}")
                  for s in ("issued", "acknowledged", "in_progress", "resolved")]
        items.append(html.Span(i18n.t("layer.legend.late", lang), className="layer-key key-late"))
    return items


def _evidence_text(evidence: dict, lang: str) -> str:
    parts = []
    for key, value in evidence.items():
        if key == "case_ids":  # the cases themselves: a dispatch from the alert links them
            value = i18n.t("alert.evidence_cases", lang, n=len(value or []))
        if isinstance(value, float):
            value = f"{value:.3g}"
        elif isinstance(value, (list, dict)):
            value = ", ".join(f"{v}" for v in (value if isinstance(value, list) else value.values()))
        parts.append(f"{key}: {value}")
    return " · ".join(parts)


def build_alert_list(alerts: list[dict], lang: str, timezone: str, may_act: bool, may_launch: bool = False) -> list:
    """The open alerts; `may_act`: an acknowledge button on new ones; `may_launch`: a joint dispatch
    button on the case alerts of a place (spike, threshold) not dispatched yet."""
    if not alerts:
        return [html.Li(i18n.t("overview.alerts.none", lang), className="alert-item sev-none", **{"data-kind": "none"})]
    items = []
    for a in alerts:
        place = (a["unit_name_zh"] if lang == "zh" else a["unit_name_en"]) or i18n.t("alert.scope.city", lang)
        head = [
            html.Span(i18n.t(f"alert.severity.{a['severity']}", lang), className=f"sev-badge sev-{a['severity']}"),
            html.Span(i18n.t(f"alert.rule.{a['rule']}", lang), className="alert-rule"),
            html.Span(place, className="alert-scope"),
            html.Span(i18n.t(f"alert.state.{a['state']}", lang), className=f"alert-state state-{a['state']}"),
        ]
        body = [
            html.Div(head, className="alert-head"),
            html.Div(a["title_zh"] if lang == "zh" else a["title_en"], className="alert-title"),
            html.Div(f"{i18n.t('alert.evidence', lang)}: {_evidence_text(a['evidence'], lang)}", className="alert-evidence"),
            html.Div(i18n.t("alert.since", lang, time=i18n.local_time(a["first_seen"], timezone, lang, fmt="MM-dd HH:mm")),
                     className="alert-since"),
        ]
        buttons = []
        if may_act and a["state"] == "new":
            buttons.append(html.Button(i18n.t("alert.ack", lang), className="ack-button", n_clicks=0,
                                       **{"data-alert": str(a["alert_id"])}))
        if may_launch and a["unit_id"] and a["rule"] in DISPATCH_RULES and a["state"] in ("new", "acknowledged"):
            buttons.append(html.Button(i18n.t("alert.dispatch", lang), className="alert-dispatch", n_clicks=0,
                                       **{"data-alert": str(a["alert_id"])}))
        if buttons:
            body.append(html.Div(buttons, className="alert-actions"))
        items.append(html.Li(body, className=f"alert-item sev-{a['severity']}",
                             **{"data-alert": str(a["alert_id"]), "data-rule": a["rule"], "data-state": a["state"]}))
    return items


def build_dispatch_summary(board: dict, lang: str, timezone: str) -> list:
    counts = html.Div(className="dispatch-counts", children=[
        html.Div(className=f"dispatch-count state-{state}", **{"data-state": state}, children=[
            html.Span(i18n.number(n, lang), className="count-value"),
            html.Span(i18n.t(f"board.state.{state}", lang), className="count-label"),
        ])
        for state, n in board["by_state"].items()
    ])
    summary = html.Div(i18n.t("overview.dispatch.summary", lang, total=i18n.number(board["total"], lang),
                              late=i18n.number(board["late"], lang)),
                       className="dispatch-line" + (" has-late" if board["late"] else ""),
                       **{"data-total": str(board["total"]), "data-late": str(board["late"])})
    late = [o for o in board["orders"] if o["late"]][:5]
    rows = [html.Li(className="late-order", **{"data-order": o["order_id"]}, children=[
        html.Span(o["order_id"], className="order-id"), html.Span(o["title"], className="order-title"),
        html.Span(i18n.t("board.due", lang, time=i18n.local_time(o["due_at"], timezone, lang, fmt="MM-dd HH:mm")),
                  className="order-due"),
    ]) for o in late]
    out = [summary, counts]
    if rows:
        out += [html.H3(i18n.t("overview.dispatch.late_list", lang)), html.Ul(rows, className="late-orders")]
    return out
