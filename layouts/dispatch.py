"""Joint dispatch in the console: the launch bar and form (case page, cases grid), order cards and
the queue's rows. Components and pure builders only: callbacks/dispatch.py fills them in.

Not a page (no register_page): the case, cases and queue pages place these pieces.
"""
from __future__ import annotations

from enum import StrEnum

from dash import dcc, html

import i18n
from views.links import case_href


class DispatchIds(StrEnum):
    CASES = "dispatch-cases"  # Store: the case ids the form is about
    ORIGIN = "dispatch-origin"  # Store: an alert or map area the form was opened from (set by assets/overview.js)
    OPEN = "dispatch-open"  # the launch button
    PANEL = "dispatch-panel"  # holds the form once opened
    COMMAND = "dispatch-command"  # Store: the command id of the open form (a double submit is one order)
    TITLE = "dispatch-title"
    LEAD = "dispatch-lead"
    ASSIST = "dispatch-assist"
    PRIORITY = "dispatch-priority"
    DEADLINE = "dispatch-deadline"
    INSTRUCTIONS = "dispatch-instructions"
    SUBMIT = "dispatch-submit"
    CANCEL = "dispatch-cancel"
    RESULT = "dispatch-result"
    QUEUE_CONTEXT = "queue-context"
    QUEUE_TITLE = "queue-title"
    QUEUE_VIEW = "queue-view"
    QUEUE_PRIORITY = "queue-priority"
    QUEUE_COUNT = "queue-count"
    QUEUE_LIST = "queue-list"
    QUEUE_MESSAGE = "queue-message"
    QUEUE_REFRESH = "queue-refresh"  # Store bumped after an action: the list re-reads at once


ACTION = "queue-action"  # pattern-matching ids: {"type": ACTION, "order", "action", "department", "version"}
NOTE = "queue-note"  # {"type": NOTE, "order"}: progress, or the reason of a return, extension, reassignment, cancellation
DUE = "queue-due"  # {"type": DUE, "order"}: the new deadline of an extension (city-local date and time)
TO = "queue-to"  # {"type": TO, "order"}: where a reassigned task goes


def launch_bar(case_ids: list[str] | None = None) -> html.Div:
    """The launch button, its (initially empty) form panel and the result line."""
    return html.Div(className="dispatch-launch", children=[
        dcc.Store(id=DispatchIds.CASES, data=list(case_ids or [])),
        dcc.Store(id=DispatchIds.ORIGIN),
        dcc.Store(id=DispatchIds.COMMAND),
        html.Button(id=DispatchIds.OPEN, className="button primary dispatch-open", n_clicks=0, hidden=True),
        html.Div(id=DispatchIds.PANEL, className="dispatch-panel"),
        html.Div(id=DispatchIds.RESULT, className="dispatch-result", role="status"),
    ])


def department_name(pack, department: str, lang: str) -> str:
    names = pack.departments.set_index("department_id")["name_zh" if lang == "zh" else "name_en"]
    return str(names.get(department, department))


def department_options(pack, lang: str) -> list[dict]:
    return [{"label": row.name_zh if lang == "zh" else row.name_en, "value": row.department_id}
            for row in pack.departments.itertuples()]


def priority_options(lang: str) -> list[dict]:
    return [{"label": i18n.t(f"dispatch.priority.{p}", lang), "value": p} for p in (1, 2, 3, 4)]


def default_title(pack, suggestion, lang: str) -> str:
    if not suggestion.categories:
        return ""
    category_id, _ = suggestion.categories[0]
    names = pack.categories.set_index("category_id")["name_zh" if lang == "zh" else "name_en"]
    category = str(names.get(category_id, category_id))
    n = len(suggestion.cases)
    return i18n.t("dispatch.default_title_one" if n == 1 else "dispatch.default_title", lang, category=category, n=n)


def deadline_text(due, ack_within_s: float, timezone: str, lang: str, working: bool) -> list:
    text = i18n.t("dispatch.deadline.text", lang, due=i18n.local_time(due, timezone, lang, "short"),
                  ack=i18n.duration(ack_within_s, lang))
    return [html.Span(text, className="deadline-value")] + (
        [html.Span(i18n.t("dispatch.deadline.working", lang), className="muted deadline-note")] if working else [])


def _reason(code: str, department: str, suggestion, lang: str) -> str:
    n = {"history_together": suggestion.resolved_together.get(department, 0),
         "history_cases": suggestion.closed_cases.get(department, 0)}.get(code)
    return i18n.t(f"dispatch.reason.{code}", lang, n=n) if n is not None else i18n.t(f"dispatch.reason.{code}", lang)


def build_basis(pack, suggestion, lang: str, history_days: int) -> html.Div:
    """Why each suggested department is there (rules, history)."""
    rows = [html.Li([html.Span(department_name(pack, d, lang), className="basis-dept"), " · ",
                     "；".join(_reason(c, d, suggestion, lang) for c in suggestion.reasons.get(d, [])) if lang == "zh"
                     else "; ".join(_reason(c, d, suggestion, lang) for c in suggestion.reasons.get(d, []))])
            for d in [suggestion.lead, *suggestion.assists] if d]
    history = i18n.t("dispatch.basis.history", lang, n=suggestion.history_orders, days=history_days)
    return html.Div(className="dispatch-basis", children=[
        html.Div(i18n.t("dispatch.basis", lang), className="field-label"),
        html.Ul(rows, id="dispatch-basis-list"),
        html.Div(history, className="muted"),
    ])


def origin_line(found, pack, lang: str) -> str:
    """Where the form comes from (an alert, a district, a box on the map) and what it found there."""
    n = len(found.case_ids)
    kind = found.origin.kind
    if kind == "alert":
        alert = found.alert
        text = i18n.t("dispatch.origin.alert", lang, id=alert["alert_id"],
                      title=alert["title_zh"] if lang == "zh" else alert["title_en"])
        if found.from_evidence:
            return text + i18n.t("dispatch.origin.alert_evidence", lang, n=n)
        return text + i18n.t("dispatch.origin.alert_unit", lang, n=n)
    if kind == "unit":
        unit = pack.units_by_id.get((found.origin.level, found.origin.unit_id))
        name = (unit["name_zh"] if lang == "zh" else unit["name_en"]) if unit else found.origin.unit_id
        return i18n.t("dispatch.origin.unit", lang, unit=name, n=n)
    return i18n.t("dispatch.origin.box", lang, n=n)


def build_launch_form(pack, suggestion, lang: str, title: str, deadline: list, history_days: int,
                      origin: str = "") -> list:
    """The form, pre-filled with the suggestion (the commander may change every field); `origin`:
    a line saying where it was launched from (an alert, a map area)."""
    case_ids = [c["case_id"] for c in suggestion.cases]
    shown = ", ".join(case_ids[:8]) + (f" … (+{len(case_ids) - 8})" if len(case_ids) > 8 else "")

    def field(label_key: str, control, wide: bool = False) -> html.Label:
        return html.Label(className="field" + (" wide" if wide else ""),
                          children=[html.Span(i18n.t(label_key, lang), className="field-label"), control])

    options = department_options(pack, lang)
    form = html.Div(className="dispatch-form", id="dispatch-form", children=[
        html.H2(i18n.t("dispatch.form.title", lang)),
        *([html.Div(origin, className="dispatch-origin-line", id="dispatch-origin-line")] if origin else []),
        html.Div(className="form-grid", children=[
            field("dispatch.field.title", dcc.Input(id=DispatchIds.TITLE, value=title, type="text", maxLength=200,
                                                    className="text-input"), wide=True),
            field("dispatch.field.cases", html.Div(shown, className="case-list", id="dispatch-case-list"), wide=True),
            field("dispatch.field.lead", dcc.Dropdown(id=DispatchIds.LEAD, options=options, value=suggestion.lead or None,
                                                      clearable=False)),
            field("dispatch.field.assist", dcc.Dropdown(id=DispatchIds.ASSIST, options=options, value=suggestion.assists,
                                                        multi=True,
                                                        placeholder=i18n.t("dispatch.assist.placeholder", lang))),
            field("dispatch.field.priority", dcc.RadioItems(id=DispatchIds.PRIORITY, options=priority_options(lang),
                                                            value=suggestion.priority, inline=True,
                                                            className="priority-choice")),
            field("dispatch.field.deadline", html.Div(deadline, id=DispatchIds.DEADLINE, className="deadline")),
            field("dispatch.field.instructions", dcc.Textarea(
                id=DispatchIds.INSTRUCTIONS, value="", maxLength=4000, className="text-input",
                placeholder=i18n.t("dispatch.instructions.placeholder", lang), style={"height": "84px"}), wide=True),
        ]),
        build_basis(pack, suggestion, lang, history_days),
        html.Div(className="form-actions", children=[
            html.Button(i18n.t("dispatch.submit", lang), id=DispatchIds.SUBMIT, className="button primary", n_clicks=0),
            html.Button(i18n.t("dispatch.cancel", lang), id=DispatchIds.CANCEL, className="button", n_clicks=0),
        ]),
    ])
    return [form]


# ---------------------------------------------------------------------------- orders and tasks


def _when(value, timezone: str, lang: str) -> str:
    return i18n.local_time(value, timezone, lang, "short")


def task_chip(task: dict, pack, lang: str) -> html.Span:
    """One department's task: name, lead/assist, state, deadline; red when late."""
    due = task["ack_due_at_utc"] if task["state"] == "issued" else task["due_at_utc"]
    due_key = "queue.ack_due" if task["state"] == "issued" else "queue.due"
    return html.Span(
        className="task-chip" + (" late" if task["late"] else "") + f" tstate-{task['state']}",
        **{"data-department": task["department"], "data-state": task["state"], "data-late": "1" if task["late"] else "0"},
        children=[
            html.Span(department_name(pack, task["department"], lang), className="task-dept"),
            html.Span(i18n.t(f"queue.role.{task['role']}", lang), className="task-role"),
            html.Span(i18n.t(f"dstate.{task['state']}", lang), className="task-state"),
            html.Span(i18n.t(due_key, lang, time=_when(due, pack.timezone, lang)), className="task-due"),
            *([html.Span(i18n.t("queue.late", lang), className="late-flag")] if task["late"] else []),
            *([html.Span(i18n.t("queue.extension_requested", lang,
                                time=_when(task["requested_due_at_utc"], pack.timezone, lang)), className="extension-flag")]
              if task.get("requested_due_at_utc") else []),
        ],
    )


def order_state_pill(state: str, lang: str) -> html.Span:
    return html.Span(i18n.t(f"dstate.{state}", lang), className=f"order-state ostate-{state}", **{"data-state": state})


def build_order_cards(items: list[dict], pack, lang: str) -> list:
    """A case's orders: state, priority, deadline and every task with its deadline (late in red)."""
    if not items:
        return [html.P(i18n.t("case.no_orders", lang), className="muted")]
    cards = []
    for item in items:
        order = item["order"]
        cards.append(html.Div(className="order-card" + (" late" if item["late"] else ""),
                              **{"data-order": order["id"], "data-state": order["state"]}, children=[
            html.Div(className="order-head", children=[
                html.Span(order["id"], className="order-id"),
                html.Span(order["title"], className="order-title"),
                html.Span(f"P{order['priority']}", className=f"prio prio-{order['priority']}"),
                order_state_pill(order["state"], lang),
                html.Span(i18n.t("queue.due", lang, time=_when(order["due_at_utc"], pack.timezone, lang)),
                          className="muted"),
            ]),
            html.Div([task_chip(t, pack, lang) for t in item["tasks"]], className="task-chips"),
        ]))
    return cards


def action_label(action: str, department: str, pack, lang: str, several: bool = True, label: str = "") -> str:
    """A button's label; task actions of a commander name the department when the order has several
    (`label`: another message for the same action, e.g. a department's extension is a request)."""
    key = f"queue.action.{label or action}"
    if action in ("return", "approve_extension", "extend", "reassign") and department and several:
        return i18n.t(key + ".task", lang, department=department_name(pack, department, lang))
    return i18n.t(key, lang)


def _button(order: dict, action: dict, pack, lang: str, several: bool = True) -> html.Button:
    label = action_label(action["action"], action["department"], pack, lang, several, action.get("label", ""))
    return html.Button(
        label, n_clicks=0,
        className="button action-button" + (" primary" if action["action"] in ("resolve", "verify", "close") else "")
        + (" danger" if action["action"] == "cancel" else ""),
        id={"type": ACTION, "order": order["id"], "action": action["action"], "department": action["department"],
            "version": order["version"]},
        **{"data-action": action["action"]},
    )


def build_queue(items: list[dict], pack, lang: str) -> list:
    """The queue's rows: an order with its tasks, a note field and the buttons the caller may press."""
    if not items:
        return [html.P(i18n.t("queue.empty", lang), className="muted queue-empty")]
    rows = []
    for item in items:
        order = item["order"]
        actions = item["actions"]
        rows.append(html.Div(
            className="queue-row" + (" late" if item["late"] else ""),
            **{"data-order": order["id"], "data-state": order["state"], "data-version": str(order["version"])},
            children=[
                html.Div(className="order-head", children=[
                    html.Span(f"P{order['priority']}", className=f"prio prio-{order['priority']}"),
                    html.Span(order["title"], className="order-title"),
                    order_state_pill(order["state"], lang),
                    html.Span(order["id"], className="order-id muted"),
                ]),
                html.Div(className="order-meta muted", children=[
                    html.Span(i18n.t("queue.cases", lang, n=len(order["case_ids"]))), " · ",
                    *_case_links(order["case_ids"], lang), " · ",
                    html.Span(i18n.t("queue.by", lang, who=order["created_by"],
                                     time=_when(order["created_at_utc"], pack.timezone, lang))),
                ]),
                *([html.Div(order["instructions"], className="order-instructions")] if order["instructions"] else []),
                html.Div([task_chip(t, pack, lang) for t in item["tasks"]], className="task-chips"),
                *([html.Div(className="queue-actions", children=[
                    dcc.Input(id={"type": NOTE, "order": order["id"]}, type="text", value="", maxLength=4000,
                              className="text-input note-input", placeholder=i18n.t("queue.note.placeholder", lang)),
                    *[_button(order, a, pack, lang) for a in actions if not a["adjust"]],
                ])] if actions else []),
                *([_adjust_row(order, [a for a in actions if a["adjust"]], pack, lang)]
                  if any(a["adjust"] for a in actions) else []),
            ],
        ))
    return rows


def _adjust_row(order: dict, adjust: list[dict], pack, lang: str) -> html.Div:
    """Extend (a new deadline), reassign (another department), cancel: each with the note as its reason."""
    several = len({a["department"] for a in adjust if a["department"]}) > 1
    controls = [html.Span(i18n.t("queue.adjust", lang), className="adjust-label")]
    if any(a["action"] == "extend" for a in adjust):
        controls.append(html.Label(className="adjust-field", children=[
            html.Span(i18n.t("queue.new_due", lang), className="muted"),
            dcc.Input(id={"type": DUE, "order": order["id"]}, type="datetime-local", value="",
                      className="text-input due-input"),
        ]))
        controls += [_button(order, a, pack, lang, several) for a in adjust if a["action"] == "extend"]
    if any(a["action"] == "reassign" for a in adjust):
        controls.append(html.Label(className="adjust-field", children=[
            html.Span(i18n.t("queue.to_department", lang), className="muted"),
            dcc.Dropdown(id={"type": TO, "order": order["id"]}, options=department_options(pack, lang), value=None,
                         clearable=False, className="to-department", placeholder=i18n.t("queue.to_department", lang)),
        ]))
        controls += [_button(order, a, pack, lang, several) for a in adjust if a["action"] == "reassign"]
    controls += [_button(order, a, pack, lang, several) for a in adjust if a["action"] == "cancel"]
    return html.Div(controls, className="queue-adjust")


def _case_links(case_ids: list[str], lang: str) -> list:
    links = []
    for case_id in case_ids[:5]:
        links += [dcc.Link(case_id, href=case_href(case_id, lang), className="case-link"), " "]
    if len(case_ids) > 5:
        links.append(f"… (+{len(case_ids) - 5})")
    return links
