"""Every shipped mapping on the real file it is written for: nothing lost, counts as in the source."""
import pandas as pd
import pytest

from datasources.ingest import ingest_file
from tests.conftest import ROOT

M = ROOT / "mappings"


def one(store, sql):
    return store.cursor().execute(sql).fetchall()[0]


def test_nyc_pm25_sites_and_readings(store, nyc, shared_data):
    folder = shared_data / "nyc-pm25-nyccas"
    sites = ingest_file(store, nyc, "devices", folder / "sites.csv", M / "nyc_pm25_sites.toml")
    raw_sites = pd.read_csv(folder / "sites.csv")
    assert sites["accepted"] == raw_sites.site_id.nunique() == one(store, "select count(*) from devices")[0]
    # every monitor lies in a community district
    assert one(store, "select count(*) from devices where unit_ids[2] is null")[0] == 0
    readings = ingest_file(store, nyc, "sensors", folder / "pm25_hourly.parquet", M / "nyc_pm25.toml")
    raw = pd.read_parquet(folder / "pm25_hourly.parquet")
    assert readings["accepted"] == raw.pm25_ugm3.notna().sum()
    assert readings["quarantined"] == raw.pm25_ugm3.isna().sum() and readings["reasons"] == {"value missing": raw.pm25_ugm3.isna().sum()}
    stored = one(store, "select count(*), sum(value), min(observed_at) from readings")
    assert stored[0] == readings["accepted"]
    assert stored[1] == pytest.approx(raw.pm25_ugm3.sum())
    assert stored[2] == raw.observation_time_utc.min().tz_localize(None)  # UTC stays UTC


def test_beijing_stations_melt_into_one_reading_per_pollutant(store, beijing, shared_data):
    folder = shared_data / "beijing-air-quality"
    ingest_file(store, beijing, "devices", folder / "stations.csv", M / "beijing_stations.toml")
    # stations' own district column agrees with point in polygon
    stations = pd.read_csv(folder / "stations.csv", dtype=str)
    located = dict(store.cursor().execute("select device_id, unit_ids[1] from devices").fetchall())
    assert all(located[s] == d for s, d in zip(stations.station, stations.district_adcode))
    raw = pd.read_parquet(folder / "prsa_hourly.parquet").head(24 * 12 * 30)
    raw_path = store.path.parent / "month.parquet"
    raw.to_parquet(raw_path)
    summary = ingest_file(store, beijing, "sensors", raw_path, M / "beijing_air_quality.toml")
    pollutants = ["PM2.5", "PM10", "SO2", "NO2", "CO", "O3"]
    assert summary["accepted"] == int(raw[pollutants].notna().sum().sum())
    assert summary["quarantined"] == int(raw[pollutants].isna().sum().sum())
    pm25 = one(store, "select count(*), sum(value) from readings where metric = 'pm25'")
    assert pm25 == (raw["PM2.5"].notna().sum(), pytest.approx(raw["PM2.5"].sum()))
    # 2013-03-01 00:00 Beijing time = 2013-02-28 16:00 UTC
    assert str(one(store, "select min(observed_at) from readings")[0]) == "2013-02-28 16:00:00"


def test_dmv_offices_and_waits_as_hall_snapshots(store, nyc, shared_data):
    folder = shared_data / "ca-dmv-wait-times"
    halls = ingest_file(store, nyc, "halls", folder / "offices.csv", M / "dmv_offices.toml")
    assert halls["accepted"] == 188
    assert one(store, "select count(*) from halls where outside_city")[0] == 188  # California is not NYC: kept, flagged
    raw = pd.read_parquet(folder / "wait_times_hourly.parquet").head(50000)
    raw_path = store.path.parent / "waits.parquet"
    raw.to_parquet(raw_path)
    summary = ingest_file(store, nyc, "services", raw_path, M / "dmv_waits.toml")
    assert summary["accepted"] == raw.no_appt_wait_min.notna().sum()
    assert summary["reasons"] == {"neither waiting nor wait_minutes given": raw.no_appt_wait_min.isna().sum()}
    assert one(store, "select avg(wait_minutes) from hall_snapshots")[0] == pytest.approx(raw.no_appt_wait_min.mean())


def test_open311_export(store, nyc, tmp_path):
    export = tmp_path / "requests.json"
    export.write_text(pd.DataFrame([
        {"service_request_id": "r1", "service_code": "Noise - Residential", "status": "open", "description": "music",
         "requested_datetime": "2025-02-01T22:00:00-05:00", "updated_datetime": "2025-02-01T23:00:00-05:00",
         "lat": 40.74, "long": -73.99, "agency_responsible": "NYPD"},
        {"service_request_id": "r2", "service_code": "Dead Animal", "status": "closed", "description": "",
         "requested_datetime": "2025-02-02T08:00:00-05:00", "updated_datetime": "2025-02-02T12:30:00-05:00",
         "lat": 40.68, "long": -73.95, "agency_responsible": "DSNY"},
    ]).to_json(orient="records"))
    summary = ingest_file(store, nyc, "cases", export, M / "open311.toml")
    assert summary["accepted"] == 2
    rows = store.cursor().execute("select case_id, status, closed_at from cases order by 1").fetchall()
    assert [(r[0], r[1], str(r[2])) for r in rows] == [("r1", "accepted", "None"), ("r2", "closed", "2025-02-02 17:30:00")]
