import datetime as dt
import json
import shutil
import subprocess
import sys

import pytest

from datasources.citypack import WorkCalendar, check_pack, load_pack
from tests.conftest import BEIJING, NYC, ROOT, run_cli


def test_demo_pack_is_beijing_with_16_districts_and_a_generated_grid(beijing):
    assert [lv.id for lv in beijing.levels] == ["district", "grid"]
    districts = beijing.level("district").units
    assert len(districts) == 16 and "朝阳区" in set(districts.name_zh) and "Chaoyang" in set(districts.name_en)
    grid = beijing.level("grid").units
    assert len(grid) > 1000
    assert grid.parent_id.isin(districts.unit_id).all()
    # every grid cell's path is [district, cell]
    assert all(path[0] == parent and path[1] == unit for unit, parent, path in zip(grid.unit_id, grid.parent_id, grid.path))
    assert len(beijing.departments) >= 10 and {"chengguan", "shuiwu", "huanbao"} <= set(beijing.departments.department_id)
    assert set(beijing.categories.kind) == {"component", "event"}


def test_nyc_pack_has_three_levels_and_parents_by_largest_overlap(nyc):
    assert [lv.id for lv in nyc.levels] == ["borough", "cd", "nta"]
    nta = nyc.level("nta").units
    assert len(nta) == 262 and nta.parent_id.notna().all()
    # NTA codes start with the borough letter; the community district chosen must lie in that borough.
    cd = nyc.level("cd").units.set_index("unit_id")
    borough_of_cd = dict(zip(cd.index, cd.parent_id))
    letters = {"1": "MN", "2": "BX", "3": "BK", "4": "QN", "5": "SI"}
    agree = sum(letters[borough_of_cd[p]] == u[:2] for u, p in zip(nta.unit_id, nta.parent_id))
    assert agree == len(nta)


def test_both_packs_pass_the_cli_check():
    for pack in (BEIJING, NYC):
        run = run_cli("citypack", "check", pack)
        assert run.returncode == 0, run.stdout + run.stderr
        assert "valid city pack" in run.stdout


def test_app_py_runs_as_a_process(tmp_path):
    """The one CLI test that starts `python app.py` for real (the others call cli.main in-process):
    the entry point, its imports and its exit code, from another working directory."""
    run = subprocess.run([sys.executable, str(ROOT / "app.py"), "citypack", "check", str(BEIJING)], cwd=tmp_path,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout.strip() == f"{BEIJING}: valid city pack"


@pytest.fixture
def broken(tmp_path):
    """A copy of the Beijing pack (grid level dropped for speed) to break in one way per test."""
    pack = tmp_path / "pack"
    shutil.copytree(BEIJING, pack, ignore=shutil.ignore_patterns("*.py"))
    toml = (pack / "city.toml").read_text()
    (pack / "city.toml").write_text(toml.split("[[levels]]\nid = \"grid\"")[0] + "[calendar]\nworkdays = [1, 2, 3, 4, 5]\n")
    assert check_pack(pack) == []
    return pack


def cli_check(pack):
    run = run_cli("citypack", "check", pack)
    return run.returncode, run.stdout.strip().splitlines()


def test_missing_boundary_file(broken):
    (broken / "districts.geojson").unlink()
    code, lines = cli_check(broken)
    assert code == 1 and lines == ["level district: missing file districts.geojson"]


def test_unreadable_geometry(broken):
    (broken / "districts.geojson").write_text("{not json")
    code, lines = cli_check(broken)
    assert code == 1 and len(lines) == 1 and lines[0].startswith("level district: cannot read districts.geojson")


def _edit_features(pack, edit):
    data = json.loads((pack / "districts.geojson").read_text())
    edit(data["features"])
    (pack / "districts.geojson").write_text(json.dumps(data))


def test_invalid_geometry(broken):
    def bowtie(features):
        features[0]["geometry"] = {"type": "Polygon", "coordinates": [[[116.0, 39.0], [116.2, 39.2], [116.2, 39.0], [116.0, 39.2], [116.0, 39.0]]]}
    _edit_features(broken, bowtie)
    code, lines = cli_check(broken)
    assert code == 1 and len(lines) == 1
    assert lines[0].startswith("level district: invalid geometry in 1 unit(s): 110101 (Self-intersection")


def test_duplicate_unit_ids(broken):
    def duplicate(features):
        features[1]["properties"]["adcode"] = features[0]["properties"]["adcode"]
    _edit_features(broken, duplicate)
    assert cli_check(broken) == (1, ["level district: duplicate unit ids 110101"])


def test_finer_unit_outside_every_parent(broken, tmp_path):
    streets = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"code": "in1", "name": "inside"},
         "geometry": {"type": "Polygon", "coordinates": [[[116.40, 39.91], [116.41, 39.91], [116.41, 39.92], [116.40, 39.92], [116.40, 39.91]]]}},
        {"type": "Feature", "properties": {"code": "far1", "name": "Shanghai"},
         "geometry": {"type": "Polygon", "coordinates": [[[121.40, 31.2], [121.41, 31.2], [121.41, 31.21], [121.40, 31.21], [121.40, 31.2]]]}},
    ]}
    (broken / "streets.geojson").write_text(json.dumps(streets))
    toml = (broken / "city.toml").read_text().replace(
        "[calendar]", '[[levels]]\nid = "street"\nfile = "streets.geojson"\nid_field = "code"\nname_field = "name"\n\n[calendar]')
    (broken / "city.toml").write_text(toml)
    assert cli_check(broken) == (1, ["level street: 1 unit(s) outside every parent unit: far1"])


def test_unknown_department_and_bad_time_limits(broken):
    path = broken / "categories.csv"
    text = path.read_text()
    text = text.replace("noise,噪声扰民,Noise disturbance,event,huanbao,gongan;chengguan,24,natural",
                        "noise,噪声扰民,Noise disturbance,event,huanbao,gongan;police,24,natural")
    text = text.replace("heating,供暖问题,Heating problem,event,zhujian,,24,natural", "heating,供暖问题,Heating problem,event,heat_co,,-3,natural")
    text = text.replace("food_safety,食品安全,Food safety,event,shichang,weijian,72,working", "food_safety,食品安全,Food safety,event,shichang,weijian,soon,working")
    path.write_text(text)
    code, lines = cli_check(broken)
    assert code == 1
    assert sorted(lines) == sorted([
        "categories: noise: unknown assisting department 'police'",
        "categories: heating: bad time_limit_hours '-3' (want a positive number)",
        "categories: heating: unknown lead department 'heat_co'",
        "categories: food_safety: bad time_limit_hours 'soon' (want a positive number)",
    ])


def test_missing_city_toml_and_departments(tmp_path):
    assert check_pack(tmp_path) == ["city.toml: missing file"]
    (tmp_path / "city.toml").write_text('[city]\nid="x"\nname_zh="x"\nname_en="x"\ntimezone="Mars/Base"\n')
    problems = check_pack(tmp_path)
    assert "city.toml: unknown timezone 'Mars/Base'" in problems
    assert "city.toml: no [[levels]]" in problems
    assert "departments: missing file departments.csv" in problems


def test_working_calendar_skips_weekends_and_holidays():
    calendar = WorkCalendar("Asia/Shanghai", holidays=frozenset({dt.date(2026, 10, 1), dt.date(2026, 10, 2)}))
    friday_4pm_local = dt.datetime(2026, 11, 20, 8, 0)  # UTC
    assert calendar.add_hours(friday_4pm_local, 48) == dt.datetime(2026, 11, 24, 8, 0)  # Tuesday 4 pm local
    assert calendar.add_hours(friday_4pm_local, 48, "natural") == dt.datetime(2026, 11, 22, 8, 0)
    sept_30_noon = dt.datetime(2026, 9, 30, 4, 0)
    # Wed noon: 12 h left that day, Thu-Fri holidays, weekend, then 12 h of Monday -> Mon noon local
    assert calendar.add_hours(sept_30_noon, 24) == dt.datetime(2026, 10, 5, 4, 0)


def test_pack_loads_once_per_process():
    assert load_pack(BEIJING) is load_pack(BEIJING)
