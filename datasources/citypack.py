"""City packs: one folder describes one city (CONTRACT §3). Levels are data, any depth.

    pack = load_pack(Path("citypacks/beijing"))      # raises PackError listing every problem
    problems = check_pack(Path("some/pack"))           # [] when valid

Each finer unit is assigned to its parent by largest overlap; a level may be generated as H3
cells clipped to the parent level (`generate = "h3"`, `resolution = N`). A boundary file's CRS is
its own or `crs = "EPSG:N"` on its level; every layer is held in EPSG:4326 (see _to_lonlat).
"""
from __future__ import annotations

import datetime as dt
import functools
import json
import logging
import tomllib
import zoneinfo
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely

log = logging.getLogger(__name__)

MAX_LEVELS = 6
WGS84 = pyproj.CRS.from_epsg(4326)  # what every layer is reprojected to on load
CATEGORY_KINDS = {"component", "event"}
CALENDARS = {"natural", "working"}


class PackError(Exception):
    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass
class Level:
    id: str
    index: int  # 1 = coarsest
    name_zh: str
    name_en: str
    units: gpd.GeoDataFrame  # unit_id, name_zh, name_en, parent_id, path, geometry (EPSG:4326)

    @functools.cached_property
    def display(self) -> dict:
        """Simplified GeoJSON for the map: geometry only, sent once and cached by the browser."""
        simplified = self.units.copy()
        span = max(self.units.total_bounds[2] - self.units.total_bounds[0], 1e-6)
        simplified["geometry"] = shapely.simplify(
            simplified.geometry.values, tolerance=span / 4000, preserve_topology=True
        )
        simplified = simplified[["unit_id", "name_zh", "name_en", "parent_id", "geometry"]]
        data = json.loads(simplified.to_json(drop_id=True, to_wgs84=False))
        for feature in data["features"]:
            feature["geometry"] = _round_coords(feature["geometry"])
        return data


def _round_coords(geometry: dict) -> dict:
    def walk(value):
        if isinstance(value, float):
            return round(value, 5)
        return [walk(v) for v in value]

    return {"type": geometry["type"], "coordinates": walk(geometry["coordinates"])}


@dataclass
class WorkCalendar:
    """Working calendar for time limits: ISO workdays minus holidays, in the city's time zone.

    A time limit in working hours counts only the hours that fall on working days; hours on
    weekends and holidays are skipped.
    """

    timezone: str
    workdays: frozenset[int] = frozenset({1, 2, 3, 4, 5})
    holidays: frozenset[dt.date] = frozenset()

    def is_working_day(self, day: dt.date) -> bool:
        return day.isoweekday() in self.workdays and day not in self.holidays

    def add_hours(self, start_utc: dt.datetime, hours: float, calendar: str = "working") -> dt.datetime:
        """`start_utc` (naive UTC) plus `hours`, natural or counted in working time."""
        if calendar != "working":
            return start_utc + dt.timedelta(hours=hours)
        zone = zoneinfo.ZoneInfo(self.timezone)
        local = start_utc.replace(tzinfo=dt.UTC).astimezone(zone).replace(tzinfo=None)
        remaining = dt.timedelta(hours=hours)
        for _ in range(3660):  # at most ten years of days
            day_end = dt.datetime.combine(local.date() + dt.timedelta(days=1), dt.time())
            if self.is_working_day(local.date()):
                available = day_end - local
                if remaining <= available:
                    local += remaining
                    break
                remaining -= available
            local = day_end
        else:
            raise ValueError("no working days in the calendar")
        return local.replace(tzinfo=zone).astimezone(dt.UTC).replace(tzinfo=None)


# services.csv (optional): the service-hall services and their standard processing time.
SERVICE_COLUMNS = ["service_code", "name_zh", "name_en", "time_limit_minutes"]


@dataclass
class CityPack:
    root: Path
    id: str
    name_zh: str
    name_en: str
    timezone: str
    default_lang: str
    center: tuple[float, float]  # lon, lat
    levels: list[Level]
    departments: pd.DataFrame
    categories: pd.DataFrame
    devices: pd.DataFrame
    halls: pd.DataFrame
    calendar: WorkCalendar
    services: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=SERVICE_COLUMNS))
    config: dict = field(default_factory=dict)

    def level(self, level_id: str) -> Level:
        for level in self.levels:
            if level.id == level_id:
                return level
        raise KeyError(f"unknown level {level_id!r}; levels are {[lv.id for lv in self.levels]}")

    def name(self, lang: str) -> str:
        return self.name_zh if lang == "zh" else self.name_en

    @functools.cached_property
    def outline(self):
        return shapely.union_all(self.levels[0].units.geometry.values)

    @functools.cached_property
    def units_by_id(self) -> dict[tuple[str, str], dict]:
        return {
            (level.id, row.unit_id): {"name_zh": row.name_zh, "name_en": row.name_en, "parent_id": row.parent_id}
            for level in self.levels
            for row in level.units.itertuples()
        }


# ---------------------------------------------------------------------------- reading


def _read_csv(path: Path, required: list[str], problems: list[str], what: str) -> pd.DataFrame:
    if not path.exists():
        problems.append(f"{what}: missing file {path.name}")
        return pd.DataFrame(columns=required)
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    except Exception as exc:  # unreadable CSV: report, don't crash
        problems.append(f"{what}: cannot read {path.name}: {exc}")
        return pd.DataFrame(columns=required)
    absent = [c for c in required if c not in frame.columns]
    if absent:
        problems.append(f"{what}: {path.name} lacks column(s) {', '.join(absent)}")
        return pd.DataFrame(columns=required)
    duplicates = frame[required[0]][frame[required[0]].duplicated()].unique().tolist()
    if duplicates:
        problems.append(f"{what}: duplicate {required[0]} {', '.join(map(str, duplicates[:10]))}")
    return frame


def _lonlat_bounds(bounds) -> bool:
    """Whether (minx, miny, maxx, maxy) can be longitudes and latitudes."""
    minx, miny, maxx, maxy = bounds
    return bool(np.isfinite(bounds).all() and -180 <= minx <= maxx <= 180 and -90 <= miny <= maxy <= 90)


def _span(low: float, high: float) -> str:
    return f"{low:,.0f}..{high:,.0f}" if max(abs(low), abs(high)) >= 1000 else f"{low:,.2f}..{high:,.2f}"


def _to_lonlat(frame: gpd.GeoDataFrame, spec: dict, name: str, file: str, problems: list[str],
               warnings: list[str]) -> gpd.GeoDataFrame | None:
    """The layer in EPSG:4326, its CRS from the file or else from `crs = "EPSG:N"` on the level.

    A layer that says nothing (a shapefile without .prj; a GeoJSON without a "crs" member is read as
    longitude/latitude, RFC 7946) and whose coordinates cannot be longitude/latitude is refused:
    placing cases in it would put none in any unit. One that looks like longitude/latitude is taken
    as EPSG:4326 with a warning.
    """
    declared = None
    if spec.get("crs") is not None:
        try:
            declared = pyproj.CRS.from_user_input(spec["crs"])
        except (pyproj.exceptions.CRSError, TypeError):
            problems.append(f'level {name}: crs {spec["crs"]!r} is not a known CRS (want e.g. crs = "EPSG:2263")')
            return None
    bounds = frame.total_bounds if len(frame) else np.zeros(4)
    lonlat = _lonlat_bounds(bounds)
    stated = frame.crs
    if stated is not None and stated.is_geographic and not lonlat and Path(file).suffix.lower() in (".geojson", ".json"):
        stated = None  # GeoJSON's default (longitude/latitude), which these coordinates are not
    if stated is not None and declared is not None and not _same_crs(stated, declared):
        problems.append(f"level {name}: {file} says its CRS is {_crs_name(stated)} but city.toml says crs = "
                        f'"{spec["crs"]}": remove the crs key of level "{name}" or fix the file')
        return None
    source = stated if stated is not None else declared
    if source is None:
        if not lonlat:
            problems.append(
                f"level {name}: {file} has no CRS and its coordinates are not longitude/latitude "
                f"(x {_span(bounds[0], bounds[2])}, y {_span(bounds[1], bounds[3])}): add crs = \"EPSG:<code>\" "
                f'(the projection it was drawn in, e.g. "EPSG:2263") to level "{name}" in city.toml')
            return None
        warnings.append(f"level {name}: {file} has no CRS; its coordinates look like longitude/latitude, taken as "
                        f'EPSG:4326 (add crs = "EPSG:4326" to level "{name}" in city.toml to say so)')
        source = WGS84
    frame = frame.set_crs(source, allow_override=True)
    if not _same_crs(source, WGS84):
        frame = frame.to_crs(WGS84)
    if len(frame) and not _lonlat_bounds(frame.total_bounds):
        bounds = frame.total_bounds
        problems.append(f"level {name}: {file} in {_crs_name(source)} does not fall on the globe "
                        f"(longitude {_span(bounds[0], bounds[2])}, latitude {_span(bounds[1], bounds[3])}): "
                        f"check the CRS of the file or the crs key of level \"{name}\" in city.toml")
        return None
    return frame


def _same_crs(a: pyproj.CRS, b: pyproj.CRS) -> bool:
    if a.equals(b, ignore_axis_order=True):
        return True
    codes = a.to_epsg(min_confidence=70), b.to_epsg(min_confidence=70)
    return codes[0] is not None and codes[0] == codes[1]


def _crs_name(crs: pyproj.CRS) -> str:
    code = crs.to_epsg(min_confidence=70)
    return f"EPSG:{code}" if code else crs.name


def _read_level_file(root: Path, spec: dict, index: int, problems: list[str],
                     warnings: list[str]) -> gpd.GeoDataFrame | None:
    name = spec.get("id", f"#{index}")
    file = spec.get("file")
    if not file:
        problems.append(f"level {name}: no 'file' (or 'generate') given")
        return None
    path = (root / file).resolve()
    if not path.exists():
        problems.append(f"level {name}: missing file {file}")
        return None
    try:
        frame = gpd.read_file(path)
    except Exception as exc:
        problems.append(f"level {name}: cannot read {file}: {str(exc).splitlines()[0]}")
        return None
    frame = _to_lonlat(frame, spec, name, file, problems, warnings)
    if frame is None:
        return None
    id_field = spec.get("id_field")
    if not id_field or id_field not in frame.columns:
        problems.append(f"level {name}: id_field {id_field!r} is not a column of {file}")
        return None
    name_field = spec.get("name_field", id_field)
    name_en_field = spec.get("name_en_field", name_field)
    for label, column in (("name_field", name_field), ("name_en_field", name_en_field)):
        if column not in frame.columns:
            problems.append(f"level {name}: {label} {column!r} is not a column of {file}")
            return None
    units = gpd.GeoDataFrame(
        {
            "unit_id": frame[id_field].astype(str).str.strip(),
            "name_zh": frame[name_field].astype(str),
            "name_en": frame[name_en_field].astype(str),
        },
        geometry=frame.geometry.values,
        crs="EPSG:4326",
    )
    empty = units[units.geometry.isna() | units.geometry.is_empty]
    if len(empty):
        problems.append(f"level {name}: unit(s) without geometry: {', '.join(empty.unit_id.head(10))}")
        units = units.drop(empty.index)
    invalid = units[~units.geometry.is_valid]
    if len(invalid):
        reasons = shapely.is_valid_reason(invalid.geometry.values)
        listed = "; ".join(f"{u} ({r})" for u, r in list(zip(invalid.unit_id, reasons))[:10])
        problems.append(f"level {name}: invalid geometry in {len(invalid)} unit(s): {listed}")
    duplicated = units.unit_id[units.unit_id.duplicated()].unique().tolist()
    if duplicated:
        problems.append(f"level {name}: duplicate unit ids {', '.join(duplicated[:10])}")
    return units


def _generate_h3(parent: Level, spec: dict, problems: list[str]) -> gpd.GeoDataFrame | None:
    import h3

    resolution = spec.get("resolution", 7)
    if not isinstance(resolution, int) or not 0 <= resolution <= 10:
        problems.append(f"level {spec.get('id')}: resolution must be an integer 0..10")
        return None
    rows = []
    for unit in parent.units.itertuples():
        geometry = unit.geometry
        if not geometry.is_valid:
            continue
        shape = h3.geo_to_h3shape(shapely.geometry.mapping(geometry))
        cells = set(h3.h3shape_to_cells_experimental(shape, resolution, contain="overlap"))
        # Number cells north-west to south-east so names read like a grid map ("Chaoyang grid 07").
        cells = sorted(cells, key=lambda c: (-round(h3.cell_to_latlng(c)[0], 2), h3.cell_to_latlng(c)[1]))
        number = 0
        for cell in cells:
            boundary = h3.cell_to_boundary(cell)  # (lat, lon) pairs
            hexagon = shapely.Polygon([(lon, lat) for lat, lon in boundary])
            clipped = hexagon.intersection(geometry)
            if clipped.is_empty or clipped.area < hexagon.area * 0.01:
                continue
            clipped = shapely.make_valid(clipped)
            polygons = [g for g in getattr(clipped, "geoms", [clipped]) if g.geom_type in ("Polygon", "MultiPolygon")]
            if not polygons:
                continue
            number += 1
            rows.append(
                {
                    "unit_id": f"{unit.unit_id}-{cell}",
                    "name_zh": f"{unit.name_zh}第{number:02d}网格",
                    "name_en": f"{unit.name_en} grid {number:02d}",
                    "parent_id": unit.unit_id,
                    "geometry": shapely.union_all(polygons),
                }
            )
    return gpd.GeoDataFrame(rows, geometry="geometry", crs="EPSG:4326")


def _assign_parents(child: gpd.GeoDataFrame, parent: gpd.GeoDataFrame, level_id: str, problems: list[str]):
    """Each child unit's parent = the parent unit it overlaps most (areas in a local metric CRS)."""
    crs = parent.estimate_utm_crs()
    child_m = child[["unit_id", "geometry"]].to_crs(crs)
    parent_m = parent[["unit_id", "geometry"]].rename(columns={"unit_id": "parent_id"}).to_crs(crs)
    valid_child = child_m[child_m.geometry.is_valid]
    pairs = gpd.sjoin(valid_child, parent_m[parent_m.geometry.is_valid], predicate="intersects", how="inner")
    left = valid_child.geometry.loc[pairs.index].values
    right = parent_m.geometry.loc[pairs["index_right"]].values
    pairs = pairs.assign(area=shapely.area(shapely.intersection(left, right)))
    pairs = pairs[pairs.area > 0].sort_values("area", ascending=False)
    best = pairs.drop_duplicates("unit_id").set_index("unit_id")["parent_id"]
    child = child.copy()
    child["parent_id"] = child.unit_id.map(best)
    orphans = child[child.parent_id.isna() & child.geometry.is_valid]
    if len(orphans):
        problems.append(
            f"level {level_id}: {len(orphans)} unit(s) outside every parent unit: {', '.join(orphans.unit_id.head(10))}"
        )
    return child


def _read_calendar(root: Path, config: dict, timezone: str, problems: list[str]) -> WorkCalendar:
    spec = config.get("calendar", {})
    workdays = spec.get("workdays", [1, 2, 3, 4, 5])
    if not isinstance(workdays, list) or not all(isinstance(d, int) and 1 <= d <= 7 for d in workdays):
        problems.append("calendar: workdays must be a list of ISO weekdays 1..7")
        workdays = [1, 2, 3, 4, 5]
    holidays: set[dt.date] = set()
    if spec.get("holidays"):
        frame = _read_csv(root / spec["holidays"], ["date", "name"], problems, "calendar")
        for raw in frame["date"]:
            try:
                holidays.add(dt.date.fromisoformat(raw))
            except ValueError:
                problems.append(f"calendar: bad holiday date {raw!r} (want YYYY-MM-DD)")
    return WorkCalendar(timezone, frozenset(workdays), frozenset(holidays))


def _check_categories(categories: pd.DataFrame, department_ids: set[str], problems: list[str]) -> pd.DataFrame:
    categories = categories.copy()
    hours = pd.to_numeric(categories["time_limit_hours"], errors="coerce")
    for row, value in zip(categories.itertuples(), hours):
        if pd.isna(value) or value <= 0:
            problems.append(
                f"categories: {row.category_id}: bad time_limit_hours {row.time_limit_hours!r} (want a positive number)"
            )
        if row.kind not in CATEGORY_KINDS:
            problems.append(f"categories: {row.category_id}: kind {row.kind!r} is not component or event")
        if row.calendar not in CALENDARS:
            problems.append(f"categories: {row.category_id}: calendar {row.calendar!r} is not natural or working")
        if row.lead_department not in department_ids:
            problems.append(f"categories: {row.category_id}: unknown lead department {row.lead_department!r}")
        for assist in filter(None, (a.strip() for a in row.assist_departments.split(";"))):
            if assist not in department_ids:
                problems.append(f"categories: {row.category_id}: unknown assisting department {assist!r}")
    categories["time_limit_hours"] = hours
    categories["assist_departments"] = [
        [a.strip() for a in value.split(";") if a.strip()] for value in categories["assist_departments"]
    ]
    return categories


def _check_services(frame: pd.DataFrame, problems: list[str]) -> pd.DataFrame:
    """services.csv: the hall services and their standard processing time (minutes, > 0)."""
    frame = frame.copy()
    limits = pd.to_numeric(frame["time_limit_minutes"], errors="coerce")
    for row, code, limit in zip(frame.index, frame["service_code"], limits):
        if not (limit > 0):
            problems.append(f"services: row {row + 2} ({code}): time_limit_minutes must be a number > 0")
    frame["time_limit_minutes"] = limits.astype(float)
    return frame


def _check_points(frame: pd.DataFrame, key: str, what: str, problems: list[str]) -> pd.DataFrame:
    frame = frame.copy()
    lat = pd.to_numeric(frame["lat"], errors="coerce")
    lon = pd.to_numeric(frame["lon"], errors="coerce")
    bad = frame[lat.isna() | lon.isna() | ~lat.between(-90, 90) | ~lon.between(-180, 180)]
    if len(bad):
        problems.append(f"{what}: bad lat/lon for {', '.join(bad[key].head(10))}")
    frame["lat"], frame["lon"] = lat, lon
    return frame


def _load(root: Path, warnings: list[str] | None = None) -> tuple[CityPack | None, list[str]]:
    """(the pack or None, its problems); what is taken on assumption goes to `warnings`."""
    problems: list[str] = []
    warnings = [] if warnings is None else warnings
    root = Path(root)
    if not root.is_dir():
        return None, [f"{root}: not a folder"]
    toml_path = root / "city.toml"
    if not toml_path.exists():
        return None, ["city.toml: missing file"]
    try:
        config = tomllib.loads(toml_path.read_text())
    except Exception as exc:
        return None, [f"city.toml: cannot parse: {exc}"]
    city = config.get("city", {})
    for key in ("id", "name_zh", "name_en", "timezone"):
        if not city.get(key):
            problems.append(f"city.toml: [city] lacks {key}")
    timezone = city.get("timezone", "UTC")
    try:
        zoneinfo.ZoneInfo(timezone)
    except Exception:
        problems.append(f"city.toml: unknown timezone {timezone!r}")
        timezone = "UTC"
    level_specs = config.get("levels", [])
    if not level_specs:
        problems.append("city.toml: no [[levels]]")
    if len(level_specs) > MAX_LEVELS:
        problems.append(f"city.toml: at most {MAX_LEVELS} levels are supported")
    seen_ids = set()
    levels: list[Level] = []
    for index, spec in enumerate(level_specs[:MAX_LEVELS], start=1):
        level_id = spec.get("id")
        if not level_id or level_id in seen_ids or level_id == "city":
            problems.append(f"level #{index}: id missing, repeated or reserved ('city')")
            break
        seen_ids.add(level_id)
        if spec.get("generate") == "h3":
            if not levels:
                problems.append(f"level {level_id}: a generated level needs a parent level above it")
                break
            units = _generate_h3(levels[-1], spec, problems)
        elif spec.get("generate"):
            problems.append(f"level {level_id}: unknown generator {spec['generate']!r} (known: h3)")
            break
        else:
            units = _read_level_file(root, spec, index, problems, warnings)
            if units is not None:
                units["parent_id"] = None
                if levels:
                    units = _assign_parents(units, levels[-1].units, level_id, problems)
        if units is None:
            break
        parent_paths = {} if not levels else dict(zip(levels[-1].units.unit_id, levels[-1].units.path))
        units["path"] = [
            [*parent_paths.get(parent, [None]), unit] if levels else [unit]
            for unit, parent in zip(units.unit_id, units.parent_id)
        ]
        levels.append(
            Level(level_id, index, spec.get("name_zh", level_id), spec.get("name_en", level_id), units.reset_index(drop=True))
        )
    departments = _read_csv(root / "departments.csv", ["department_id", "name_zh", "name_en"], problems, "departments")
    categories = _read_csv(
        root / "categories.csv",
        ["category_id", "name_zh", "name_en", "kind", "lead_department", "assist_departments", "time_limit_hours", "calendar"],
        problems,
        "categories",
    )
    categories = _check_categories(categories, set(departments.department_id), problems)
    devices = pd.DataFrame(columns=["device_id", "kind", "lat", "lon", "metrics"])
    if (root / "devices.csv").exists():
        devices = _check_points(
            _read_csv(root / "devices.csv", list(devices.columns), problems, "devices"), "device_id", "devices", problems
        )
    halls = pd.DataFrame(columns=["hall_id", "name_zh", "name_en", "lat", "lon"])
    if (root / "halls.csv").exists():
        halls = _check_points(_read_csv(root / "halls.csv", list(halls.columns), problems, "halls"), "hall_id", "halls", problems)
    services = pd.DataFrame(columns=SERVICE_COLUMNS)
    if (root / "services.csv").exists():
        services = _check_services(_read_csv(root / "services.csv", SERVICE_COLUMNS, problems, "services"), problems)
    calendar = _read_calendar(root, config, timezone, problems)
    if problems or not levels:
        return None, problems
    center = city.get("center")
    if not center:
        c = shapely.union_all(levels[0].units.geometry.values).centroid
        center = [c.x, c.y]
    pack = CityPack(
        root=root.resolve(),
        id=city["id"],
        name_zh=city["name_zh"],
        name_en=city["name_en"],
        timezone=timezone,
        default_lang=city.get("default_lang", "en"),
        center=(float(center[0]), float(center[1])),
        levels=levels,
        departments=departments,
        categories=categories,
        devices=devices,
        halls=halls,
        calendar=calendar,
        services=services,
        config=config,
    )
    return pack, []


def check_pack(root: Path, warnings: list[str] | None = None) -> list[str]:
    """Every problem of the pack at `root`, one clear line each; [] when it is valid. Assumptions the
    loader made (a layer without a CRS taken as longitude/latitude) are appended to `warnings`."""
    try:
        return _load(Path(root), warnings)[1]
    except Exception as exc:  # a check never crashes on a broken pack
        return [f"{root}: unexpected error while checking: {exc!r}"]


_cache: dict[Path, CityPack] = {}


def load_pack(root: Path) -> CityPack:
    """Load (once per process) the pack at `root`; raises PackError listing every problem. Warnings
    (see check_pack) are logged."""
    key = Path(root).resolve()
    if key not in _cache:
        warnings: list[str] = []
        pack, problems = _load(key, warnings)
        for warning in warnings:
            log.warning("city pack %s: %s", key, warning)
        if problems:
            raise PackError(problems)
        _cache[key] = pack
    return _cache[key]
