"""The deck.gl map component and the pure builder of its spec (values only; geometry is a URL)."""
from __future__ import annotations

import json
import math
from enum import StrEnum

import numpy as np
import pydeck as pdk
from dash import dcc, html

from datasources.citypack import CityPack, Level

# Sequential ramp (light -> dark red) readable on a dark background; RGBA.
RAMP = [[255, 237, 160, 200], [254, 178, 76, 210], [253, 141, 60, 220], [240, 59, 32, 230], [189, 0, 38, 240]]
NO_DATA = [90, 96, 110, 140]


class MapIds(StrEnum):
    CONTAINER = "map-container"
    SPEC = "map-spec"
    CLICK = "map-click"
    RENDERED = "map-rendered"
    LEGEND = "map-legend"


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
    geometry_url = f"/geo/{level.id}.geojson" + (f"?parent={parent}" if parent else "")
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
