"""The wall (/wall): board on every data version, feed freshness and heartbeat on every tick.

The map is drawn by callbacks/map.py (shared ids, the page context asks for the first level).
"""
from __future__ import annotations

import time

from dash import ClientsideFunction, Input, Output, State, callback, clientside_callback, html

import i18n
from callbacks.context import current_scope, lang_from, runtime
from layouts.components.wall import WallIds
from callbacks.shell import poll_version
from layouts.shell import ShellIds
from views.cache import shared
from views.wall import wall_board, wall_pulse

clientside_callback(
    ClientsideFunction("wall", "focus"),
    Output(WallIds.FOCUS_SEEN, "data"),
    Input(WallIds.FOCUS, "data"),
)

clientside_callback(
    ClientsideFunction("wall", "heartbeat"),
    Output(WallIds.HEARTBEAT_SEEN, "data"),
    Input(WallIds.HEARTBEAT, "data"),
)


# The wall's faster version poll is off while server push is live, like the shell's (assets/push.js).
clientside_callback(
    "function (off) { return !!off; }",
    Output(WallIds.VERSION_TICK, "disabled"),
    Input(ShellIds.VERSION_POLL, "disabled"),
)


@callback(
    Output(ShellIds.VERSION, "data", allow_duplicate=True),
    Input(WallIds.VERSION_TICK, "n_intervals"),
    State(ShellIds.VERSION, "data"),
    prevent_initial_call=True,
)
def poll_version_fast(tick, known):
    """The shell's light version check, more often on the wall (a new case shows within 2 s)."""
    return poll_version(tick, known)


@callback(
    Output(WallIds.KPIS, "children"),
    Output(WallIds.ALERTS_DATA, "children"),
    Output(WallIds.KPIS_TITLE, "children"),
    Output(WallIds.MAP_TITLE, "children"),
    Output(WallIds.ALERTS_TITLE, "children"),
    Output(WallIds.DISPATCH_TITLE, "children"),
    Output(WallIds.DISPATCH_BODY, "children"),
    Output(WallIds.FOCUS, "data"),
    Input(ShellIds.VERSION, "data"),
    Input(ShellIds.URL, "search"),
)
def render_wall_board(version, search):
    rt = runtime()
    lang = lang_from(search)
    scope = current_scope()
    return shared("wall_board", (scope, lang, version), rt.store, lambda: _wall_outputs(rt, scope, lang))


def _wall_outputs(rt, scope, lang):
    """The wall board's outputs, built once per (scope, language, version) for every wall."""
    board = wall_board(rt.store, rt.pack, scope)
    return (build_kpis(board["kpis"], lang), build_data_alerts(board, lang),
            i18n.t("wall.kpis", lang), i18n.t("wall.map", lang), i18n.t("wall.alerts", lang),
            i18n.t("wall.dispatch", lang), build_dispatch_board(board["dispatch"], lang, rt.pack.timezone),
            build_focus(board["focus"], lang))


@callback(
    Output(WallIds.TITLE, "children"),
    Output(WallIds.FEEDS, "children"),
    Output(WallIds.CLOCK, "children"),
    Output(WallIds.ALERTS_FEEDS, "children"),
    Output(WallIds.HEARTBEAT, "data"),
    Input(ShellIds.TICK, "n_intervals"),
    Input(ShellIds.URL, "search"),
)
def render_wall_pulse(_tick, search):
    rt = runtime()
    lang = lang_from(search)
    pulse = wall_pulse(rt.store, rt.settings)
    clock = i18n.local_time(pulse["at"], rt.pack.timezone, lang, fmt="HH:mm:ss")
    heartbeat = {"at_ms": int(time.time() * 1000), "poll_ms": rt.settings.poll_ms,
                 "offline_text": i18n.t("wall.offline", lang, time=clock)}
    return (f"{rt.pack.name(lang)} · {i18n.t('wall.title', lang)}", build_feed_strip(pulse["feeds"], lang), clock,
            build_feed_alerts(pulse["stalled"], lang), heartbeat)


def build_kpis(kpis: list[dict], lang: str) -> list:
    name = "name_zh" if lang == "zh" else "name_en"
    out = []
    for kpi in kpis:
        # "none": no value at all ("no data"); "count": a count with no target to judge it by
        status = kpi["status"] or ("none" if kpi["value"] is None else "count")
        out.append(html.Div(
            className=f"wall-kpi status-{status}", **{"data-metric": kpi["id"], "data-status": status},
            children=[
                html.Div(kpi[name], className="wall-kpi-label"),
                html.Div(className="wall-kpi-figure", children=[
                    html.Span(i18n.indicator_number(kpi["value"], kpi["unit"], lang), className="wall-kpi-value"),
                    html.Span(i18n.t(f"wall.unit.{kpi['unit']}", lang), className="wall-kpi-unit"),
                ]),
                html.Div(i18n.t(f"wall.status.{status}", lang) if status != "count" else "", className="wall-kpi-status"),
            ],
        ))
    return out


def build_feed_strip(feeds: dict, lang: str) -> list:
    badges = []
    for feed, info in feeds.items():
        age = i18n.t("feed.never", lang) if info["age_s"] is None else i18n.duration(info["age_s"], lang)
        badges.append(html.Div(
            className=f"wall-feed state-{info['state']}", **{"data-feed": feed, "data-state": info["state"]},
            children=[
                html.Span(className="wall-dot"),
                html.Span(i18n.t(f"feed.{feed}", lang), className="wall-feed-name"),
                html.Span(i18n.t(f"feed.state.{info['state']}", lang), className="wall-feed-state"),
                html.Span(age, className="wall-feed-age"),
            ],
        ))
    return badges


def build_feed_alerts(stalled: list[dict], lang: str) -> list:
    items = []
    for s in stalled:
        feed = i18n.t(f"feed.{s['feed']}", lang)
        text = (i18n.t("wall.alert.feed_never", lang, feed=feed) if s["age_s"] is None else
                i18n.t("wall.alert.feed", lang, feed=feed, state=i18n.t(f"feed.state.{s['state']}", lang),
                       age=i18n.duration(s["age_s"], lang)))
        items.append(html.Li(text, className=f"wall-alert sev-{s['state']}", **{"data-kind": "feed", "data-feed": s["feed"]}))
    return items


def build_data_alerts(board: dict, lang: str) -> list:
    """The alert engine's open spike/threshold alerts, and one line for the silent devices."""
    title = "title_zh" if lang == "zh" else "title_en"
    items = []
    silent = board["silent_devices"]
    if silent["count"]:
        items.append(html.Li(className="wall-alert sev-amber", **{"data-kind": "silent-devices"}, children=[
            html.Div(i18n.t("wall.alert.silent", lang, count=i18n.number(silent["count"], lang), minutes=silent["minutes"])),
            html.Div(("、" if lang == "zh" else ", ").join(silent["names"]) + (" …" if silent["count"] > len(silent["names"]) else ""),
                     className="wall-alert-detail"),
        ]))
    for alert in board["alerts"]:
        items.append(html.Li(
            alert[title], className=f"wall-alert sev-{'red' if alert['severity'] == 'high' else 'amber'}",
            **{"data-kind": "alert", "data-rule": alert["rule"], "data-alert": str(alert["alert_id"]),
               "data-unit": alert["unit_id"] or ""},
        ))
    if board.get("alerts_more"):
        items.append(html.Li(i18n.t("brief.more", lang, n=board["alerts_more"]), className="wall-alert sev-more",
                             **{"data-kind": "more"}))
    if not items:
        items.append(html.Li(i18n.t("wall.alert.none", lang), className="wall-alert sev-ok", **{"data-kind": "none"}))
    return items


def build_dispatch_board(dispatch: dict, lang: str, timezone: str) -> list:
    """Open joint dispatch orders, late ones first and in red; the counts above them."""
    if not dispatch["total"]:
        return [html.P(i18n.t("wall.dispatch.none", lang), className="wall-dispatch-empty")]
    rows = [html.P(i18n.t("wall.dispatch.summary", lang, total=i18n.number(dispatch["total"], lang),
                          late=i18n.number(dispatch["late"], lang)),
                   className="wall-dispatch-summary" + (" has-late" if dispatch["late"] else ""))]
    for order in dispatch["orders"]:
        rows.append(html.Div(
            className="wall-order" + (" late" if order["late"] else ""),
            **{"data-order": order["order_id"], "data-state": order["state"], "data-late": str(order["late"]).lower()},
            children=[
                html.Span(order["title"], className="wall-order-title"),
                html.Span(f"{i18n.t('board.state.' + order['state'], lang)} · "
                          + (i18n.t("board.late", lang) if order["late"] else
                             i18n.t("board.due", lang, time=i18n.local_time(order["due_at"], timezone, lang, fmt="HH:mm"))),
                          className="wall-order-state"),
            ],
        ))
    return rows


def build_focus(focus: list[dict], lang: str) -> dict:
    """What the wall's auto-focus cycles through (assets/wall.js): unit ids with a caption each."""
    name, title = ("name_zh", "title_zh") if lang == "zh" else ("name_en", "title_en")
    return {"label": i18n.t("wall.focus", lang), "none": i18n.t("wall.focus.none", lang),
            "units": [{"unit_id": f["unit_id"], "name": f[name] or f["unit_id"], "text": f[title]} for f in focus]}
