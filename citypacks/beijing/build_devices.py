"""Generate illustrative device and service-hall positions for the Beijing demo pack.

Deterministic (seeded); output committed as devices.csv and halls.csv. Devices are denser in the
central districts, as real monitoring networks are.
"""
from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

HERE = Path(__file__).parent
# devices per district: air quality, water level, noise
CENTRAL = {"110101", "110102", "110105", "110106", "110107", "110108"}
KINDS = {"air_quality": ("pm25;pm10", 3, 2), "water_level": ("water_level", 2, 1), "noise": ("noise", 2, 1)}


def random_points(geometry, n: int, rng: np.random.Generator) -> list[tuple[float, float]]:
    minx, miny, maxx, maxy = geometry.bounds
    points = []
    while len(points) < n:
        x, y = rng.uniform(minx, maxx), rng.uniform(miny, maxy)
        if geometry.contains(shapely.Point(x, y)):
            points.append((round(y, 5), round(x, 5)))
    return points


def main() -> None:
    rng = np.random.default_rng(20261122)
    districts = gpd.read_file(HERE / "districts.geojson")
    devices, halls = [], []
    for row in districts.itertuples():
        for kind, (metrics, n_central, n_outer) in KINDS.items():
            n = n_central if row.adcode in CENTRAL else n_outer
            for i, (lat, lon) in enumerate(random_points(row.geometry, n, rng), start=1):
                devices.append(
                    {"device_id": f"{kind[:2].upper()}-{row.adcode}-{i:02d}", "kind": kind, "lat": lat, "lon": lon, "metrics": metrics}
                )
        point = row.geometry.representative_point()
        halls.append(
            {
                "hall_id": f"H{row.adcode}",
                "name_zh": f"{row.name}政务服务中心",
                "name_en": f"{row.name_en} Government Service Center",
                "lat": round(point.y, 5),
                "lon": round(point.x, 5),
            }
        )
    pd.DataFrame(devices).to_csv(HERE / "devices.csv", index=False)
    pd.DataFrame(halls).to_csv(HERE / "halls.csv", index=False)
    print(f"{len(devices)} devices, {len(halls)} halls")


if __name__ == "__main__":
    main()
