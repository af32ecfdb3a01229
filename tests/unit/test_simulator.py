"""The simulator's constants are facts of the real data in ../shared/data, and it reproduces them."""
import datetime as dt
import math

import numpy as np
import pandas as pd

from datasources import simulator
from datasources.simulator import Simulator


def test_pm25_calibration_matches_the_beijing_stations(shared_data):
    frame = pd.read_parquet(shared_data / "beijing-air-quality" / "prsa_hourly.parquet", columns=["station", "PM2.5"])
    logs = np.log(frame["PM2.5"].dropna().clip(lower=1))
    assert abs(logs.std() - simulator.PM25_LOG_SD) < 0.02
    one = frame[frame.station == frame.station.iloc[0]]["PM2.5"].interpolate().clip(lower=1)
    assert abs(np.log(one).autocorr(1) - simulator.PM25_AR1) < 0.01
    assert abs(frame["PM2.5"].median() - 55) < 1


def test_wait_calibration_matches_the_dmv_offices(shared_data):
    frame = pd.read_parquet(shared_data / "ca-dmv-wait-times" / "wait_times_hourly.parquet")
    walk_in = frame.no_appt_wait_min.dropna()
    assert abs(walk_in.median() - simulator.WAIT_WALKIN[0]) < 1
    assert abs(math.log(walk_in.quantile(0.95) / walk_in.median()) / 1.645 - simulator.WAIT_WALKIN[1]) < 0.02


def test_simulated_readings_have_the_calibrated_shape(beijing, store):
    sim = Simulator(store, beijing, seed=3, clock=lambda: dt.datetime(2026, 3, 10))
    hours = pd.date_range("2026-01-01", "2026-03-01", freq="h")
    readings = sim.make_readings(hours, dt.datetime(2026, 3, 10))
    pm25 = readings[readings.metric == "pm25"]
    logs = np.log(pm25.value)
    assert abs(logs.std() - simulator.PM25_LOG_SD) < 0.25
    assert abs(pm25.value.median() - simulator.PM25_MEDIAN) / simulator.PM25_MEDIAN < 0.3
    assert set(readings.device_id) == set(beijing.devices.device_id)


def test_live_steps_write_cases_readings_and_snapshots(beijing, store):
    clock = [dt.datetime(2026, 3, 10, 2, 0)]  # 10:00 in Beijing, a Tuesday
    sim = Simulator(store, beijing, seed=5, clock=lambda: clock[0])
    sim.backfill(2)
    before = store.data_version
    counts = store.cursor().execute("select count(*) from cases").fetchall()[0][0]
    assert counts > 2000
    clock[0] += dt.timedelta(minutes=30)
    sim.step()
    assert store.data_version > before
    health = store.cursor().execute("select feed, last_record_at from feed_stats order by feed").fetchall()
    newest = dict(health)
    assert newest["sensors"] >= clock[0] - dt.timedelta(minutes=1)
    assert newest["services"] >= clock[0] - dt.timedelta(minutes=1)
    assert store.cursor().execute("select count(*) from cases").fetchall()[0][0] > counts
    # silent devices stopped reporting two hours ago
    silent = sorted(sim.silent_devices)
    last = store.cursor().execute(
        "select max(observed_at) from readings where device_id = ?", [silent[0]]).fetchall()[0][0]
    assert last < clock[0] - dt.timedelta(hours=2)
