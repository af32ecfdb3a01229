"""Briefings page: options from the caller's scope, generate a frozen pack, list the archive."""
from __future__ import annotations

import datetime as dt

from dash import Input, Output, State, callback, html

import i18n
from api.auth import principal
from briefings import BriefError, TEMPLATES, build_brief, freeze, list_briefings
from briefings.access import may_brief
from callbacks.context import current_scope, lang_from, runtime
from indicators.compute import parse_time
from layouts.components.page import PageIds
from layouts.shell import ShellIds


def _scopes(pack, role, scope, lang):
    options = [{"label": pack.name(lang), "value": "city"}] if may_brief(pack, role, scope, "city") else []
    level = pack.levels[0]
    for unit in level.units.itertuples():
        text = f"{level.id}:{unit.unit_id}"
        if may_brief(pack, role, scope, text):
            options.append({"label": unit.name_zh if lang == "zh" else unit.name_en, "value": text})
    return options


@callback(
    Output(PageIds.BRIEF_TITLE, "children"),
    Output(PageIds.BRIEF_TEMPLATE, "options"),
    Output(PageIds.BRIEF_TEMPLATE, "value"),
    Output(PageIds.BRIEF_SCOPE, "options"),
    Output(PageIds.BRIEF_SCOPE, "value"),
    Output(PageIds.BRIEF_PERIOD, "start_date"),
    Output(PageIds.BRIEF_PERIOD, "end_date"),
    Output(PageIds.BRIEF_GENERATE, "children"),
    Output(PageIds.BRIEF_ARCHIVE_TITLE, "children"),
    Output(PageIds.BRIEF_ARCHIVE, "children"),
    Input(PageIds.BRIEF_CONTEXT, "data"),
    Input(ShellIds.URL, "search"),
    Input(PageIds.BRIEF_RESULT, "children"),
)
def render_briefings_page(context, search, _result):
    rt = runtime()
    lang = lang_from(search, (context or {}).get("lang"))
    who, scope = principal(), current_scope()
    templates = [{"label": i18n.t(f"brief.template.{t}", lang), "value": t} for t in TEMPLATES]
    today = dt.datetime.now(dt.UTC).date()
    archive = [row for row in list_briefings(rt.store, 50) if may_brief(rt.pack, who.role, scope, row["scope"])]
    scopes = _scopes(rt.pack, who.role, scope, lang)
    wanted = (context or {}).get("scope") or "city"
    chosen = wanted if any(o["value"] == wanted for o in scopes) else (scopes[0]["value"] if scopes else None)
    template = (context or {}).get("template") if (context or {}).get("template") in TEMPLATES else "daily"
    return (i18n.t("briefings.title", lang), templates, template, scopes, chosen,
            (today - dt.timedelta(days=1)).isoformat(), today.isoformat(), i18n.t("briefings.generate", lang),
            i18n.t("briefings.archive", lang), build_archive(archive, lang, rt.pack.timezone))


def build_archive(rows: list[dict], lang: str, timezone: str) -> list:
    if not rows:
        return [html.Tbody(html.Tr(html.Td(i18n.t("briefings.none", lang))))]
    head = html.Thead(html.Tr([html.Th(i18n.t(k, lang)) for k in
                               ("briefings.col.id", "briefings.col.template", "briefings.col.scope",
                                "briefings.col.period", "briefings.col.created", "briefings.col.files")]))
    body = [
        html.Tr(**{"data-briefing": str(r["id"])}, children=[
            html.Td(str(r["id"])), html.Td(i18n.t(f"brief.template.{r['template']}", lang)), html.Td(r["scope"]),
            html.Td(f"{i18n.local_time(r['start'], timezone, lang, 'short')} – {i18n.local_time(r['end'], timezone, lang, 'short')}"),
            html.Td(i18n.local_time(r["created_at"], timezone, lang, "short")),
            html.Td([html.A("PDF", href=f"/briefings/{r['id']}.pdf", className="part-link"), " · ",
                     html.A("HTML", href=f"/briefings/{r['id']}.html", className="part-link", target="_blank")]),
        ])
        for r in rows
    ]
    return [head, html.Tbody(body)]


@callback(
    Output(PageIds.BRIEF_RESULT, "children"),
    Input(PageIds.BRIEF_GENERATE, "n_clicks"),
    State(PageIds.BRIEF_TEMPLATE, "value"),
    State(PageIds.BRIEF_SCOPE, "value"),
    State(PageIds.BRIEF_PERIOD, "start_date"),
    State(PageIds.BRIEF_PERIOD, "end_date"),
    State(ShellIds.URL, "search"),
    prevent_initial_call=True,
)
def generate_briefing(n_clicks, template, scope_text, start_date, end_date, search):
    """Build and freeze a pack (the spinner shows while it builds); the new row joins the archive."""
    rt = runtime()
    lang = lang_from(search)
    who = principal()
    if not n_clicks or not may_brief(rt.pack, who.role, current_scope(), scope_text or ""):
        return html.P(i18n.t("briefings.denied", lang), className="login-error")
    try:
        start = parse_time(start_date, rt.pack.timezone, rt.store.time_domain, "start")
        end = parse_time(end_date, rt.pack.timezone, rt.store.time_domain, "end") + dt.timedelta(days=1)  # inclusive
        brief = build_brief(rt.store, rt.pack, scope_text, template, start, min(end, dt.datetime.now(dt.UTC).replace(tzinfo=None)), lang)
        briefing_id, pdf = freeze(rt.store, brief)
    except (BriefError, ValueError) as exc:
        return html.P(str(exc), className="login-error")
    from security.users import audit

    audit(rt.store, who.name, who.role, "brief", target=str(briefing_id), detail=f"{template} {scope_text}", origin="console")
    return html.P([i18n.t("briefings.done", lang, id=briefing_id), " ",
                   html.A("PDF", href=f"/briefings/{briefing_id}.pdf", className="part-link", id="brief-new-pdf")])
