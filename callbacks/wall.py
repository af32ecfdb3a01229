"""The wall (/wall): board on every data version, feed freshness and heartbeat on every tick.

The map is drawn by callbacks/map.py (shared ids, the page context asks for the first level).
"""
from __future__ import annotations

import time

from dash import ClientsideFunction, Input, Output, State, callback, clientside_callback, html

import i18n
from callbacks.context import current_scope, lang_from, runtime
from indicators.wall import wall_board, wall_pulse
from layouts.components.wall import WallIds
from callbacks.shell import poll_version
from layouts.shell import ShellIds

clientside_callback(
    ClientsideFunction("wall", "heartbeat"),
    Output(WallIds.HEARTBEAT_SEEN, "data"),
    Input(WallIds.HEARTBEAT, "data"),
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
    Input(ShellIds.VERSION, "data"),
    Input(ShellIds.URL, "search"),
)
def render_wall_board(version, search):
    rt = runtime()
    lang = lang_from(search)
    board = wall_board(rt.store, rt.pack, current_scope())
    return (build_kpis(board["kpis"], lang), build_data_alerts(board, lang),
            i18n.t("wall.kpis", lang), i18n.t("wall.map", lang), i18n.t("wall.alerts", lang),
            i18n.t("wall.dispatch", lang), i18n.t("wall.dispatch.none", lang))


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


def _format_value(value, unit: str, lang: str) -> str:
    if value is None:
        return "–"
    if unit == "ratio":
        return i18n.number(value * 100, lang, digits=1)
    if unit in ("ug/m3", "min"):
        return i18n.number(value, lang, digits=1)
    return i18n.number(value, lang)


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
                    html.Span(_format_value(kpi["value"], kpi["unit"], lang), className="wall-kpi-value"),
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
    name = "name_zh" if lang == "zh" else "name_en"
    items = []
    silent = board["silent_devices"]
    if silent["count"]:
        items.append(html.Li(className="wall-alert sev-amber", **{"data-kind": "silent-devices"}, children=[
            html.Div(i18n.t("wall.alert.silent", lang, count=i18n.number(silent["count"], lang), minutes=silent["minutes"])),
            html.Div(("、" if lang == "zh" else ", ").join(silent["names"]) + (" …" if silent["count"] > len(silent["names"]) else ""),
                     className="wall-alert-detail"),
        ]))
    for row in board["overdue_top"]:
        items.append(html.Li(
            i18n.t("wall.alert.overdue", lang, name=row[name] or row["unit_id"], count=i18n.number(row["overdue_cases"], lang)),
            className="wall-alert sev-red", **{"data-kind": "overdue", "data-unit": row["unit_id"]},
        ))
    if not items:
        items.append(html.Li(i18n.t("wall.alert.none", lang), className="wall-alert sev-ok", **{"data-kind": "none"}))
    return items

