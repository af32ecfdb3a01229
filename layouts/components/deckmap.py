"""The deck.gl map component and the pure builder of its spec (values only; geometry is a URL)."""
from __future__ import annotations

import json
import math
from enum import StrEnum

import numpy as np
import pydeck as pdk
from dash import dcc, html

from datasources.citypack import CityPack, Level
from views.links import page_href, segment

# Sequential ramp (light -> dark red) readable on a dark background; RGBA.
RAMP = [[255, 237, 160, 200], [254, 178, 76, 210], [253, 141, 60, 220], [240, 59, 32, 230], [189, 0, 38, 240]]
NO_DATA = [90, 96, 110, 140]


class MapIds(StrEnum):
    CONTAINER = "map-container"
    SPEC = "map-spec"
    CLICK = "map-click"
    RENDERED = "map-rendered"
    LEGEND = "map-legend"
    OVERLAYS = "map-overlays"   # point layers over the units ({"version", "layers", "ids"}); overview page only
    OVERLAYS_RENDERED = "map-overlays-rendered"


def deck_map() -> html.Div:
    return html.Div(
        className="map-wrap",
        children=[
            html.Div(id=MapIds.CONTAINER, className="deck-map"),
            dcc.Store(id=MapIds.SPEC),
            dcc.Store(id=MapIds.CLICK),
            dcc.Store(id=MapIds.RENDERED),
            html.Div(id=MapIds.LEGEND, className="map-legend"),
        ],
    )


def class_breaks(values: list[float], classes: int = 5) -> list[float]:
    """Upper bounds of `classes` bins (quantiles, made strictly increasing)."""
    finite = np.array([v for v in values if v is not None], dtype=float)
    if finite.size == 0:
        return []
    quantiles = np.quantile(finite, np.linspace(0, 1, classes + 1)[1:])
    breaks: list[float] = []
    for q in quantiles:
        q = math.ceil(q)
        if not breaks or q > breaks[-1]:
            breaks.append(q)
    return breaks


def _ramp_index(i: int, classes: int) -> int:
    """Spread `classes` bins over the ramp, the lowest bin always the lightest colour."""
    return 0 if classes <= 1 else round(i * (len(RAMP) - 1) / (classes - 1))


def colour_for(value: float | None, breaks: list[float]) -> list[int]:
    if value is None or not breaks:
        return NO_DATA
    for i, upper in enumerate(breaks):
        if value <= upper:
            return RAMP[_ramp_index(i, len(breaks))]
    return RAMP[-1]


def view_for(bounds: tuple[float, float, float, float], width: int = 1000, height: int = 700) -> dict:
    minx, miny, maxx, maxy = bounds
    lat = (miny + maxy) / 2
    dx = max(maxx - minx, 1e-4)
    dy = max((maxy - miny) / math.cos(math.radians(lat)), 1e-4)
    # deck.gl's web-mercator world is 512 px wide at zoom 0.
    zoom = min(math.log2(width * 360 / (512 * dx)), math.log2(height * 360 / (512 * dy))) - 0.1
    return {"longitude": (minx + maxx) / 2, "latitude": lat, "zoom": round(zoom, 2)}


def _deck(level: Level, view: dict, with_labels: bool) -> dict:
    layers = [
        pdk.Layer(
            "GeoJsonLayer", data=[], id="units", pickable=True, stroked=True, filled=True,
            get_fill_color="properties._fill", get_line_color=[20, 24, 32, 255], line_width_min_pixels=1,
            auto_highlight=True, highlight_color=[120, 200, 255, 160],
        )
    ]
    if with_labels:
        layers.append(
            pdk.Layer(
                "TextLayer", data=[], id="labels", get_position="position", get_text="text", get_size=15,
                get_color=[235, 240, 250, 255], outline_width=3, outline_color=[10, 14, 22, 255],
                font_settings={"sdf": True}, character_set=pdk.types.String("auto"),
                font_family=pdk.types.String('"Noto Sans CJK SC", "Noto Sans SC", "Microsoft YaHei", sans-serif'),
            )
        )
    deck = pdk.Deck(layers=layers, initial_view_state=pdk.ViewState(**view), map_provider=None, map_style=None)
    return json.loads(deck.to_json())


def build_map_spec(pack: CityPack, level: Level, rows: list[dict], lang: str, version: int,
                   parent: str | None = None, metric: str = "open_cases") -> dict:
    """Map spec for the browser: geometry URL, per-unit fill and label, view, legend breaks."""
    units = level.units if not parent else level.units[level.units.parent_id == parent]
    values = {row["unit_id"]: row.get(metric) for row in rows}
    breaks = class_breaks(list(values.values()))
    name_column = "name_zh" if lang == "zh" else "name_en"
    by_id = units.set_index("unit_id")
    labels = []
    if len(units) <= 40:
        for unit_id, point in zip(units.unit_id, units.geometry.representative_point()):
            labels.append({"position": [round(point.x, 5), round(point.y, 5)], "text": str(by_id.at[unit_id, name_column])})
    geometry_url = page_href(f"/geo/{segment(level.id)}.geojson", parent=parent or None)  # ids are data
    return {
        "geometry_url": geometry_url,
        "level": level.id,
        "version": version,
        "values": {u: {"fill": colour_for(v, breaks), "value": v} for u, v in values.items()},
        "labels": labels,
        "breaks": breaks,
        "fallback_fill": NO_DATA,
        "deck": _deck(level, view_for(tuple(units.total_bounds)), with_labels=bool(labels)),
    }


def build_legend(breaks: list[float], title: str) -> list:
    items = []
    lower = 0
    for i, upper in enumerate(breaks):
        colour = RAMP[_ramp_index(i, len(breaks))]
        label = f"{lower}–{int(upper)}" if upper > lower else f"{int(upper)}"
        items.append(
            html.Div(className="legend-item", children=[
                html.Span(className="swatch", style={"background": f"rgba({colour[0]},{colour[1]},{colour[2]},1)"}),
                html.Span(label),
            ])
        )
        lower = int(upper) + 1
    return [html.Div(title, className="legend-title"), *items]


# ---------------------------------------------------------------- threshold colouring (overview)

STATUS_FILL = {"green": [38, 166, 91, 215], "amber": [242, 169, 34, 225], "red": [214, 48, 49, 235]}


def build_indicator_spec(pack: CityPack, level: Level, rows: list[dict], lang: str, version: int, indicator) -> dict:
    """Map spec colouring each unit by the catalog's thresholds for `indicator` (green/amber/red)."""
    spec = build_map_spec(pack, level, [], lang, version)
    spec["values"] = {r["unit_id"]: {"fill": STATUS_FILL.get(r["status"], NO_DATA), "value": r["value"]} for r in rows}
    spec["breaks"] = []
    spec["indicator"] = indicator.id
    return spec


def format_threshold(value: float, unit: str) -> str:
    if unit == "ratio":
        return f"{value * 100:g}%"
    return f"{value:g}"


def build_threshold_legend(indicator, title: str, labels: dict) -> list:
    """Legend of the catalog's bands: green / amber / red with their bounds, and 'no data'."""
    green, red = indicator.thresholds["green"], indicator.thresholds["red"]
    g, r = format_threshold(green, indicator.unit), format_threshold(red, indicator.unit)
    if indicator.better == "up":
        bands = {"green": f"≥ {g}", "amber": f"{r} – {g}", "red": f"< {r}"}
    else:
        bands = {"green": f"≤ {g}", "amber": f"{g} – {r}", "red": f"> {r}"}
    items = []
    for status in ("green", "amber", "red"):
        c = STATUS_FILL[status]
        items.append(html.Div(className="legend-item", **{"data-status": status}, children=[
            html.Span(className="swatch", style={"background": f"rgb({c[0]},{c[1]},{c[2]})"}),
            html.Span(f"{labels[status]} {bands[status]}"),
        ]))
    items.append(html.Div(className="legend-item", **{"data-status": "none"}, children=[
        html.Span(className="swatch", style={"background": f"rgb({NO_DATA[0]},{NO_DATA[1]},{NO_DATA[2]})"}),
        html.Span(labels["none"]),
    ]))
    return [html.Div(title, className="legend-title"), *items]


# ---------------------------------------------------------------- point overlays (overview)

SENSOR_FILL = {"online": [56, 200, 120, 230], "silent": [235, 64, 52, 255]}
DISPATCH_FILL = {"issued": [90, 160, 255, 240], "acknowledged": [92, 200, 255, 240],
                 "in_progress": [242, 169, 34, 240], "resolved": [38, 166, 91, 240]}
LATE_LINE = [255, 40, 40, 255]
HEX_RANGE = [[255, 255, 178], [254, 204, 92], [253, 141, 60], [240, 59, 32], [189, 0, 38]]


def _layer_json(layer: pdk.Layer) -> dict:
    return json.loads(pdk.Deck(layers=[layer], map_provider=None, map_style=None).to_json())["layers"][0]


def _class_of(value: float, breaks: list[float]) -> int:
    for i, upper in enumerate(breaks):
        if value <= upper:
            return i
    return max(len(breaks) - 1, 0)


def build_overlays(data: dict, version: int) -> dict:
    """deck.gl layer JSON for each enabled point layer in `data` (see indicators.layers.map_layers)."""
    layers = []
    if "hexbins" in data:
        breaks = class_breaks([c["count"] for c in data["hexbins"]])
        rows = [{"hex": c["hex"], "count": c["count"], "fill": HEX_RANGE[_ramp_index(_class_of(c["count"], breaks), len(breaks))] + [200]}
                for c in data["hexbins"]]
        layers.append(_layer_json(pdk.Layer(
            "H3HexagonLayer", id="case-hexbins", data=rows, get_hexagon="hex", extruded=False,
            filled=True, stroked=True, get_line_color=[20, 24, 32, 160], line_width_min_pixels=1, pickable=False,
            get_fill_color="fill",
        )))
    if "heat" in data:
        layers.append(_layer_json(pdk.Layer(
            "HeatmapLayer", id="case-heat", data=[{"position": c["position"], "count": c["count"]} for c in data["heat"]], get_position="position", get_weight="count",
            radius_pixels=40, intensity=1.2, threshold=0.05, color_range=HEX_RANGE, pickable=False,
        )))
    if "halls" in data:
        rows = [{**h, "radius": 6 + min(h["wait"] or 0, 60) * 0.6} for h in data["halls"]]
        layers.append(_layer_json(pdk.Layer(
            "ScatterplotLayer", id="halls", data=rows, get_position="position", get_radius="radius",
            radius_units=pdk.types.String("pixels"), get_fill_color=[170, 120, 255, 170], get_line_color=[240, 230, 255, 255],
            stroked=True, line_width_min_pixels=2, pickable=False,
        )))
    if "sensors" in data:
        rows = [{**d, "fill": SENSOR_FILL[d["status"]], "radius": 7 if d["status"] == "silent" else 4} for d in data["sensors"]]
        # silent devices last, so they are drawn on top of online neighbours
        rows.sort(key=lambda d: d["status"] == "silent")
        layers.append(_layer_json(pdk.Layer(
            "ScatterplotLayer", id="sensors", data=rows, get_position="position", get_radius="radius",
            radius_units=pdk.types.String("pixels"), get_fill_color="fill", get_line_color=[10, 14, 22, 255], stroked=True,
            line_width_min_pixels=1, pickable=False,
        )))
    if "dispatch" in data:
        rows = [{"id": o["order_id"], "position": o["position"], "state": o["state"], "late": o["late"],
                 "fill": DISPATCH_FILL.get(o["state"], [200, 200, 200, 240]),
                 "line": LATE_LINE if o["late"] else [255, 255, 255, 255]}
                for o in data["dispatch"] if o["position"]]
        layers.append(_layer_json(pdk.Layer(
            "ScatterplotLayer", id="dispatch", data=rows, get_position="position", get_radius=9,
            radius_units=pdk.types.String("pixels"), get_fill_color="fill", get_line_color="line", stroked=True,
            line_width_min_pixels=3, pickable=False,
        )))
    return {"version": version, "layers": layers, "ids": [layer["id"] for layer in layers]}
