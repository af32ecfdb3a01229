"""The wall's domain functions (indicators/wall.py): today's window, KPIs, anomalies."""
import datetime as dt

from indicators.wall import WALL_INDICATORS, silent_devices, today_window, wall_board, wall_pulse
from security.scope import Scope


def test_today_is_local_midnight_to_now():
    now = dt.datetime(2030, 1, 1, 17, 30)  # naive UTC = 01:30 on 2 Jan in Beijing
    start, end = today_window("Asia/Shanghai", now)
    assert start == dt.datetime(2030, 1, 1, 16, 0) and end == now
    start, _ = today_window("America/New_York", dt.datetime(2030, 7, 1, 3, 0))  # 23:00 on 30 Jun in NYC
    assert start == dt.datetime(2030, 6, 30, 4, 0)


def test_board_has_every_kpi_with_a_status_and_the_overdue_districts(console_runtime):
    rt = console_runtime
    board = wall_board(rt.store, rt.pack, Scope.city())
    assert [k["id"] for k in board["kpis"]] == list(WALL_INDICATORS)
    assert all(k["status"] in ("green", "amber", "red", None) for k in board["kpis"])
    reported = next(k for k in board["kpis"] if k["id"] == "cases_reported")
    assert reported["value"] is not None and reported["status"] is None  # a count: no city-wide target
    overdue = [r["overdue_cases"] for r in board["overdue_top"]]
    assert overdue == sorted(overdue, reverse=True) and all(overdue) and len(overdue) <= 3
    assert len(board["districts"]) == len(rt.pack.levels[0].units)


def test_silent_devices_follow_the_window_and_the_scope(console_runtime):
    rt = console_runtime
    far_future = silent_devices(rt.store, Scope.city(), as_of=dt.datetime(2100, 1, 1))
    devices = rt.store.cursor().execute("select count(*) from devices where not coalesce(outside_city, false)").fetchall()[0][0]
    assert len(far_future) == devices  # nobody has spoken in the last 15 min of 2100
    chaoyang = Scope(level_index=1, unit_ids=("110105",))
    scoped = silent_devices(rt.store, chaoyang, as_of=dt.datetime(2100, 1, 1))
    assert scoped and all(d["unit_ids"][0] == "110105" for d in scoped)


def test_pulse_lists_stalled_feeds_red_first(console_runtime):
    from settings import Settings

    always_amber = Settings.load(env={}, feed_amber_s=0, feed_red_s=10**9, case_feed_amber_s=0, case_feed_red_s=10**9)
    pulse = wall_pulse(console_runtime.store, always_amber, now=dt.datetime(2100, 1, 1))
    assert set(pulse["feeds"]) == {"cases", "sensors", "services"}
    assert pulse["stalled"] and all(s["state"] in ("amber", "red") for s in pulse["stalled"])
