"""console.map_update_gz_bytes@300 and console.map_update_server_ms@300: one live map update of a
300-polygon level (the NYC pack's 262 NTAs padded with 38 shifted copies).

Ours: the server builds the values-only spec (build_map_spec; geometry stays a cached URL) and
sends it as a Dash callback response. Baseline in the same run: re-sending a plotly choropleth
figure with its geometry on every update (plotly.express.choropleth_map with geojson, to_json).
Bytes are the gzipped response body (gzip level 6, as the app serves its own static resources).
"""
from __future__ import annotations

import gzip
import json
import statistics
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
UNITS = 300


def _level_300():
    import geopandas as gpd
    from shapely import affinity

    from datasources.citypack import Level, load_pack

    pack = load_pack(ROOT / "citypacks" / "nyc")
    nta = pack.level("nta")
    units = nta.units
    extra = units.head(UNITS - len(units)).copy()
    extra["unit_id"] = [f"{u}-pad" for u in extra.unit_id]
    extra["geometry"] = [affinity.translate(g, xoff=0.6) for g in extra.geometry]
    padded = gpd.GeoDataFrame(pd.concat([units, extra], ignore_index=True), crs=units.crs)
    return pack, Level(id="nta", index=nta.index, name_zh=nta.name_zh, name_en=nta.name_en, units=padded)


def _rows(level, seed: int) -> list[dict]:
    rng = np.random.default_rng(seed)
    return [{"unit_id": u, "open_cases": int(v), "overdue_cases": int(v // 5)}
            for u, v in zip(level.units.unit_id, rng.poisson(40, len(level.units)))]


def _dash_response(output_id: str, data) -> bytes:
    """The body Dash sends for one callback output (its JSON encoder is plotly's)."""
    from plotly.io.json import to_json_plotly

    return to_json_plotly({"multi": True, "response": {output_id: {"data": data}}}).encode()


def _median_ms(fn, repeat: int) -> float:
    fn()  # warm
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def run():
    import plotly.express as px

    from bench.run import Result
    from layouts.components.deckmap import build_map_spec

    pack, level = _level_300()
    assert len(level.units) == UNITS
    rows = _rows(level, 1)

    def ours() -> bytes:
        spec = build_map_spec(pack, level, rows, "en", 2)
        return _dash_response("map-spec", spec)

    body = ours()
    ours_gz = len(gzip.compress(body, 6))
    ours_ms = _median_ms(ours, 30)

    geojson = json.loads(level.units[["unit_id", "geometry"]].to_json())
    frame = pd.DataFrame(rows)

    def plotly_figure() -> bytes:
        fig = px.choropleth_map(frame, geojson=geojson, locations="unit_id", featureidkey="properties.unit_id",
                                color="open_cases", map_style="white-bg", zoom=9,
                                center={"lat": 40.7, "lon": -73.9})
        return _dash_response("map-figure", json.loads(fig.to_json()))

    base_body = plotly_figure()
    base_gz = len(gzip.compress(base_body, 6))
    base_ms = _median_ms(plotly_figure, 5)
    print(f"map update @{UNITS}: ours {len(body):,} B raw / {ours_gz:,} B gz, {ours_ms:.1f} ms; "
          f"plotly figure with geometry {len(base_body):,} B raw / {base_gz:,} B gz, {base_ms:.1f} ms "
          f"(goals: <= 10 KB, <= 15 ms)")
    return [
        Result("console.map_update_gz_bytes@300", ours_gz, "bytes",
               {"name": "plotly_choropleth_with_geometry_gz_bytes", "value": base_gz}),
        Result("console.map_update_server_ms@300", round(ours_ms, 2), "ms",
               {"name": "plotly_choropleth_with_geometry_ms", "value": round(base_ms, 2)}),
    ]


if __name__ == "__main__":
    import sys

    sys.path.insert(0, str(ROOT))
    for result in run():
        print(result.as_dict())
