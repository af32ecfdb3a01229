"""Joint dispatch from the console: launch an order (case page, cases grid), the department queue.

Thin: who is asking comes from the session (never from the page), the domain does the rest
(dispatch.suggest, dispatch.queue, dispatch.service, which checks role and scope again).
"""
from __future__ import annotations

import json
import uuid

from dash import ALL, Input, Output, State, callback, clientside_callback, ctx, dcc, html, no_update

import i18n
from api.auth import principal
from callbacks.context import current_scope, lang_from, runtime, signed_in_as
from dispatch.origins import draft_for, launch, open_case_ids, parse_origin
from dispatch.queue import VIEWS, NoteRequired, act
from dispatch.service import DispatchError, actor_for
from dispatch.states import CREATE_ROLES, ORDER_STATES, SLA
from dispatch.suggest import HISTORY_DAYS, deadline_for, suggest
from layouts.components.page import PageIds
from layouts.dispatch import (
    ACTION, DUE, NOTE, TO, DispatchIds, action_label, build_launch_form, build_queue, deadline_text, default_title,
    department_name, origin_line,
)
from layouts.shell import ShellIds
from views.links import page_href
from views.queue import work_list

QUEUE_ROLES = frozenset({"department", "commander", "district_leader"})


def current_actor():
    """The signed-in user as a dispatch Actor (role and scope from the session)."""
    who = principal()
    if who is None:
        raise PermissionError("no principal for this request")
    return actor_for(runtime().pack, who.name, who.role, who.scopes)


def _may_launch() -> bool:
    return signed_in_as(CREATE_ROLES)


def refusal_text(exc: DispatchError, lang: str) -> str:
    """The service's refusal in the page's language (its catalog key, with the actions, states,
    roles and departments it names translated), else its English reason."""
    key = f"refusal.{exc.key}"
    if key not in i18n.MESSAGES:
        return exc.reason
    pack = runtime().pack
    sep = "、" if lang == "zh" else ", "
    named = {
        "action": lambda v: i18n.t(f"action.{v}", lang),
        "state": lambda v: i18n.t(f"dstate.{v}", lang),
        "role": lambda v: i18n.t(f"role.{v}", lang),
        "department": lambda v: department_name(pack, v, lang),
        "departments": lambda v: sep.join(department_name(pack, d, lang) for d in v),
        "due": lambda v: i18n.local_time(v, pack.timezone, lang, "short"),
    }
    params = {k: named[k](v) if k in named else v for k, v in exc.params.items()}
    return i18n.t(key, lang, **params)


# ---------------------------------------------------------------------------- launch


# The grid's ticked rows are the order's cases (no server round trip).
clientside_callback(
    "function (rows) { return (rows || []).map(function (r) { return r.case_id; }); }",
    Output(DispatchIds.CASES, "data"),
    Input(PageIds.DRILL_GRID, "selectedRows"),
    prevent_initial_call=True,
)

# Cancel closes the form.
clientside_callback(
    "function (n) { return n ? [] : window.dash_clientside.no_update; }",
    Output(DispatchIds.PANEL, "children", allow_duplicate=True),
    Input(DispatchIds.CANCEL, "n_clicks"),
    prevent_initial_call=True,
)


@callback(
    Output(DispatchIds.OPEN, "children"),
    Output(DispatchIds.OPEN, "hidden"),
    Output(DispatchIds.OPEN, "disabled"),
    Input(DispatchIds.CASES, "data"),
    Input(ShellIds.URL, "search"),
)
def render_launch_button(case_ids, search):
    lang = lang_from(search)
    n = len(case_ids or [])
    if not _may_launch():
        return "", True, True
    if n and not open_case_ids(runtime().store, current_scope(), list(case_ids)):
        return "", True, True  # closed (or not visible): nothing to dispatch
    if n == 0:
        return i18n.t("dispatch.select_hint", lang), False, True
    return (i18n.t("dispatch.launch", lang) if n == 1 else i18n.t("dispatch.launch_n", lang, n=n)), False, False


@callback(
    Output(DispatchIds.PANEL, "children"),
    Output(DispatchIds.COMMAND, "data"),
    Output(DispatchIds.RESULT, "children", allow_duplicate=True),
    Input(DispatchIds.OPEN, "n_clicks"),
    State(DispatchIds.CASES, "data"),
    State(ShellIds.URL, "search"),
    prevent_initial_call=True,
)
def open_launch_form(n_clicks, case_ids, search):
    lang = lang_from(search)
    if not n_clicks or not _may_launch():
        return [], None, ""
    rt = runtime()
    s = suggest(rt.store, rt.pack, current_scope(), list(case_ids or []))
    if not s.cases:
        return [], None, html.P(i18n.t("dispatch.no_cases", lang), className="message error")
    deadline = deadline_text(s.due_at, SLA[s.priority][0].total_seconds(), rt.pack.timezone, lang, s.working_calendar)
    form = build_launch_form(rt.pack, s, lang, default_title(rt.pack, s, lang), deadline, HISTORY_DAYS)
    note = html.P(i18n.t("dispatch.missing", lang, n=len(s.missing)), className="message warn") if s.missing else ""
    return form, uuid.uuid4().hex, note


@callback(
    Output(DispatchIds.CASES, "data", allow_duplicate=True),
    Output(DispatchIds.PANEL, "children", allow_duplicate=True),
    Output(DispatchIds.COMMAND, "data", allow_duplicate=True),
    Output(DispatchIds.RESULT, "children", allow_duplicate=True),
    Input(DispatchIds.ORIGIN, "data"),
    State(ShellIds.URL, "search"),
    prevent_initial_call=True,
)
def open_origin_form(origin_data, search):
    """An alert's dispatch button or an area picked on the map: the form for the cases found there
    (read here through the caller's scope; the page only says which alert or area)."""
    lang = lang_from(search)
    origin = parse_origin(origin_data)
    if origin is None or not _may_launch():
        return no_update, no_update, no_update, no_update
    rt = runtime()
    try:
        draft = draft_for(rt.store, rt.pack, current_scope(), origin)
    except DispatchError as exc:
        return [], [], None, html.P(refusal_text(exc, lang), className="message error")
    line = origin_line(draft.found, rt.pack, lang)
    if draft.suggestion is None:
        return [], [], None, html.P(line, className="message warn", id="dispatch-origin-empty")
    s = draft.suggestion
    deadline = deadline_text(s.due_at, SLA[s.priority][0].total_seconds(), rt.pack.timezone, lang, s.working_calendar)
    form = build_launch_form(rt.pack, s, lang, default_title(rt.pack, s, lang), deadline, HISTORY_DAYS, origin=line)
    return draft.found.case_ids, form, uuid.uuid4().hex, ""


@callback(
    Output(DispatchIds.DEADLINE, "children"),
    Input(DispatchIds.PRIORITY, "value"),
    State(DispatchIds.CASES, "data"),
    State(ShellIds.URL, "search"),
    prevent_initial_call=True,
)
def preview_deadline(priority, case_ids, search):
    lang = lang_from(search)
    rt = runtime()
    if priority not in SLA:
        return no_update
    due, working = deadline_for(rt.store, rt.pack, current_scope(), list(case_ids or []), priority)
    if due is None:
        return ""
    return deadline_text(due, SLA[priority][0].total_seconds(), rt.pack.timezone, lang, working)


@callback(
    Output(DispatchIds.RESULT, "children"),
    Output(DispatchIds.PANEL, "children", allow_duplicate=True),
    Input(DispatchIds.SUBMIT, "n_clicks"),
    State(DispatchIds.TITLE, "value"),
    State(DispatchIds.LEAD, "value"),
    State(DispatchIds.ASSIST, "value"),
    State(DispatchIds.PRIORITY, "value"),
    State(DispatchIds.INSTRUCTIONS, "value"),
    State(DispatchIds.CASES, "data"),
    State(DispatchIds.COMMAND, "data"),
    State(DispatchIds.ORIGIN, "data"),
    State(ShellIds.URL, "search"),
    prevent_initial_call=True,
)
def submit_order(n_clicks, title, lead, assists, priority, instructions, case_ids, command_id, origin, search):
    lang = lang_from(search)
    if not n_clicks:
        return no_update, no_update
    if not (title or "").strip():
        return html.P(i18n.t("dispatch.need_title", lang), className="message error"), no_update
    if not lead:
        return html.P(i18n.t("dispatch.need_lead", lang), className="message error"), no_update
    rt = runtime()
    body = {"title": title, "case_ids": list(case_ids or []), "lead_department": lead,
            "assist_departments": [a for a in (assists or []) if a != lead], "priority": priority,
            "instructions": instructions or "", "command_id": command_id or uuid.uuid4().hex}
    try:
        _, order = launch(rt.store, rt.pack, current_actor(), body, parse_origin(origin))
    except DispatchError as exc:
        return html.P(i18n.t("dispatch.refused", lang, reason=refusal_text(exc, lang)), className="message error"), no_update
    sep = "、" if lang == "zh" else ", "
    assisting = sep.join(department_name(rt.pack, d, lang) for d in order["assist_departments"]) or i18n.t("dispatch.none", lang)
    done = html.Div(className="message ok", id="dispatch-created", **{"data-order": order["id"]}, children=[
        i18n.t("dispatch.created", lang, id=order["id"], lead=department_name(rt.pack, order["lead_department"], lang),
               assists=assisting), " ",
        dcc.Link(i18n.t("dispatch.view_queue", lang), href=page_href("/queue", lang, view="open"), className="queue-jump"),
    ])
    return done, []


# ---------------------------------------------------------------------------- queue


def _fingerprint(items: list[dict], lang: str, view: str, priority) -> str:
    return json.dumps([lang, view, priority, [(i["order"]["id"], i["order"]["version"], [t["late"] for t in i["tasks"]],
                                               [(a["action"], a["department"]) for a in i["actions"]]) for i in items]])


@callback(
    Output(DispatchIds.QUEUE_TITLE, "children"),
    Output(DispatchIds.QUEUE_VIEW, "options"),
    Output(DispatchIds.QUEUE_PRIORITY, "options"),
    Output(DispatchIds.QUEUE_COUNT, "children"),
    Output(DispatchIds.QUEUE_LIST, "children"),
    Output(DispatchIds.QUEUE_CONTEXT, "data"),
    Input(ShellIds.VERSION, "data"),
    Input(DispatchIds.QUEUE_VIEW, "value"),
    Input(DispatchIds.QUEUE_PRIORITY, "value"),
    Input(DispatchIds.QUEUE_REFRESH, "data"),
    Input(ShellIds.URL, "search"),
    State(DispatchIds.QUEUE_CONTEXT, "data"),
)
def render_queue(_version, view, priority, _refresh, search, context):
    """Re-reads on every data version, but re-draws only when the orders shown changed (a note
    being typed survives the simulator's writes)."""
    context = context or {}
    lang = lang_from(search, context.get("lang"))
    rt = runtime()
    actor = current_actor()
    views = [{"label": i18n.t(f"queue.view.{v}", lang), "value": v} for v in VIEWS] + \
            [{"label": i18n.t(f"dstate.{s}", lang), "value": s} for s in ("resolved", "closed", "cancelled")]
    priorities = [{"label": i18n.t("queue.priority.all", lang), "value": "all"}] + \
                 [{"label": f"P{p}", "value": str(p)} for p in SLA]
    if actor.role == "department":
        title = i18n.t("queue.title.department", lang, department=department_name(rt.pack, actor.department, lang))
    else:
        title = i18n.t("queue.title.command", lang)
    if actor.role not in QUEUE_ROLES:
        return (title, views, priorities, "", [html.P(i18n.t("queue.no_access", lang), className="muted")],
                {**context, "shown": None})
    view = view if view in VIEWS or view in ORDER_STATES else "todo"
    wanted = int(priority) if str(priority) in {str(p) for p in SLA} else None
    items = work_list(rt.store, actor, view, wanted)
    shown = _fingerprint(items, lang, view, wanted)
    if shown == context.get("shown"):
        return title, views, priorities, no_update, no_update, no_update
    return (title, views, priorities, i18n.t("queue.count", lang, n=len(items)), build_queue(items, rt.pack, lang),
            {**context, "shown": shown})


@callback(
    Output(DispatchIds.QUEUE_MESSAGE, "children"),
    Output(DispatchIds.QUEUE_REFRESH, "data"),
    Input({"type": ACTION, "order": ALL, "action": ALL, "department": ALL, "version": ALL}, "n_clicks"),
    State({"type": NOTE, "order": ALL}, "value"),
    State({"type": NOTE, "order": ALL}, "id"),
    State({"type": DUE, "order": ALL}, "value"),
    State({"type": DUE, "order": ALL}, "id"),
    State({"type": TO, "order": ALL}, "value"),
    State({"type": TO, "order": ALL}, "id"),
    State(DispatchIds.QUEUE_REFRESH, "data"),
    State(ShellIds.URL, "search"),
    prevent_initial_call=True,
)
def act_on_order(_clicks, notes, note_ids, dues, due_ids, targets, target_ids, refresh, search):
    """One button press: the button's id carries the order, action, department and the version shown."""
    lang = lang_from(search)
    pressed = ctx.triggered_id
    if not isinstance(pressed, dict) or not (ctx.triggered and ctx.triggered[0].get("value")):  # new buttons: 0 clicks
        return no_update, no_update
    try:
        order_id, action = str(pressed["order"]), str(pressed["action"])
        department, version = str(pressed.get("department") or ""), int(pressed["version"])
    except (KeyError, TypeError, ValueError):
        return no_update, no_update
    note, due_at, to_department = (_of_order(ids, values, order_id) for ids, values in
                                   ((note_ids, notes), (due_ids, dues), (target_ids, targets)))
    rt = runtime()
    label = action_label(action, department, rt.pack, lang)
    try:
        act(rt.store, rt.pack, current_actor(), order_id, action, department=department, version=version,
            note=note, due_at=due_at, to_department=to_department)
    except NoteRequired:
        return html.P(i18n.t(f"queue.note_required.{action}" if f"queue.note_required.{action}" in i18n.MESSAGES
                             else "queue.note_required", lang), className="message error"), no_update
    except DispatchError as exc:
        text = i18n.t("queue.stale", lang) if exc.status == 409 else i18n.t("queue.refused", lang, reason=refusal_text(exc, lang))
        return html.P(text, className="message error", **{"data-action": action}), (refresh or 0) + 1
    return (html.P(i18n.t("queue.done", lang, order=order_id, action=label), className="message ok",
                   **{"data-order": order_id, "data-action": action}), (refresh or 0) + 1)


def _of_order(ids, values, order_id: str) -> str:
    """The value of the row's own field (pattern-matching states come as parallel lists)."""
    value = next((v for i, v in zip(ids or [], values or []) if isinstance(i, dict) and i.get("order") == order_id), "")
    return value if isinstance(value, str) else ""


@callback(
    Output(ShellIds.QUEUE_LINK, "children"),
    Output(ShellIds.QUEUE_LINK, "href"),
    Output(ShellIds.QUEUE_LINK, "hidden"),
    Input(ShellIds.URL, "pathname"),
    Input(ShellIds.URL, "search"),
)
def render_queue_link(_pathname, search):
    lang = lang_from(search)
    who = principal()
    visible = who is not None and not who.guest and who.role in QUEUE_ROLES
    return i18n.t("queue.nav", lang), page_href("/queue", lang), not visible
