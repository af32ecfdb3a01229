"""Map, ranking and scorecard of the overview and unit pages; clicks on the map navigate."""
from __future__ import annotations

from dash import ClientsideFunction, Input, Output, State, callback, clientside_callback, dcc, html

import i18n
from callbacks.context import current_scope, lang_from, runtime
from indicators.drill import default_window
from indicators.catalog import get as get_indicator
from layouts.components.deckmap import (MapIds, build_indicator_spec, build_legend, build_map_spec,
                                        build_threshold_legend)
from layouts.components.page import PageIds
from layouts.shell import ShellIds
from views.cache import digest, shared
from views.links import page_href, unit_href, unit_param
from views.units import unit_rates, unit_scorecard, units_map

clientside_callback(
    ClientsideFunction("citybrain", "renderMap"),
    Output(MapIds.RENDERED, "data"),
    Input(MapIds.SPEC, "data"),
    State(MapIds.CONTAINER, "id"),
    State(MapIds.CLICK, "id"),
)

clientside_callback(
    ClientsideFunction("citybrain", "renderOverlays"),
    Output(MapIds.OVERLAYS_RENDERED, "data"),
    Input(MapIds.OVERLAYS, "data"),
    State(MapIds.CONTAINER, "id"),
)

clientside_callback(
    ClientsideFunction("citybrain", "navigateToUnit"),
    Output(ShellIds.NAV, "href"),
    Input(MapIds.CLICK, "data"),
    State(PageIds.CONTEXT, "data"),
    prevent_initial_call=True,
)


@callback(
    Output(MapIds.SPEC, "data"),
    Output(MapIds.LEGEND, "children"),
    Output(PageIds.RANKING, "children"),
    Output(PageIds.RANKING_TITLE, "children"),
    Input(ShellIds.VERSION, "data"),
    Input(PageIds.CONTEXT, "data"),
    Input(ShellIds.URL, "search"),
)
def render_units(version, context, search):
    rt = runtime()
    lang = lang_from(search, context.get("lang"))
    scope = current_scope()
    level, parent = _children_level(rt.pack, context)
    if level is None:
        return None, [], [html.Li(i18n.t("unit.no_children", lang))], ""
    # the overview colours its districts by the chosen indicator; a unit page's children by open cases
    indicator_id = None if parent else context.get("indicator")
    units = units_map(rt.store, rt.pack, scope, level.id, parent, indicator_id)
    # built once per content (not per version: most versions leave a district's grid unchanged) and
    # shared by every console showing the same (views/cache.py)
    key = (scope, lang, level.id, parent, indicator_id, digest(units))
    return shared("render_units", key, rt.store, lambda: _units_outputs(rt, units, level, parent, indicator_id, version, lang),
                  versioned=False)


def _units_outputs(rt, units, level, parent, indicator_id, version, lang):
    """The map spec, legend and ranking of a level."""
    rows = units["ranking"]
    if units["indicator"] is not None:
        ind = get_indicator(indicator_id)
        spec = build_indicator_spec(rt.pack, level, units["indicator"]["rows"], lang, version or 0, ind)
        title = i18n.t("map.legend.indicator", lang, name=ind.name(lang), window=i18n.t(f"window.{ind.default_window}", lang))
        legend = build_threshold_legend(ind, title, {s: i18n.t(f"legend.status.{s}", lang) for s in ("green", "amber", "red", "none")})
    else:
        spec = build_map_spec(rt.pack, level, rows, lang, version or 0, parent=parent)
        legend = build_legend(spec["breaks"], i18n.t("map.legend.open_cases", lang))
    return spec, legend, build_ranking(rows, level.id, lang), i18n.t("list.ranking", lang, level=level.name_zh if lang == "zh" else level.name_en)


def _children_level(pack, context):
    """The level shown on the map: the first level on the overview, the next finer one on a unit page."""
    unit = context.get("unit")
    if not unit:
        return pack.levels[0], None
    try:
        index = pack.level(unit[0]).index
    except KeyError:
        return None, None
    if index >= len(pack.levels):
        return None, None
    return pack.levels[index], unit[1]


def build_ranking(rows: list[dict], level_id: str, lang: str) -> list:
    name = "name_zh" if lang == "zh" else "name_en"
    return [
        html.Li(
            **{"data-unit": row["unit_id"]},
            children=dcc.Link(
                href=unit_href(level_id, row["unit_id"], lang),
                className="rank-link",
                children=[
                    html.Span(str(i), className="rank"),
                    html.Span(row[name] or row["unit_id"], className="unit-name"),
                    html.Span(i18n.number(row["open_cases"], lang), className="value"),
                    html.Span(
                        f"{i18n.t('metric.overdue_cases', lang)} {i18n.number(row['overdue_cases'], lang)}",
                        className="sub-value",
                    ),
                ],
            )
        )
        for i, row in enumerate(rows, start=1)
    ]


@callback(
    Output(PageIds.BREADCRUMBS, "children"),
    Output(PageIds.UNIT_TITLE, "children"),
    Output(PageIds.SCORECARD, "children"),
    Input(ShellIds.VERSION, "data"),
    Input(PageIds.CONTEXT, "data"),
    Input(ShellIds.URL, "search"),
)
def render_unit_header(_version, context, search):
    rt = runtime()
    lang = lang_from(search, context.get("lang"))
    unit = context.get("unit") or [None, None]
    level_id, unit_id = (unit + [None, None])[:2]
    scope = current_scope()
    info = rt.pack.units_by_id.get((level_id, unit_id))
    card = unit_scorecard(rt.store, rt.pack, scope, level_id, unit_id) if info else None
    if info is None or card is None:
        return [], i18n.t("unit.not_found", lang), []
    start, end = default_window()
    rates = unit_rates(rt.store, rt.pack, scope, level_id, unit_id, start, end)
    key = (scope, lang, level_id, unit_id, start, end, digest((card, rates)))  # built once per content
    return shared("unit_header", key, rt.store, lambda: _unit_header(rt, card, rates, level_id, unit_id, start, end, lang),
                  versioned=False)


def _unit_header(rt, card, rates, level_id, unit_id, start, end, lang):
    """Breadcrumbs, title and scorecard of one unit."""
    name = "name_zh" if lang == "zh" else "name_en"
    brief_this = dcc.Link(i18n.t("nav.brief_this", lang), className="brief-this",
                          href=page_href("/briefings", lang, scope=unit_param(level_id, unit_id)))
    return (build_breadcrumbs(rt.pack, level_id, unit_id, lang) + [brief_this], card[name],
            build_scorecard(card, lang) + build_rate_cards(rates, level_id, unit_id, start, end, lang))


def build_breadcrumbs(pack, level_id: str, unit_id: str, lang: str) -> list:
    name = "name_zh" if lang == "zh" else "name_en"
    level = pack.level(level_id)
    path = level.units.set_index("unit_id").at[unit_id, "path"]
    crumbs = [dcc.Link(f"{pack.name(lang)}", href=page_href("/", lang))]
    for ancestor_level, ancestor in zip(pack.levels, path[:-1]):
        info = pack.units_by_id[(ancestor_level.id, ancestor)]
        crumbs += [html.Span("›", className="sep"), dcc.Link(info[name], href=unit_href(ancestor_level.id, ancestor, lang))]
    crumbs += [html.Span("›", className="sep"), html.Span(pack.units_by_id[(level_id, unit_id)][name], className="current")]
    return crumbs


def build_rate_cards(rates: list[dict], level_id: str, unit_id: str, start, end, lang: str) -> list:
    """The unit's indicators over the last 30 days; a drillable one links to the cases behind it."""
    from callbacks.drill import drill_href

    cards = []
    for row in rates:
        value = row["value"]
        shown = "–" if value is None else (f"{value * 100:.1f}%" if row["is_ratio"] else i18n.number(value, lang, 1 if value % 1 else 0))
        body = [html.Div(f"{row['name_zh'] if lang == 'zh' else row['name_en']} · {i18n.t('unit.window', lang)}",
                         className="kpi-label"),
                html.Div(shown, className="kpi-value")]
        if row["is_ratio"] and row["denominator"] is not None:
            body.append(html.Div(className="kpi-parts", children=[
                dcc.Link(i18n.number(row["numerator"], lang), className="part-link",
                         href=drill_href(level_id, unit_id, row["indicator"], "numerator", start, end, lang)),
                " / ",
                dcc.Link(i18n.number(row["denominator"], lang), className="part-link",
                         href=drill_href(level_id, unit_id, row["indicator"], "denominator", start, end, lang)),
            ]))
        # status colours only where the catalog's thresholds mean something for any unit size: rates
        status = row["status"] if row["is_ratio"] else None
        card = html.Div(className=f"kpi rate status-{status or 'none'}", **{"data-metric": row["indicator"]}, children=body)
        if row["drillable"]:
            card = dcc.Link(card, href=drill_href(level_id, unit_id, row["indicator"], "numerator", start, end, lang),
                            className="kpi-link")
        cards.append(card)
    return cards


def build_scorecard(card: dict, lang: str) -> list:
    return [
        html.Div(className="kpi", **{"data-metric": metric}, children=[
            html.Div(i18n.t(f"metric.{metric}", lang), className="kpi-label"),
            html.Div(i18n.number(card[metric], lang), className="kpi-value"),
        ])
        for metric in ("open_cases", "overdue_cases")
    ]
