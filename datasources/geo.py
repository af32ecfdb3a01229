"""Locate points in the city pack's units, every level, vectorised (shapely STRtree).

Geometry stays in geopandas/shapely (DuckDB's spatial extension cannot be installed offline).
"""
from __future__ import annotations

import numpy as np
import shapely

from datasources.citypack import CityPack, Level


_trees: dict[int, tuple[Level, shapely.STRtree]] = {}


def _tree(level: Level) -> shapely.STRtree:
    cached = _trees.get(id(level))
    if cached is None or cached[0] is not level:
        geometries = level.units.geometry.values
        shapely.prepare(geometries)
        cached = (level, shapely.STRtree(geometries))
        _trees[id(level)] = cached
    return cached[1]


def locate(pack: CityPack, lat, lon) -> tuple[list[list[str | None] | None], np.ndarray]:
    """Unit ids per level (coarse to fine) for each point, and whether it lies outside the city.

    Points without coordinates get None (their units may come from the record itself); points
    outside every unit of the coarsest level are flagged outside, never dropped.
    """
    lat = np.asarray(lat, dtype="float64")
    lon = np.asarray(lon, dtype="float64")
    n = len(lat)
    has_point = ~(np.isnan(lat) | np.isnan(lon))
    points = shapely.points(np.where(has_point, lon, 0.0), np.where(has_point, lat, 0.0))
    per_level = []
    for level in pack.levels:
        ids = np.full(n, None, dtype=object)
        tree = _tree(level)
        # Bounding-box candidates first, then an exact test against the prepared polygons.
        point_idx, unit_idx = tree.query(points[has_point])
        inside = shapely.intersects_xy(tree.geometries[unit_idx], lon[has_point][point_idx], lat[has_point][point_idx])
        point_idx, unit_idx = point_idx[inside], unit_idx[inside]
        located = np.flatnonzero(has_point)[point_idx]
        # A point on a shared border matches two units: keep the first (stable, deterministic).
        first = np.unique(located, return_index=True)[1]
        ids[located[first]] = level.units.unit_id.values[unit_idx[first]]
        per_level.append(ids)
    outside = has_point & np.array([v is None for v in per_level[0]]) if per_level else np.zeros(n, bool)
    unit_ids: list[list[str | None] | None] = [None] * n
    for i in np.flatnonzero(has_point & ~outside):
        unit_ids[i] = [ids[i] for ids in per_level]
    return unit_ids, outside


def unit_paths(pack: CityPack, level_id: str, unit_ids) -> list[list[str | None] | None]:
    """Full unit_ids (coarse to fine) for records that name a unit at `level_id` instead of a point."""
    level = pack.level(level_id)
    paths = dict(zip(level.units.unit_id, level.units.path))
    folded = {str(k).strip().casefold(): v for k, v in paths.items()}  # "05 BROOKLYN" = "05 Brooklyn"
    depth = len(pack.levels)
    out = []
    for unit in unit_ids:
        key = None if unit is None else str(unit)
        path = paths.get(key) if key in paths else folded.get(key.strip().casefold()) if key else None
        out.append(None if path is None else list(path) + [None] * (depth - len(path)))
    return out
