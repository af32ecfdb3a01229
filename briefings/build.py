"""Gather a briefing's frozen snapshot: numbers, tables, narrative sentences and SVG images.

    brief = build_brief(store, pack, "city", "daily", start, end, "zh")   # -> Brief
    brief.snapshot    # JSON-serialisable; briefings.render turns it into HTML and PDF

Everything comes through the indicator layer and the SQL gateway with the brief's Scope (a
district brief reads only its district). Narrative sentences are filled from the numbers by fixed
templates (i18n `brief.n.*`); nothing is said that is not in the numbers. Times are naive UTC.
"""
from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

import shapely

from briefings import content
from briefings.evaluation import SOURCE_INDICATORS
from datasources import gateway
from datasources.store import utcnow
from i18n import local_time, number, t
from indicators.catalog import get
from indicators.compare import change as value_change
from indicators.compare import compare
from indicators.compare import direction as value_direction
from indicators.compute import IndicatorError, compute
from security.scope import Scope
from security.users import scope_for

SNAPSHOT_VERSION = 2  # 2: 同比, hot/blind spots, composite evaluation, joint dispatch
OVERDUE_LIMIT = 20
SILENT_LIMIT = 15
RANK_LIMIT = 15
# figures the narrative quotes whatever the template's KPI table holds
NARRATIVE_INDICATORS = ("cases_reported", "closure_rate", "open_backlog", "overdue_open", "pm25_mean",
                        "pm25_exceed_hours", "device_online_rate", "wait_mean_minutes", "wait_p95_minutes")

TEMPLATES = {
    "daily": {
        "kpis": ["cases_reported", "cases_closed", "closure_rate", "on_time_closure_rate", "open_backlog",
                 "overdue_open", "pm25_mean", "pm25_exceed_hours", "device_online_rate", "wait_mean_minutes"],
        "map": "overdue_open",
        "rank_by": "overdue_open",
        "rank_columns": ["cases_reported", "closure_rate", "overdue_open", "pm25_exceed_hours", "wait_mean_minutes"],
        "sections": ["summary", "kpis", "map", "trend", "ranking", "spots", "evaluation", "dispatch", "overdue", "air",
                     "silent", "waits"],
    },
    "weekly": {
        "kpis": ["cases_reported", "cases_closed", "closure_rate", "on_time_closure_rate", "median_close_hours",
                 "open_backlog", "overdue_open", "pm25_mean", "pm25_exceed_hours", "device_online_rate",
                 "wait_mean_minutes", "wait_p95_minutes"],
        "map": "on_time_closure_rate",
        "rank_by": "on_time_closure_rate",
        "rank_columns": ["cases_reported", "closure_rate", "on_time_closure_rate", "median_close_hours",
                         "overdue_open", "pm25_mean"],
        "sections": ["summary", "kpis", "map", "trend", "ranking", "spots", "evaluation", "dispatch", "overdue", "air",
                     "silent", "waits"],
    },
    "incident": {
        "kpis": ["cases_reported", "open_backlog", "overdue_open", "pm25_mean", "pm25_exceed_hours",
                 "device_online_rate"],
        "map": "pm25_exceed_hours",
        "rank_by": "pm25_exceed_hours",
        "rank_columns": ["pm25_mean", "pm25_exceed_hours", "device_online_rate", "overdue_open"],
        "sections": ["summary", "kpis", "map", "spots", "dispatch", "overdue", "silent", "trend", "ranking"],
    },
}

STATUS_COLOURS = {"green": "#3a8f5c", "amber": "#e0a526", "red": "#c0392b", None: "#d9d9d9"}


class BriefError(ValueError):
    """A brief that cannot be built (unknown template, scope or window)."""


@dataclass(frozen=True)
class Brief:
    template: str
    scope: str  # "city" or "LEVEL:ID"
    start: dt.datetime
    end: dt.datetime
    lang: str
    created_at: dt.datetime
    snapshot: dict


# ---------------------------------------------------------------------------- scope


def parse_scope(pack, text: str) -> tuple[Scope, str, object | None, str]:
    """(Scope, level name for compute, the scope's Level or None for the city, unit id)."""
    text = (text or "city").strip()
    if text == "city":
        return Scope.city(), "city", None, pack.id
    level_id, _, unit_id = text.partition(":")
    try:
        level = pack.level(level_id)
        scope = scope_for(pack, "district_leader", [text])
    except (KeyError, ValueError) as exc:
        raise BriefError(f"bad scope {text!r}: {exc}") from None
    return scope, level.id, level, unit_id


def _unit_name(pack, level, unit_id: str, lang: str) -> str:
    info = pack.units_by_id.get((level.id, unit_id)) if level is not None and unit_id else None
    if not info:
        return unit_id or "–"
    return (info["name_zh"] if lang == "zh" else info["name_en"]) or unit_id


# ---------------------------------------------------------------------------- formatting


def fmt_value(indicator_id: str, value, lang: str) -> str:
    """An indicator value as shown in a brief: ratios in percent, counts whole, others one decimal."""
    if value is None:
        return "–"
    unit = get(indicator_id).unit
    if unit == "ratio":
        return number(value * 100, lang, 1) + "%"
    if unit in ("cases", "device-hours"):
        return number(value, lang)
    return number(value, lang, 1)


def unit_label(indicator_id: str, lang: str) -> str:
    unit = get(indicator_id).unit
    return "" if unit == "ratio" else t(f"brief.unit.{unit}", lang)


def target_label(indicator_id: str, lang: str) -> str:
    ind = get(indicator_id)
    sign = "≥" if ind.better == "up" else "≤"
    return sign + fmt_value(indicator_id, ind.thresholds["green"], lang)


def change(indicator_id: str, value, previous, lang: str, basis: str = "previous") -> dict:
    """环比 (basis "previous") or 同比 (basis "last_year"): difference to the base value, its
    percentage and whether it is good news."""
    key = "brief.change" if basis == "previous" else "brief.change.yoy"
    delta, relative = value_change(value, previous)
    if delta is None:
        return {"text": "–", "direction": None, "good": None, "sentence": t(f"{key}.na", lang)}
    ind = get(indicator_id)
    if abs(delta) < 1e-9:
        return {"text": "0", "direction": "same", "good": None, "sentence": t(f"{key}.same", lang)}
    direction = "up" if delta > 0 else "down"
    if ind.unit == "ratio":
        delta_text = number(abs(delta) * 100, lang, 1) + (" 个百分点" if lang == "zh" else " pts")
        pct = "–"
    else:
        delta_text = fmt_value(indicator_id, abs(delta), lang)
        pct = "–" if relative is None else number(abs(relative) * 100, lang, 1) + "%"
        delta_text += (" " if lang == "en" else " ") + unit_label(indicator_id, lang)
    arrow = "▲" if direction == "up" else "▼"
    good = value_direction(ind.better, delta) == "good"
    text = f"{arrow} " + (delta_text if ind.unit == "ratio" else fmt_value(indicator_id, abs(delta), lang))
    return {"text": text, "direction": direction, "good": good,
            "sentence": t(f"{key}.{direction}", lang, delta=delta_text,
                          pct="" if pct == "–" else (f"（{pct}）" if lang == "zh" else f" ({pct})"))}


# ---------------------------------------------------------------------------- SVG images


def _ring_path(coords, project) -> str:
    points = [project(x, y) for x, y in coords]
    return "M" + "L".join(f"{x:.1f},{y:.1f}" for x, y in points) + "Z"


def _geom_path(geom, project) -> str:
    parts = []
    polygons = geom.geoms if geom.geom_type == "MultiPolygon" else [geom]
    for poly in polygons:
        if poly.is_empty:
            continue
        parts.append(_ring_path(poly.exterior.coords, project))
        parts.extend(_ring_path(ring.coords, project) for ring in poly.interiors)
    return "".join(parts)


def map_svg(units, colours: dict, labels: dict, width: int = 640, height: int = 420) -> str:
    """A choropleth of `units` (GeoDataFrame: unit_id, geometry in EPSG:4326) as inline SVG.

    `colours` maps unit_id -> fill; `labels` unit_id -> text drawn at the unit's inner point.
    Equirectangular projection scaled by cos(latitude): fine at city scale.
    """
    if units is None or len(units) == 0:
        return ""
    x0, y0, x1, y1 = units.total_bounds
    kx = math.cos(math.radians((y0 + y1) / 2))
    span_x, span_y = max((x1 - x0) * kx, 1e-9), max(y1 - y0, 1e-9)
    pad = 8
    scale = min((width - 2 * pad) / span_x, (height - 2 * pad) / span_y)
    draw_w, draw_h = span_x * scale, span_y * scale
    off_x, off_y = (width - draw_w) / 2, (height - draw_h) / 2

    def project(lon, lat):
        return off_x + (lon - x0) * kx * scale, off_y + (y1 - lat) * scale

    tolerance = 0.6 / scale  # about half a pixel
    geoms = shapely.simplify(units.geometry.values, tolerance=tolerance, preserve_topology=True)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
           f'width="{width}" height="{height}" class="map">']
    stroke = 0.4 if len(units) > 60 else 1.0
    for unit_id, geom in zip(units.unit_id, geoms):
        fill = colours.get(unit_id, STATUS_COLOURS[None])
        out.append(f'<path d="{_geom_path(geom, project)}" fill="{fill}" stroke="#ffffff" '
                   f'stroke-width="{stroke}" fill-rule="evenodd"/>')
    for unit_id, geom in zip(units.unit_id, units.geometry.values):
        text = labels.get(unit_id)
        if not text:
            continue
        x, y = project(*shapely.get_coordinates(geom.representative_point())[0])
        # a white halo drawn first, then the label (weasyprint's SVG has no paint-order)
        for extra in ('fill="#ffffff" stroke="#ffffff" stroke-width="2.2"', 'fill="#1a1a1a"'):
            out.append(f'<text x="{x:.1f}" y="{y:.1f}" font-size="9" text-anchor="middle" {extra} '
                       f'font-family="Noto Sans CJK SC">{_escape(text)}</text>')
    out.append("</svg>")
    return "".join(out)


def trend_svg(buckets: list[dict], labels: list[str], width: int = 640, height: int = 170) -> str:
    """Paired bars per bucket: reported (dark blue) and closed (light blue), with a value axis."""
    if not buckets:
        return ""
    left, right, top, bottom = 34, 6, 10, 22
    raw = (max(max(b["reported"], b["closed"]) for b in buckets) or 1) / 4
    magnitude = 10 ** math.floor(math.log10(raw)) if raw >= 1 else 1
    tick = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    tick = max(1, math.ceil(tick))
    top_value = 4 * tick
    plot_w, plot_h = width - left - right, height - top - bottom
    slot = plot_w / len(buckets)
    bar = max(1.0, slot * 0.36)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}" '
           f'height="{height}" class="chart" font-family="Noto Sans CJK SC">']
    for k in range(5):
        value = top_value * k / 4
        y = top + plot_h - plot_h * k / 4
        out.append(f'<line x1="{left}" y1="{y:.1f}" x2="{width - right}" y2="{y:.1f}" stroke="#dddddd" stroke-width="0.6"/>')
        out.append(f'<text x="{left - 4}" y="{y + 3:.1f}" font-size="8" text-anchor="end" fill="#555555">{int(value)}</text>')
    every = max(1, math.ceil(len(buckets) / 12))
    for i, b in enumerate(buckets):
        x = left + i * slot + slot / 2
        for value, dx, colour in ((b["reported"], -bar, "#1f3f77"), (b["closed"], 0, "#8fb3de")):
            h = plot_h * value / top_value
            out.append(f'<rect x="{x + dx:.1f}" y="{top + plot_h - h:.1f}" width="{bar:.1f}" height="{h:.1f}" fill="{colour}"/>')
        if i % every == 0:
            out.append(f'<text x="{x:.1f}" y="{height - 8}" font-size="8" text-anchor="middle" fill="#555555">'
                       f'{_escape(labels[i])}</text>')
    out.append(f'<line x1="{left}" y1="{top + plot_h}" x2="{width - right}" y2="{top + plot_h}" stroke="#888888" stroke-width="0.8"/>')
    out.append("</svg>")
    return "".join(out)


def _escape(text: str) -> str:
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


# ---------------------------------------------------------------------------- the snapshot


def build_brief(store, pack, scope: str, template: str, start: dt.datetime, end: dt.datetime, lang: str,
                now: dt.datetime | None = None) -> Brief:
    """The frozen snapshot of a brief for window [start, end) (naive UTC), as of `end`."""
    if template not in TEMPLATES:
        raise BriefError(f"unknown template {template!r}; templates are {', '.join(TEMPLATES)}")
    if lang not in ("zh", "en"):
        raise BriefError("lang must be zh or en")
    if start is None or end is None or start >= end:
        raise BriefError("the window needs start < end")
    spec = TEMPLATES[template]
    created_at = (now or utcnow()).replace(microsecond=0)
    sc, level_name, level, unit_id = parse_scope(pack, scope)
    tz = pack.timezone
    span = end - start

    # headline KPIs: this window, the previous one of equal length (环比), the same one last year (同比)
    needed = list(dict.fromkeys([*spec["kpis"], *NARRATIVE_INDICATORS]))
    try:
        compared = {row["indicator"]: row for row in compare(store, pack, sc, level_name, start, end, needed)
                    if row["unit_id"] == unit_id}
    except IndicatorError as exc:
        raise BriefError(str(exc)) from None
    kpis, figures = [], {}
    for ident in needed:
        ind = get(ident)
        row = compared.get(ident, {})
        value, prev, last_year = row.get("value"), row.get("prev_value"), row.get("yoy_value")
        status = ind.status(value)
        kpis.append({
            "id": ident, "name": ind.name(lang), "unit": unit_label(ident, lang), "value": value,
            "value_text": fmt_value(ident, value, lang), "previous": prev,
            "previous_text": fmt_value(ident, prev, lang), "change": change(ident, value, prev, lang),
            "last_year": last_year, "last_year_text": fmt_value(ident, last_year, lang),
            "yoy_change": change(ident, value, last_year, lang, "last_year"),
            "status": status, "status_text": t(f"brief.status.{status or 'none'}", lang),
            "target": target_label(ident, lang),
        })
    figures = {k["id"]: k for k in kpis}
    kpis = [figures[ident] for ident in spec["kpis"]]

    # children of the scope: ranking and map
    child_level = pack.levels[0] if level is None else (pack.levels[level.index] if level.index < len(pack.levels) else None)
    place_level = child_level or level
    ranking, map_image, top_overdue = None, "", None
    map_legend = []
    by_unit: dict[str, dict] = {}
    if child_level is not None:
        wanted = list(dict.fromkeys([spec["map"], spec["rank_by"], *spec["rank_columns"], "overdue_open",
                                     *SOURCE_INDICATORS]))
        rows = compute(store, pack, sc, child_level.id, start, end, wanted)
        for row in rows:
            by_unit.setdefault(row["unit_id"], {})[row["indicator"]] = row["value"]
        units = child_level.units
        if level is not None:
            units = units[units.parent_id == unit_id]
        units = units[units.unit_id.isin(by_unit.keys())].sort_values("unit_id")
        rank_ind = get(spec["rank_by"])
        # worst first: highest where lower is better, lowest where higher is better; empty last
        ordered = sorted(
            by_unit.items(),
            key=lambda item: (item[1].get(rank_ind.id) is None,
                              -(item[1].get(rank_ind.id) or 0) if rank_ind.better == "down" else (item[1].get(rank_ind.id) or 0),
                              item[0]))
        columns = spec["rank_columns"]
        limit = len(ordered) if len(ordered) <= 20 else RANK_LIMIT  # every district; the worst grid cells
        ranking = {
            "level": child_level.name_zh if lang == "zh" else child_level.name_en,
            "by": rank_ind.name(lang),
            "columns": [{"id": c, "name": get(c).name(lang), "unit": unit_label(c, lang)} for c in columns],
            "rows": [
                {"rank": n + 1, "unit_id": uid, "name": _unit_name(pack, child_level, uid, lang),
                 "cells": [{"text": fmt_value(c, values.get(c), lang), "status": get(c).status(values.get(c))}
                           for c in columns]}
                for n, (uid, values) in enumerate(ordered[:limit])
            ],
            "more": max(0, len(ordered) - limit),
        }
        map_ind = get(spec["map"])
        colours = {uid: STATUS_COLOURS[map_ind.status(values.get(map_ind.id))] for uid, values in by_unit.items()}
        labels = ({uid: _unit_name(pack, child_level, uid, lang) for uid in units.unit_id}
                  if len(units) <= 30 else {})
        map_image = map_svg(units, colours, labels)
        map_legend = [{"colour": STATUS_COLOURS[s], "text": t(f"brief.status.{s or 'none'}", lang)}
                      for s in ("green", "amber", "red", None)]
        counts = [(values.get("overdue_open") or 0, uid) for uid, values in by_unit.items()]
        if counts:
            n, uid = max(counts, key=lambda c: (c[0], [-ord(ch) for ch in c[1]]))
            if n > 0:
                top_overdue = {"unit": _unit_name(pack, child_level, uid, lang), "n": int(n),
                               "level": ranking["level"] if lang == "zh" else ranking["level"].lower()}

    # hot and blind spots, composite evaluation of units and departments, joint dispatch
    def name_at(lv, uid):
        return _unit_name(pack, lv, uid, lang)

    sections = spec["sections"]
    spot = (content.spots_section(store, pack, sc, place_level, start, end, lang, name_at)
            if "spots" in sections and place_level is not None else None)
    evaluation = None
    if "evaluation" in sections:
        departments: dict[str, dict] = {}
        for row in compute(store, pack, sc, "department", start, end, list(SOURCE_INDICATORS)):
            departments.setdefault(row["unit_id"], {})[row["indicator"]] = row["value"]
        evaluation = content.evaluation_section(pack, child_level, by_unit, departments, lang, name_at)
    dispatch = content.dispatch_section(store, pack, sc, start, end, lang) if "dispatch" in sections else None

    # overdue open cases and silent devices, located at the children's level
    place_index = place_level.index if place_level is not None else 0
    overdue_rows = gateway.query_rows(store, "brief_overdue_cases", sc, as_of=end, limit=OVERDUE_LIMIT,
                                      level_index=place_index)
    overdue = [{
        "case_id": r["case_id"],
        "category": (r["category_zh"] if lang == "zh" else r["category_en"]) or r["category"] or "–",
        "unit": _unit_name(pack, place_level, r["unit_id"], lang) if r["unit_id"] else "–",
        "reported": local_time(r["reported_at"], tz, lang, "yyyy-MM-dd HH:mm"),
        "due": local_time(r["due_at"], tz, lang, "yyyy-MM-dd HH:mm"),
        "hours_overdue": number(r["hours_overdue"], lang, 1),
    } for r in overdue_rows]
    # the same silent-device rule as the wall and the alerts (no reading in the 15 minutes before as-of)
    silent_rows = gateway.query_rows(store, "silent_devices", sc, as_of=end, silent_minutes=15)[:500]

    def place_of(unit_ids):
        units = list(unit_ids or [])
        return units[place_index - 1] if 0 < place_index <= len(units) else None

    silent = [{
        "device_id": r["device_id"], "kind": r["kind"] or "–",
        "unit": _unit_name(pack, place_level, place_of(r["unit_ids"]), lang) if place_of(r["unit_ids"]) else "–",
        "last_seen": (local_time(r["last_reading_at"], tz, lang, "yyyy-MM-dd HH:mm") if r["last_reading_at"]
                      else t("brief.never", lang)),
    } for r in silent_rows]

    # trend: hourly up to two days, daily beyond
    bucket_s = 3600 if span <= dt.timedelta(days=2) else 86400
    trend_rows = gateway.query_rows(store, "brief_case_trend", sc, start=start, end=end, bucket_s=bucket_s)
    fmt = "HH:mm" if bucket_s == 3600 else "MM-dd"
    trend_labels = [local_time(start + dt.timedelta(seconds=bucket_s * r["bucket"]), tz, lang, fmt) for r in trend_rows]
    trend = {"svg": trend_svg(trend_rows, trend_labels),
             "reported": sum(r["reported"] for r in trend_rows), "closed": sum(r["closed"] for r in trend_rows)}

    # narrative: fixed sentences filled from the numbers above
    as_of_text = local_time(end, tz, lang, "yyyy-MM-dd HH:mm")
    def text(ident):
        return figures[ident]["value_text"]

    narrative = [t("brief.n.cases", lang, n=text("cases_reported"),
                   change=figures["cases_reported"]["change"]["sentence"], rate=text("closure_rate"),
                   status=figures["closure_rate"]["status_text"]),
                 t("brief.n.backlog", lang, as_of=as_of_text, backlog=text("open_backlog"), overdue=text("overdue_open"))]
    yoy = figures["cases_reported"]["yoy_change"]
    narrative.append(t("brief.n.yoy", lang, change=yoy["sentence"]) if yoy["direction"] else t("brief.n.yoy_na", lang))
    if top_overdue:
        narrative.append(t("brief.n.top_overdue", lang, **top_overdue))
    narrative.extend(content.narrative(spot, evaluation, dispatch, lang))
    narrative.append(t("brief.n.air", lang, pm25=text("pm25_mean"), hours=text("pm25_exceed_hours"),
                       online=text("device_online_rate"), silent=number(len(silent_rows), lang)))
    if figures["wait_mean_minutes"]["value"] is None:
        narrative.append(t("brief.n.no_waits", lang))
    else:
        narrative.append(t("brief.n.waits", lang, mean=text("wait_mean_minutes"), p95=text("wait_p95_minutes")))

    place = pack.name(lang) if level is None else _unit_name(pack, level, unit_id, lang)
    scope_text = pack.name(lang) if level is None else f"{pack.name(lang)} · {place}"
    period = (f"{local_time(start, tz, lang, 'yyyy-MM-dd HH:mm')} – {local_time(end, tz, lang, 'yyyy-MM-dd HH:mm')}"
              f" ({tz})")
    snapshot = {
        "version": SNAPSHOT_VERSION,
        "template": template, "scope": scope if scope else "city", "lang": lang,
        "start": start.isoformat(), "end": end.isoformat(), "created_at": created_at.isoformat(),
        "data_version": store.data_version,
        "city": pack.name(lang), "place": place, "scope_text": scope_text, "timezone": tz,
        "title": t(f"brief.title.{template}", lang, place=place),
        "issuer": t("brief.issuer", lang, city=pack.name(lang)),
        "period_text": period,
        "created_text": local_time(created_at, tz, lang, "yyyy-MM-dd HH:mm"),
        "as_of_text": as_of_text,
        "sections": spec["sections"],
        "narrative": narrative,
        "kpis": kpis,
        "map": {"svg": map_image, "indicator": get(spec["map"]).name(lang), "legend": map_legend,
                "level": ranking["level"] if ranking else ""},
        "trend": trend,
        "ranking": ranking,
        "overdue": overdue,
        "overdue_limit": OVERDUE_LIMIT,
        "silent": silent[:SILENT_LIMIT],
        "silent_more": max(0, len(silent) - SILENT_LIMIT),
        "spots": spot,
        "evaluation": evaluation,
        "dispatch": dispatch,
        "waits": {"mean": figures["wait_mean_minutes"]["value_text"], "p95": figures["wait_p95_minutes"]["value_text"]},
    }
    return Brief(template, snapshot["scope"], start, end, lang, created_at, snapshot)

