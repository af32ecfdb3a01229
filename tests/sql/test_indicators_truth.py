"""Every core indicator (CONTRACT §6) against an independent pandas computation on real data.

The real files are imported once per module through the mappings; the pandas side reads the raw
files itself and applies the mappings' logic by hand (local dates -> UTC, due = reported + the
category's time limit, units from community_board or from coordinates).
"""
from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest

from datasources.ingest import ingest_file
from datasources.runtime import sync_pack
from datasources.store import Store
from indicators.compute import compute, explain, parse_time
from security.scope import Scope

ROOT = Path(__file__).resolve().parents[2]
MAPPINGS = ROOT / "mappings"
NY = "America/New_York"
CASE_COUNTS = ("cases_reported", "cases_closed", "cases_due", "open_backlog", "overdue_open")
CASE_VALUES = CASE_COUNTS + ("closure_rate", "on_time_closure_rate", "median_close_hours")
STATUS_311 = {"Closed": "closed", "Open": "accepted", "In Progress": "dispatched", "Assigned": "dispatched",
              "Pending": "registered", "Started": "dispatched", "Unspecified": "accepted"}


def utc(text: str, zone: str = NY) -> dt.datetime:
    return parse_time(text, zone)


def local_to_utc(series: pd.Series, zone: str) -> pd.Series:
    return pd.to_datetime(series).dt.tz_localize(zone).dt.tz_convert("UTC").dt.tz_localize(None)


# ---------------------------------------------------------------------------- the real data, twice


@pytest.fixture(scope="module")
def real(tmp_path_factory, nyc, shared_data):
    store = Store(tmp_path_factory.mktemp("truth") / "truth.duckdb")
    sync_pack(store, nyc)
    imports = [
        ("cases", shared_data / "nyc-council-cases" / "council_constituent_cases.parquet", "nyc_council_cases.toml"),
        ("cases", shared_data / "nyc-311-samples" / "311_animal_complaints_2025q1.csv", "nyc311.toml"),
        ("cases", shared_data / "nyc-311-samples" / "311_mixed_2011_sample.csv", "nyc311.toml"),
        ("devices", shared_data / "nyc-pm25-nyccas" / "sites.csv", "nyc_pm25_sites.toml"),
        ("sensors", shared_data / "nyc-pm25-nyccas" / "pm25_hourly.parquet", "nyc_pm25.toml"),
        ("halls", shared_data / "ca-dmv-wait-times" / "offices.csv", "dmv_offices.toml"),
        ("services", shared_data / "ca-dmv-wait-times" / "wait_times_hourly.parquet", "dmv_waits.toml"),
    ]
    for feed, path, mapping in imports:
        ingest_file(store, nyc, feed, path, MAPPINGS / mapping)
    yield store
    store.close()


@pytest.fixture(scope="module")
def cd_units(nyc):
    return nyc.level("cd").units[["unit_id", "geometry"]]


def locate_cd(frame: pd.DataFrame, cd_units, lat: str, lon: str) -> pd.Series:
    """cd of each row's point by a spatial join (first unit in the pack's order on a border)."""
    has = frame[lat].notna() & frame[lon].notna()
    points = gpd.GeoDataFrame(index=frame.index[has], geometry=gpd.points_from_xy(frame.loc[has, lon], frame.loc[has, lat]),
                              crs="EPSG:4326")
    units = cd_units.reset_index(drop=True)
    joined = gpd.sjoin(points, units, predicate="intersects", how="inner").reset_index()
    joined = joined.sort_values(["index", "index_right"]).drop_duplicates("index")
    return pd.Series(joined.unit_id.values, index=joined["index"].values).reindex(frame.index)


@pytest.fixture(scope="module")
def expected_cases(nyc, cd_units, shared_data) -> pd.DataFrame:
    """Canonical cases from the raw files by hand: case_id, cd, department, reported/closed/due (UTC)."""
    categories = nyc.categories.set_index("category_id")
    hours = categories.time_limit_hours.astype(float)
    assert set(categories.calendar) == {"natural"}  # so due = reported + hours, no working calendar
    folded = {u.casefold(): u for u in nyc.level("cd").units.unit_id}

    council = pd.read_parquet(shared_data / "nyc-council-cases" / "council_constituent_cases.parquet")
    category = council.complaint_type.str.strip()
    council = council[category.notna() & (category != "")]  # the import quarantines these
    frame = pd.DataFrame({
        "case_id": council.unique_key,
        "category": council.complaint_type.str.strip(),
        "department": council.account,
        "reported_at": local_to_utc(council.opendate, NY),
        "closed_at": local_to_utc(council.closedate, NY),
        "cd": council.community_board.map(lambda b: folded.get(str(b).strip().casefold()) if b else None),
    })
    frames = [frame]
    for name, fmt in (("311_animal_complaints_2025q1.csv", "%m/%d/%Y %H:%M"),
                      ("311_mixed_2011_sample.csv", "%m/%d/%Y %I:%M:%S %p")):
        raw = pd.read_csv(shared_data / "nyc-311-samples" / name, dtype=str)
        times = {c: local_to_utc(pd.to_datetime(raw[c], format=fmt), NY) for c in ("Created Date", "Closed Date", "Due Date")}
        status = raw.Status.map(STATUS_311)
        closed = times["Closed Date"].where(status.isna() | (status == "closed"))
        frames.append(pd.DataFrame({
            "case_id": raw["Unique Key"], "category": raw["Complaint Type"], "department": raw["Agency"],
            "reported_at": times["Created Date"], "closed_at": closed, "due_at": times["Due Date"],
            "raw_closed_at": times["Closed Date"],
            "cd": locate_cd(raw.assign(lat=pd.to_numeric(raw.Latitude), lon=pd.to_numeric(raw.Longitude)),
                            cd_units, "lat", "lon"),
        }))
    cases = pd.concat(frames, ignore_index=True)
    # quarantined: closed before reported (checked on the file's closed date, whatever the status)
    raw_closed = cases.raw_closed_at.fillna(cases.closed_at)
    cases = cases[~(raw_closed < cases.reported_at)].drop(columns="raw_closed_at")
    if "due_at" not in cases:
        cases["due_at"] = pd.NaT
    missing = cases.due_at.isna()
    cases.loc[missing, "due_at"] = cases.reported_at[missing] + pd.to_timedelta(cases.category[missing].map(hours), unit="h")
    return cases.drop_duplicates("case_id", keep="last").reset_index(drop=True)


def pandas_case_indicators(cases: pd.DataFrame, key: str, start, end) -> dict[str, dict]:
    """The §6 case indicators per value of `key`, computed with pandas."""
    out = {}
    for unit, group in cases.dropna(subset=[key]).groupby(key):
        reported = group[(group.reported_at >= start) & (group.reported_at < end)]
        closed = reported[reported.closed_at <= end]
        due = reported[(reported.closed_at <= end) | (reported.due_at <= end)]
        on_time = reported[(reported.closed_at <= end) & (reported.closed_at <= reported.due_at)]
        backlog = group[(group.reported_at < end) & (group.closed_at.isna() | (group.closed_at > end))]
        overdue = backlog[backlog.due_at < end]
        hours = (closed.closed_at - closed.reported_at).dt.total_seconds() / 3600
        out[unit] = {
            "cases_reported": len(reported), "cases_closed": len(closed), "cases_due": len(due),
            "closure_rate": len(closed) / len(due) if len(due) else None,
            "on_time_closure_rate": len(on_time) / len(due) if len(due) else None,
            "open_backlog": len(backlog), "overdue_open": len(overdue),
            "median_close_hours": float(hours.median()) if len(hours) else None,
        }
    return out


def by_unit(rows: list[dict]) -> dict[tuple[str, str], dict]:
    return {(r["indicator"], r["unit_id"]): r for r in rows}


def assert_same(got, want, what: str):
    if want is None or (isinstance(want, float) and math.isnan(want)):
        assert got is None, f"{what}: expected empty, got {got}"
    elif isinstance(want, (int, np.integer)):
        assert got == want, f"{what}: {got} != {want}"
    else:
        assert got is not None and got == pytest.approx(want, rel=1e-9, abs=1e-9), f"{what}: {got} != {want}"


ZERO = {"cases_reported": 0, "cases_closed": 0, "cases_due": 0, "closure_rate": None, "on_time_closure_rate": None,
        "open_backlog": 0, "overdue_open": 0, "median_close_hours": None}
WINDOWS = [("2019-01-01", "2019-04-01"), ("2024-12-01", "2025-01-05"), ("2025-01-01", "2025-04-01"),
           ("2011-01-01", "2012-01-01"), ("2016-07-04T12:30", "2016-07-06")]


# ---------------------------------------------------------------------------- cases


@pytest.mark.parametrize("window", WINDOWS)
def test_case_indicators_per_community_district(real, nyc, expected_cases, window):
    start, end = utc(window[0]), utc(window[1])
    got = by_unit(compute(real, nyc, Scope.city(), "cd", start, end, CASE_VALUES))
    want = pandas_case_indicators(expected_cases, "cd", pd.Timestamp(start), pd.Timestamp(end))
    units = list(nyc.level("cd").units.unit_id)
    assert {u for _, u in got} == set(units)
    assert sum(want.get(u, ZERO)["cases_reported"] for u in units) > 0
    for unit in units:
        for indicator in CASE_VALUES:
            row = got[(indicator, unit)]
            assert_same(row["value"], want.get(unit, ZERO)[indicator], f"{indicator} {unit}")
        ratio = got[("closure_rate", unit)]
        assert (ratio["numerator"], ratio["denominator"]) == (want.get(unit, ZERO)["cases_closed"],
                                                              want.get(unit, ZERO)["cases_due"])
        assert got[("cases_reported", unit)]["numerator"] is None


@pytest.mark.parametrize("window", WINDOWS[:2])
def test_case_indicators_for_the_city_and_by_department(real, nyc, expected_cases, window):
    start, end = utc(window[0]), utc(window[1])
    city = by_unit(compute(real, nyc, Scope.city(), "city", start, end, CASE_VALUES))
    want = pandas_case_indicators(expected_cases.assign(city="nyc"), "city", pd.Timestamp(start), pd.Timestamp(end))
    for indicator in CASE_VALUES:
        assert_same(city[(indicator, "nyc")]["value"], want["nyc"][indicator], indicator)
    # the city counts cases located in no unit too
    located = expected_cases.dropna(subset=["cd"])
    in_window = (located.reported_at >= pd.Timestamp(start)) & (located.reported_at < pd.Timestamp(end))
    assert city[("cases_reported", "nyc")]["value"] > in_window.sum()

    departments = by_unit(compute(real, nyc, Scope.city(), "department", start, end, CASE_VALUES))
    want = pandas_case_indicators(expected_cases, "department", pd.Timestamp(start), pd.Timestamp(end))
    for department, values in want.items():
        for indicator in CASE_VALUES:
            assert_same(departments[(indicator, department)]["value"], values[indicator], f"{indicator} {department}")
    assert not [k for k in departments if k[0] == "pm25_mean"]  # air quality has no department view


def test_explain_lists_the_cases_behind_a_ratio(real, nyc, expected_cases):
    start, end = utc("2019-01-01"), utc("2019-04-01")
    lineage = explain(real, nyc, Scope.city(), "closure_rate", "cd", "07 Manhattan", start, end)
    cases = expected_cases[expected_cases.cd == "07 Manhattan"]
    reported = cases[(cases.reported_at >= pd.Timestamp(start)) & (cases.reported_at < pd.Timestamp(end))]
    closed = reported[reported.closed_at <= pd.Timestamp(end)]
    due = reported[(reported.closed_at <= pd.Timestamp(end)) | (reported.due_at <= pd.Timestamp(end))]
    assert sorted(lineage["numerator"]) == sorted(closed.case_id)
    assert sorted(lineage["denominator"]) == sorted(due.case_id)
    backlog = explain(real, nyc, Scope.city(), "open_backlog", "cd", "07 Manhattan", start, end)
    assert backlog["denominator"] == [] and len(backlog["numerator"]) == compute(
        real, nyc, Scope.city(), "cd", start, end, ["open_backlog"])[[r["unit_id"] for r in compute(
            real, nyc, Scope.city(), "cd", start, end, ["open_backlog"])].index("07 Manhattan")]["value"]


# ---------------------------------------------------------------------------- air quality


@pytest.fixture(scope="module")
def expected_air(cd_units, shared_data):
    sites = pd.read_csv(shared_data / "nyc-pm25-nyccas" / "sites.csv", dtype={"site_id": str})
    sites = sites.drop_duplicates("site_id", keep="last")  # a moved site: the later row wins
    sites["cd"] = locate_cd(sites, cd_units, "latitude", "longitude")
    readings = pd.read_parquet(shared_data / "nyc-pm25-nyccas" / "pm25_hourly.parquet")
    readings = readings.dropna(subset=["pm25_ugm3"])
    readings["observed_at"] = readings.observation_time_utc.dt.tz_convert("UTC").dt.tz_localize(None)
    readings = readings.drop_duplicates(["site_id", "observed_at"], keep="last")
    return sites, readings.merge(sites[["site_id", "cd"]], on="site_id", how="left")


@pytest.mark.parametrize("window", [("2023-06-01", "2023-06-15"), ("2020-01-01", "2020-02-01")])
def test_air_indicators_per_community_district(real, nyc, expected_air, window):
    sites, readings = expected_air
    start, end = utc(window[0]), utc(window[1])
    got = by_unit(compute(real, nyc, Scope.city(), "cd", start, end, ["pm25_mean", "pm25_exceed_hours"]))
    w = readings[(readings.observed_at >= start) & (readings.observed_at < end)]
    mean = w.groupby("cd").pm25_ugm3.mean()
    hourly = w.assign(hour=w.observed_at.dt.floor("h")).groupby(["site_id", "hour", "cd"]).pm25_ugm3.mean()
    exceed = (hourly > 75).groupby(level="cd").sum()
    for unit in nyc.level("cd").units.unit_id:
        assert_same(got[("pm25_mean", unit)]["value"], mean.get(unit), f"pm25_mean {unit}")
        assert got[("pm25_exceed_hours", unit)]["value"] == int(exceed.get(unit, 0)), unit
    if window[0] == "2023-06-01":  # the Canadian wildfire smoke of 7 June 2023
        assert sum(exceed) > 0
    city = by_unit(compute(real, nyc, Scope.city(), "city", start, end, ["pm25_mean"]))
    assert_same(city[("pm25_mean", "nyc")]["value"], float(w.pm25_ugm3.mean()), "city pm25_mean")


@pytest.mark.parametrize("as_of", ["2024-11-01T00:10:00+00:00", "2021-03-15T12:14:59+00:00"])
def test_device_online_rate(real, nyc, expected_air, as_of):
    sites, readings = expected_air
    end = parse_time(as_of, "UTC")
    got = by_unit(compute(real, nyc, Scope.city(), "cd", end - dt.timedelta(hours=1), end, ["device_online_rate"]))
    recent = readings[(readings.observed_at >= end - dt.timedelta(minutes=15)) & (readings.observed_at < end)]
    online = sites.site_id.isin(recent.site_id)
    for unit in nyc.level("cd").units.unit_id:
        in_unit = sites.cd == unit
        row = got[("device_online_rate", unit)]
        want = (online & in_unit).sum() / in_unit.sum() if in_unit.sum() else None
        assert_same(row["value"], want, f"device_online_rate {unit}")
        assert row["denominator"] == (in_unit.sum() if in_unit.sum() else 0)


@pytest.mark.parametrize("window", [("2023-06-01T00:30:00", "2023-06-03T05:00:00"), ("2020-01-01", "2020-02-01")])
def test_data_completeness_per_community_district(real, nyc, expected_air, window):
    """Hourly data capture: (site, whole hour) pairs with a valid reading / sites x whole hours."""
    sites, readings = expected_air
    start, end = parse_time(window[0], "UTC"), parse_time(window[1], "UTC")
    first, last = pd.Timestamp(start).ceil("h"), pd.Timestamp(end).floor("h")
    hours = int((last - first) / pd.Timedelta(hours=1))
    w = readings[(readings.observed_at >= first) & (readings.observed_at < last)]
    captured = w.assign(hour=w.observed_at.dt.floor("h")).drop_duplicates(["site_id", "hour"]).groupby("cd").size()
    got = by_unit(compute(real, nyc, Scope.city(), "cd", start, end, ["data_completeness"]))
    for unit in nyc.level("cd").units.unit_id:
        devices = int((sites.cd == unit).sum())
        row = got[("data_completeness", unit)]
        assert row["denominator"] == devices * hours, unit
        assert row["numerator"] == int(captured.get(unit, 0)), unit
        assert_same(row["value"], captured.get(unit, 0) / (devices * hours) if devices else None, f"completeness {unit}")
    assert 0 < sum(captured) < sum(sites.cd.notna()) * hours  # some hours are missing: a real test
    inside_an_hour = compute(real, nyc, Scope.city(), "city", start, start + dt.timedelta(minutes=50), ["data_completeness"])
    assert inside_an_hour[0]["value"] is None and inside_an_hour[0]["denominator"] == 0


# ---------------------------------------------------------------------------- service halls


@pytest.mark.parametrize("window", [("2025-01-01", "2025-02-01"), ("2025-03-03T08:00", "2025-03-03T12:00")])
def test_wait_indicators_for_the_city(real, nyc, shared_data, window):
    waits = pd.read_parquet(shared_data / "ca-dmv-wait-times" / "wait_times_hourly.parquet")
    waits = waits.dropna(subset=["no_appt_wait_min"])
    waits["observed_at"] = local_to_utc(waits.captured_local, "America/Los_Angeles")
    waits = waits.drop_duplicates(["office_slug", "observed_at"], keep="last")
    start, end = utc(window[0], "America/Los_Angeles"), utc(window[1], "America/Los_Angeles")
    w = waits[(waits.observed_at >= start) & (waits.observed_at < end)].no_appt_wait_min
    assert len(w) > 0
    got = by_unit(compute(real, nyc, Scope.city(), "city", start, end, ["wait_mean_minutes", "wait_p95_minutes"]))
    assert_same(got[("wait_mean_minutes", "nyc")]["value"], float(w.mean()), "wait_mean_minutes")
    assert_same(got[("wait_p95_minutes", "nyc")]["value"], float(np.quantile(w, 0.95)), "wait_p95_minutes")
    # the DMV halls lie outside New York City: no community district has waits
    cds = compute(real, nyc, Scope.city(), "cd", start, end, ["wait_mean_minutes"])
    assert cds and all(r["value"] is None for r in cds)
