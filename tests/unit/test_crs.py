"""Coordinates you can trust (issue #15): a boundary layer's CRS comes from the file or from
`crs = "EPSG:N"` on its level, geometry is reprojected to EPSG:4326 on load, a CRS-less layer that is
not longitude/latitude is refused; ingest summaries and the /feeds page account for every case that
lands in no unit ("outside", "unlocated").

Boundary files are generated here from the real NYC boroughs (../shared/data, read only) into a
temporary one-level pack: a projected layer in EPSG:2263 (NY State Plane, US feet) as a shapefile
without and with .prj, and as a GeoJSON.
"""
import json
import shutil

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from datasources import gateway
from datasources.citypack import check_pack, load_pack
from datasources.ingest import ingest_frame
from datasources.mapping import Mapping
from security.scope import Scope
from tests.conftest import NYC, run_cli

LEVEL = '''[[levels]]
id = "borough"
name_zh = "行政区"
name_en = "Borough"
file = "{file}"
id_field = "boro_code"
name_field = "boro_name"
{extra}
'''
CITY = '''[city]
id = "gotham"
name_zh = "哥谭"
name_en = "Gotham"
timezone = "America/New_York"
default_lang = "en"

{level}
[calendar]
workdays = [1, 2, 3, 4, 5]
'''


@pytest.fixture(scope="module")
def boroughs(shared_data) -> gpd.GeoDataFrame:
    """The five boroughs in EPSG:4326, simplified (~20 m) so the files stay small."""
    frame = gpd.read_file(shared_data / "nyc-boundaries" / "boroughs.geojson")[["boro_code", "boro_name", "geometry"]]
    frame["boro_code"] = frame["boro_code"].astype(str)
    frame["geometry"] = shapely.make_valid(shapely.simplify(frame.geometry.values, 0.0002, preserve_topology=True))
    return frame.set_crs("EPSG:4326", allow_override=True)


def make_pack(tmp_path, file: str, extra: str = ""):
    pack = tmp_path / "pack"
    (pack / "boundaries").mkdir(parents=True, exist_ok=True)
    for name in ("departments.csv", "categories.csv"):
        shutil.copy(NYC / name, pack / name)
    (pack / "city.toml").write_text(CITY.format(level=LEVEL.format(file=file, extra=extra)))
    return pack


def write_shapefile(frame: gpd.GeoDataFrame, path, prj: bool):
    frame.to_file(path, driver="ESRI Shapefile")
    if not prj:
        path.with_suffix(".prj").unlink()
    return path


def cli_check(pack):
    run = run_cli("citypack", "check", pack)
    return run.returncode, run.stdout.strip().splitlines()


@pytest.fixture
def projected(tmp_path, boroughs):
    """A pack whose only level is the boroughs in EPSG:2263, as a shapefile without .prj."""
    pack = make_pack(tmp_path, "boundaries/areas.shp")
    write_shapefile(boroughs.to_crs("EPSG:2263"), pack / "boundaries" / "areas.shp", prj=False)
    return pack


def refusal(pack) -> str:
    frame = gpd.read_file(pack / "boundaries" / "areas.shp")
    assert frame.crs is None
    minx, miny, maxx, maxy = frame.total_bounds
    return (f"level borough: boundaries/areas.shp has no CRS and its coordinates are not longitude/latitude "
            f"(x {minx:,.0f}..{maxx:,.0f}, y {miny:,.0f}..{maxy:,.0f}): add crs = \"EPSG:<code>\" (the projection it "
            f"was drawn in, e.g. \"EPSG:2263\") to level \"borough\" in city.toml")


def test_a_projected_layer_without_crs_is_refused_with_one_line(projected):
    expected = refusal(projected)
    assert "(x 913," in expected  # State Plane feet, nowhere near longitudes
    assert cli_check(projected) == (1, [expected])
    # any command loading the pack refuses it with that line too (serve: see the next test)
    run = run_cli("ingest", "cases", projected / "departments.csv", "--city", projected,
                  "--data-dir", projected.parent / "data")
    assert run.returncode == 2 and run.stdout == ""
    assert run.stderr.strip().splitlines() == [f"error: city pack {projected} is invalid: {expected}"]


def test_serve_refuses_the_pack_before_starting(projected, monkeypatch):
    import app
    from serving import supervisor

    started = []  # were the check to let the pack through, nothing would start serving here
    monkeypatch.setattr(app, "serve", lambda *a, **k: started.append(a))
    monkeypatch.setattr(supervisor, "supervise", lambda *a, **k: started.append(a) or 0)
    for workers in ("1", "2"):
        run = run_cli("serve", "--city", projected, "--data-dir", projected.parent / "data", "--workers", workers,
                      "--no-simulate")
        assert run.returncode == 2 and started == []
        assert run.stderr.strip().splitlines() == [f"error: city pack {projected} is invalid: {refusal(projected)}"]


def test_the_crs_key_makes_it_load_and_cases_land_in_units(projected, boroughs, store, tmp_path):
    toml = projected / "city.toml"
    toml.write_text(toml.read_text().replace('name_field = "boro_name"\n', 'name_field = "boro_name"\ncrs = "EPSG:2263"\n'))
    assert cli_check(projected) == (0, [f"{projected}: valid city pack"])
    pack = load_pack(projected)
    units = pack.level("borough").units
    assert units.crs.to_epsg() == 4326
    # back in longitude/latitude: the same shapes as the source, to well under a metre
    source = boroughs.set_index("boro_code").geometry
    for unit in units.itertuples():
        assert unit.geometry.hausdorff_distance(source[unit.unit_id]) < 1e-6

    # 400 cases over and around the city, 40 without coordinates
    rng = np.random.default_rng(15)
    n = 400
    lon, lat = rng.uniform(-74.35, -73.65, n), rng.uniform(40.45, 40.95, n)
    lon[:40] = lat[:40] = np.nan
    frame = pd.DataFrame({"case_id": [f"g{i}" for i in range(n)], "reported_at": "2025-01-02T09:00:00",
                          "category": "Noise - Residential", "lat": lat, "lon": lon})
    result, reasons, _ = ingest_frame(store, pack, "cases", frame)
    assert result.accepted == n and not reasons

    # an independent placement: geopandas' spatial join on the file read and reprojected here
    layer = gpd.read_file(projected / "boundaries" / "areas.shp").set_crs("EPSG:2263").to_crs("EPSG:4326")
    points = gpd.GeoDataFrame({"case_id": frame.case_id}, geometry=gpd.points_from_xy(lon, lat), crs="EPSG:4326")
    joined = gpd.sjoin(points[~np.isnan(lat)], layer, predicate="within", how="left")
    expected = dict(zip(joined.case_id, joined.boro_code.astype(object).where(joined.boro_code.notna(), None)))
    stored = dict(store.cursor().execute("select case_id, unit_ids[1] from cases where lat is not null").fetchall())
    assert stored == expected
    landed = sum(v is not None for v in stored.values())
    assert 50 < landed < n - 40  # a good part lands in a borough, the rest in the water and in New Jersey
    assert (result.outside, result.unlocated) == (n - 40 - landed, 40)


def test_a_layer_with_prj_is_reprojected(tmp_path, boroughs):
    pack = make_pack(tmp_path, "boundaries/areas.shp")
    write_shapefile(boroughs.to_crs("EPSG:2263"), pack / "boundaries" / "areas.shp", prj=True)
    warnings = []
    assert check_pack(pack, warnings) == [] and warnings == []
    units = load_pack(pack).level("borough").units
    minx, miny, maxx, maxy = units.total_bounds
    assert np.allclose(units.total_bounds, boroughs.total_bounds, atol=1e-6)
    assert -74.3 < minx < maxx < -73.6 and 40.4 < miny < maxy < 41.0
    # the same CRS on the level as well is fine; a different one is a conflict, one line
    toml = pack / "city.toml"
    base = toml.read_text()
    toml.write_text(base.replace('name_field = "boro_name"\n', 'name_field = "boro_name"\ncrs = "EPSG:2263"\n'))
    assert check_pack(pack) == []
    toml.write_text(base.replace('name_field = "boro_name"\n', 'name_field = "boro_name"\ncrs = "EPSG:32618"\n'))
    assert check_pack(pack) == [
        'level borough: boundaries/areas.shp says its CRS is EPSG:2263 but city.toml says crs = "EPSG:32618": '
        'remove the crs key of level "borough" or fix the file']
    toml.write_text(base.replace('name_field = "boro_name"\n', 'name_field = "boro_name"\ncrs = "EPSG:nope"\n'))
    assert check_pack(pack) == ["level borough: crs 'EPSG:nope' is not a known CRS (want e.g. crs = \"EPSG:2263\")"]


def test_a_projected_geojson_is_reprojected(tmp_path, boroughs):
    pack = make_pack(tmp_path, "boundaries/areas.geojson")
    boroughs.to_crs("EPSG:2263").to_file(pack / "boundaries" / "areas.geojson", driver="GeoJSON")
    assert "2263" in json.dumps(json.loads((pack / "boundaries" / "areas.geojson").read_text())["crs"])
    units = load_pack(pack).level("borough").units
    assert np.allclose(units.total_bounds, boroughs.total_bounds, atol=1e-6)


def test_a_geojson_in_feet_without_a_crs_member_is_refused(tmp_path, boroughs):
    """GeoJSON without "crs" is read as longitude/latitude (RFC 7946); coordinates in feet are not."""
    pack = make_pack(tmp_path, "boundaries/areas.geojson")
    data = json.loads(boroughs.to_crs("EPSG:2263").to_json(drop_id=True, to_wgs84=False))
    data.pop("crs", None)
    (pack / "boundaries" / "areas.geojson").write_text(json.dumps(data))
    code, lines = cli_check(pack)
    assert code == 1 and len(lines) == 1
    assert lines[0].startswith("level borough: boundaries/areas.geojson has no CRS and its coordinates are not "
                               "longitude/latitude (x 913,")
    toml = pack / "city.toml"
    toml.write_text(toml.read_text().replace('name_field = "boro_name"\n', 'name_field = "boro_name"\ncrs = "EPSG:2263"\n'))
    units = load_pack(pack).level("borough").units
    assert np.allclose(units.total_bounds, boroughs.total_bounds, atol=1e-6)


def test_a_lonlat_layer_without_crs_is_taken_as_4326_with_a_warning(tmp_path, boroughs):
    pack = make_pack(tmp_path, "boundaries/areas.shp")
    write_shapefile(boroughs, pack / "boundaries" / "areas.shp", prj=False)
    code, lines = cli_check(pack)
    assert code == 0 and lines == [
        'warning: level borough: boundaries/areas.shp has no CRS; its coordinates look like longitude/latitude, '
        'taken as EPSG:4326 (add crs = "EPSG:4326" to level "borough" in city.toml to say so)',
        f"{pack}: valid city pack"]
    assert np.allclose(load_pack(pack).level("borough").units.total_bounds, boroughs.total_bounds)


def test_a_crs_key_the_coordinates_do_not_fit_is_a_problem(projected):
    toml = projected / "city.toml"
    toml.write_text(toml.read_text().replace('name_field = "boro_name"\n', 'name_field = "boro_name"\ncrs = "EPSG:4326"\n'))
    code, lines = cli_check(projected)
    assert code == 1 and len(lines) == 1
    assert lines[0].startswith("level borough: boundaries/areas.shp in EPSG:4326 does not fall on the globe "
                               "(longitude 913,")


# ---------------------------------------------------------------------------- nothing unaccounted


def expected_places(nyc, frame: pd.DataFrame) -> tuple[int, int]:
    """(outside, unlocated) by geopandas on the NYC boroughs file, independently of the ingest."""
    boroughs = gpd.read_file(nyc.root / nyc.config["levels"][0]["file"])
    cds = {u.upper() for u in nyc.level("cd").units.unit_id}
    has_point = frame.lat.notna()
    points = gpd.GeoDataFrame(frame[has_point], geometry=gpd.points_from_xy(frame.lon[has_point], frame.lat[has_point]),
                              crs="EPSG:4326")
    inside = gpd.sjoin(points, boroughs, predicate="intersects", how="inner").case_id.unique()
    named = frame.board.fillna("").str.upper().isin(cds)
    outside = int((has_point & ~frame.case_id.isin(inside) & ~named).sum())
    unlocated = int((~has_point & ~named).sum())
    return outside, unlocated


def generated_cases(seed: int, n: int = 300) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    lon, lat = rng.uniform(-74.4, -73.6, n), rng.uniform(40.4, 41.0, n)
    no_point = rng.random(n) < 0.2
    lon[no_point] = lat[no_point] = np.nan
    boards = np.array(["05 BROOKLYN", "01 MANHATTAN", "99 NOWHERE", None, None, None], dtype=object)
    return pd.DataFrame({"case_id": [f"s{seed}-{i}" for i in range(n)], "reported_at": "2025-01-02T09:00:00",
                         "category": "Noise - Residential", "lat": lat, "lon": lon,
                         "board": boards[rng.integers(0, len(boards), n)]})


def test_ingest_summaries_count_outside_and_unlocated_exactly(store, nyc, tmp_path):
    mapping = Mapping.from_dict({"units": {"cd": "board"}})
    frame = generated_cases(1)
    expected = expected_places(nyc, frame)
    assert expected[0] > 20 and expected[1] > 10
    result, reasons, _ = ingest_frame(store, nyc, "cases", frame, mapping)
    assert result.accepted == len(frame) and not reasons
    assert (result.outside, result.unlocated) == expected
    # the same records again (changed): updates, not new records, so nothing new to account for
    again, _, _ = ingest_frame(store, nyc, "cases", frame.assign(category="Noise - Street/Sidewalk"), mapping)
    assert again.as_dict() == {"accepted": 0, "updated": len(frame), "quarantined": 0, "outside": 0, "unlocated": 0}
    # a file through the CLI (chunks of 50): counted over its accepted records, quarantined ones left out
    more = generated_cases(2)
    more.loc[:9, "category"] = "Martians"
    path, mapping_path = tmp_path / "more.csv", tmp_path / "m.toml"
    more.to_csv(path, index=False)
    mapping_path.write_text('[units]\ncd = "board"\n')
    run = run_cli("ingest", "cases", path, "--mapping", mapping_path, "--city", NYC, "--data-dir", tmp_path / "d",
                  env={"CITYBRAIN_IMPORT_CHUNK_ROWS": "50"})
    assert run.returncode == 0, run.stderr
    summary = json.loads(run.stdout.strip().splitlines()[-1])
    outside, unlocated = expected_places(nyc, more.iloc[10:])
    assert summary == {"accepted": len(more) - 10, "updated": 0, "quarantined": 10,
                       "reasons": {"unknown category Martians": 10}, "outside": outside, "unlocated": unlocated}
    # feeds without places have no such counts
    sensors, _, _ = ingest_frame(store, nyc, "sensors", pd.DataFrame(
        {"device_id": ["d1"], "observed_at": ["2025-01-02T09:00:00"], "metric": ["pm25"], "value": [3.0]}))
    assert sensors.as_dict() == {"accepted": 1, "updated": 0, "quarantined": 0}


def test_stored_cases_outside_and_unlocated_are_read_for_the_feeds_page(store, nyc):
    from callbacks.feeds import unplaced_line

    frame = generated_cases(3)
    frame["closed_at"] = np.where(np.arange(len(frame)) % 3 == 0, "2025-01-03T09:00:00", None)
    mapping = Mapping.from_dict({"units": {"cd": "board"}})
    ingest_frame(store, nyc, "cases", frame, mapping)
    counts = gateway.query_rows(store, "cases_unplaced", Scope.city())[0]
    open_ = frame.closed_at.isna()
    outside, unlocated = expected_places(nyc, frame)
    assert (counts["outside_cases"], counts["unlocated_cases"]) == (outside, unlocated)
    assert (counts["outside_open"], counts["unlocated_open"]) == expected_places(nyc, frame[open_])
    # the units' sum falls short of the city's total by exactly these cases
    in_units = store.cursor().execute("select count(*) from cases where unit_ids[1] is not null").fetchall()[0][0]
    assert in_units + outside + unlocated == len(frame)
    # a borough's staff see none of them (their cases are those in their borough)
    assert gateway.query_rows(store, "cases_unplaced", Scope(level_index=1, unit_ids=("3",)))[0]["outside_cases"] == 0
    level = nyc.levels[0]
    assert unplaced_line(counts, level, "en") == (
        f"{outside} cases outside every borough ({counts['outside_open']} open), {unlocated} without a place "
        f"({counts['unlocated_open']} open)")
    assert unplaced_line(counts, level, "zh").startswith(f"{outside}件案件不在任何行政区内")
    assert unplaced_line(dict.fromkeys(counts, 0), level, "en") == ""
