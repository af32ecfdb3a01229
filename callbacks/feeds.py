"""Feed-health page: freshness, rates and the quarantine, refreshed every tick."""
from __future__ import annotations

from dash import Input, Output, callback, html

import i18n
from callbacks.context import current_scope, lang_from, runtime
from layouts.components.page import PageIds
from layouts.shell import ShellIds
from views.feeds import feed_health, quarantine_summary, unplaced_cases


@callback(
    Output(PageIds.FEEDS_TITLE, "children"),
    Output(PageIds.FEEDS_TABLE, "children"),
    Output(PageIds.FEEDS_UNPLACED, "children"),
    Output(PageIds.QUARANTINE_TITLE, "children"),
    Output(PageIds.QUARANTINE_TABLE, "children"),
    Input(ShellIds.TICK, "n_intervals"),
    Input(ShellIds.URL, "search"),
)
def render_feed_health(_tick, search):
    lang = lang_from(search)
    rt = runtime()
    health = feed_health(rt.store, rt.settings)
    scope = current_scope()
    quarantine = quarantine_summary(rt.store, scope)
    unplaced = unplaced_line(unplaced_cases(rt.store, scope), rt.pack.levels[0], lang)
    return (i18n.t("feeds.title", lang), build_feed_table(health, lang, rt.pack.timezone), unplaced,
            i18n.t("quarantine.title", lang), build_quarantine_table(quarantine, lang, rt.pack.timezone))


def unplaced_line(counts: dict, first_level, lang: str) -> str:
    """'N cases outside every district (n open), M without a place (m open)'; empty when both are 0."""
    if not (counts["outside_cases"] or counts["unlocated_cases"]):
        return ""
    level = first_level.name_zh if lang == "zh" else first_level.name_en.lower()
    return i18n.t("feeds.unplaced", lang, level=level,
                  **{key: i18n.number(value, lang) for key, value in counts.items()})


def _row(cells, header=False):
    tag = html.Th if header else html.Td
    return html.Tr([tag(c) for c in cells])


def build_feed_table(health: dict, lang: str, timezone: str) -> list:
    import datetime as dt

    head = _row([i18n.t(f"feeds.col.{c}", lang) for c in ("feed", "state", "newest", "rate", "total", "quarantined", "quarantine_rate")], True)
    rows = []
    for feed, info in health.items():
        newest = None if info["last_record_at"] is None else dt.datetime.fromisoformat(info["last_record_at"].rstrip("Z"))
        rate = info["quarantine_rate_1h"]
        rows.append(html.Tr(**{"data-feed": feed}, children=[
            html.Td(i18n.t(f"feed.{feed}", lang)),
            html.Td(html.Span(i18n.t(f"feed.state.{info['state']}", lang), className=f"state-pill state-{info['state']}")),
            html.Td(i18n.local_time(newest, timezone, lang)),
            html.Td(i18n.number(info["rate_per_min"], lang, 1)),
            html.Td(i18n.number(info["records_total"], lang)),
            html.Td(i18n.number(info["quarantined_total"], lang)),
            html.Td("–" if rate is None else f"{rate * 100:.1f}%"),
        ]))
    return [html.Thead(head), html.Tbody(rows)]


def build_quarantine_table(rows: list[dict], lang: str, timezone: str) -> list:
    if not rows:
        return [html.Tbody(html.Tr(html.Td(i18n.t("quarantine.none", lang))))]
    head = _row([i18n.t("feeds.col.feed", lang), i18n.t("quarantine.col.reason", lang),
                 i18n.t("quarantine.col.records", lang), i18n.t("quarantine.col.last", lang)], True)
    body = [
        html.Tr([html.Td(i18n.t(f"feed.{r['feed']}", lang)), html.Td(r["reason"]), html.Td(i18n.number(r["records"], lang)),
                 html.Td(i18n.local_time(r["last_at"], timezone, lang))])
        for r in rows
    ]
    return [html.Thead(head), html.Tbody(body)]
