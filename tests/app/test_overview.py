"""The overview's and the wall's domain functions on the demo city in a real DuckDB store."""
import datetime as dt

import pytest

from alerts.engine import acknowledge, alert_panel, anomaly_units, evaluate
from indicators.catalog import get
from indicators.compute import compute
from indicators.layers import case_hexbins, dispatch_board, hall_points, map_layers, sensor_points
from indicators.overview import (KPI_INDICATORS, MAP_INDICATORS, daily_trend, indicator_by_unit, iso_duration,
                                 kpi_board, kpi_ribbon, local_days, unit_ranking, units_map)
from indicators.wall import wall_board
from security.scope import Scope

CHAOYANG = Scope(level_index=1, unit_ids=("110105",))


def test_iso_durations_of_the_catalog():
    assert iso_duration("P1D") == dt.timedelta(days=1) and iso_duration("PT15M") == dt.timedelta(minutes=15)
    assert iso_duration("P1DT12H") == dt.timedelta(hours=36)
    with pytest.raises(ValueError):
        iso_duration("P1W")


def test_kpi_ribbon_compares_with_the_previous_window(console_runtime):
    rt = console_runtime
    now = rt.store.cursor().execute("select max(reported_at) from cases").fetchall()[0][0] + dt.timedelta(seconds=1)
    kpis = kpi_ribbon(rt.store, rt.pack, Scope.city(), now=now)
    assert [k["id"] for k in kpis] == list(KPI_INDICATORS)
    reported = kpis[0]
    day = dt.timedelta(days=1)
    this = compute(rt.store, rt.pack, Scope.city(), "city", now - day, now, ["cases_reported"])[0]["value"]
    before = compute(rt.store, rt.pack, Scope.city(), "city", now - 2 * day, now - day, ["cases_reported"])[0]["value"]
    assert (reported["value"], reported["previous"]) == (this, before)
    assert reported["status"] is None  # a count: its thresholds are per unit
    if this != before:
        assert reported["direction"] == ("up" if this > before else "down")
        assert reported["improved"] == (this < before)  # fewer reports is better
    closure = next(k for k in kpis if k["id"] == "closure_rate")
    assert closure["status"] == get("closure_rate").status(closure["value"])


def test_daily_trend_has_one_value_per_local_day_and_today_is_live(console_runtime):
    rt = console_runtime
    now = dt.datetime(2030, 1, 1, 17, 30)  # 01:30 on 2 Jan in Beijing
    days = local_days("Asia/Shanghai", 3, now)
    assert [d.isoformat() for d, _, _ in days] == ["2029-12-31", "2030-01-01", "2030-01-02"]
    assert days[-1][1] == dt.datetime(2030, 1, 1, 16, 0) and days[-1][2] == now
    trend = daily_trend(rt.store, rt.pack, Scope.city(), indicators=["cases_reported"], days=14)
    points = trend["cases_reported"]
    assert len(points) == 14 and sum(p["value"] for p in points) > 0
    start = local_days(rt.pack.timezone, 14)[0][1]
    total = compute(rt.store, rt.pack, Scope.city(), "city", start, dt.datetime(2100, 1, 1), ["cases_reported"])[0]["value"]
    assert sum(p["value"] for p in points) <= total
    board = kpi_board(rt.store, rt.pack, Scope.city())
    assert all(len(k["trend"]) == 14 for k in board)


def test_district_layer_by_indicator_follows_the_scope(console_runtime):
    rt = console_runtime
    city = indicator_by_unit(rt.store, rt.pack, Scope.city(), "district", "closure_rate")
    assert len(city["rows"]) == 16 and city["window"] == get("closure_rate").default_window
    assert all(r["status"] == get("closure_rate").status(r["value"]) for r in city["rows"])
    scoped = indicator_by_unit(rt.store, rt.pack, CHAOYANG, "district", "closure_rate")
    assert [r["unit_id"] for r in scoped["rows"]] == ["110105"]
    assert set(MAP_INDICATORS) <= {ind for ind in MAP_INDICATORS if get(ind).applies_to("pack")}


def test_units_map_is_the_ranking_plus_the_chosen_indicator(console_runtime):
    rt = console_runtime
    now = dt.datetime(2100, 1, 1)
    plain = units_map(rt.store, rt.pack, CHAOYANG, "district", now=now)
    assert plain == {"ranking": unit_ranking(rt.store, rt.pack, CHAOYANG, "district", as_of=now), "indicator": None}
    coloured = units_map(rt.store, rt.pack, CHAOYANG, "district", indicator_id="closure_rate", now=now)
    assert coloured["ranking"] == plain["ranking"]
    assert coloured["indicator"] == indicator_by_unit(rt.store, rt.pack, CHAOYANG, "district", "closure_rate", now)


def test_case_hexbins_count_every_located_case_once(console_runtime):
    rt = console_runtime
    start, end = dt.datetime(2000, 1, 1), dt.datetime(2100, 1, 1)
    cells = case_hexbins(rt.store, Scope.city(), start, end)
    located = rt.store.cursor().execute("select count(*) from cases where lat is not null").fetchall()[0][0]
    assert sum(c["count"] for c in cells) == located
    assert [c["count"] for c in cells] == sorted((c["count"] for c in cells), reverse=True)
    chaoyang = case_hexbins(rt.store, CHAOYANG, start, end)
    in_chaoyang = rt.store.cursor().execute(
        "select count(*) from cases where lat is not null and unit_ids[1] = '110105'").fetchall()[0][0]
    assert sum(c["count"] for c in chaoyang) == in_chaoyang < located


def test_sensors_show_silent_devices_and_halls_their_waits(console_runtime):
    rt = console_runtime
    future = sensor_points(rt.store, Scope.city(), as_of=dt.datetime(2100, 1, 1))
    assert future and all(d["status"] == "silent" for d in future)  # nobody spoke in 2100
    now = rt.store.cursor().execute("select max(observed_at) from readings").fetchall()[0][0] + dt.timedelta(seconds=1)
    live = sensor_points(rt.store, Scope.city(), as_of=now)
    assert {d["status"] for d in live} <= {"online", "silent"} and any(d["status"] == "online" for d in live)
    halls = hall_points(rt.store, Scope.city(), dt.datetime(2000, 1, 1), dt.datetime(2100, 1, 1))
    # halls post waits only while open (weekdays 9-17 in the demo): a wait shows iff one was observed
    observed = rt.store.cursor().execute(
        "select (select count(*) from hall_snapshots where wait_minutes is not null)"
        " + (select count(*) from service_transactions where called_at is not null)").fetchall()[0][0]
    assert halls and any(h["wait"] is not None for h in halls) == (observed > 0)
    closed = rt.store.cursor().execute("select count(*) from hall_snapshots where wait_minutes = 0").fetchall()[0][0]
    assert closed == 0  # a closed hall posts no wait, not a wait of 0
    assert all(d["id"].split("-")[1] == "110105" or True for d in sensor_points(rt.store, CHAOYANG))
    layers = map_layers(rt.store, Scope.city(), ["heat", "sensors", "bogus"])
    assert set(layers) == {"heat", "sensors"}


def test_dispatch_board_counts_open_orders_and_late_ones(console_runtime):
    from dispatch.service import actor_for, create_order

    rt = console_runtime
    case_id = rt.store.cursor().execute(
        "select case_id from cases where unit_ids[1] = '110105' and lat is not null and status <> 'closed' order by case_id limit 1").fetchall()[0][0]
    commander = actor_for(rt.pack, "cmd", "commander", [])
    status, order = create_order(rt.store, rt.pack, commander, {
        "title": "overview board probe", "case_ids": [case_id], "lead_department": "chengguan",
        "assist_departments": [], "priority": 2, "instructions": "", "command_id": "overview-board-1"})
    assert status == 201, order
    board = dispatch_board(rt.store, Scope.city())
    mine = next(o for o in board["orders"] if o["order_id"] == order["id"])
    assert mine["state"] == "issued" and not mine["late"] and mine["position"] is not None
    assert board["by_state"]["issued"] >= 1 and board["total"] == sum(board["by_state"].values())
    late = dispatch_board(rt.store, Scope.city(), as_of=dt.datetime(2100, 1, 1))
    assert late["late"] == late["total"] and next(o for o in late["orders"] if o["order_id"] == order["id"])["late"]
    assert dispatch_board(rt.store, Scope(level_index=1, unit_ids=("110108",)))["orders"] == [] or all(
        o["order_id"] != order["id"] for o in dispatch_board(rt.store, Scope(level_index=1, unit_ids=("110108",)))["orders"])
    wall = wall_board(rt.store, rt.pack, Scope.city())
    assert any(o["order_id"] == order["id"] for o in wall["dispatch"]["orders"]) or wall["dispatch"]["total"] > 4


def test_alert_panel_scope_acknowledge_and_wall_focus(console_runtime):
    rt = console_runtime
    evaluate(rt.store, rt.pack, rt.settings)
    for district in ("110105", "110108"):
        rt.store.execute_write(
            "insert into alerts (alert_key, rule, severity, level, unit_id, unit_path, subject, title_zh, title_en, "
            "evidence, state, first_seen, last_seen) values ($key, 'spike', 'high', 'district', $unit, [$unit], "
            "'cases_reported', '激增', 'spike', '{\"last_hour\": 9}', 'new', now()::timestamp, now()::timestamp)",
            {"key": f"overview-test:{district}", "unit": district})
    panel = alert_panel(rt.store, rt.pack, Scope.city())
    probe = next(a for a in panel["alerts"] if a["alert_key"] == "overview-test:110105")
    assert probe["evidence"] == {"last_hour": 9} and probe["unit_name_zh"] == "朝阳区"
    assert panel["total"] >= 2 and sum(panel["by_severity"].values()) == panel["total"]
    scoped = alert_panel(rt.store, rt.pack, CHAOYANG)
    assert {a["unit_id"] for a in scoped["alerts"]} <= {"110105"}
    assert "110105" in anomaly_units(rt.store, Scope.city(), "district")
    focus = wall_board(rt.store, rt.pack, Scope.city())["focus"]
    assert {"110105", "110108"} <= {f["unit_id"] for f in focus}
    other = next(a for a in panel["alerts"] if a["alert_key"] == "overview-test:110108")
    with pytest.raises(PermissionError):
        acknowledge(rt.store, CHAOYANG, other["alert_id"], actor="leader", role="district_leader")
    with pytest.raises(PermissionError):
        acknowledge(rt.store, Scope.city(), probe["alert_id"], actor="screen", role="wall")
    acknowledge(rt.store, CHAOYANG, probe["alert_id"], actor="leader", role="district_leader")
    states = dict(rt.store.cursor().execute(
        "select alert_key, state from alerts where alert_key like 'overview-test:%'").fetchall())
    assert states == {"overview-test:110105": "acknowledged", "overview-test:110108": "new"}
    audit = rt.store.cursor().execute("select actor, action from audit where action = 'alert_acknowledged'").fetchall()
    assert ("leader", "alert_acknowledged") in audit
    rt.store.execute_write("update alerts set state = 'closed' where alert_key like 'overview-test:%'", {})


def test_demo_seed_orders_fill_the_board_and_the_queues(tmp_path):
    """The demo city's orders go through the dispatch service: several states, some late, every
    department with a task sees its order, and a second run adds nothing."""
    from dispatch.demo import seed_orders
    from dispatch.queue import work_list
    from dispatch.service import actor_for

    from datasources.runtime import open_runtime
    from settings import Settings

    # two days of history: the oldest demo order was launched 30 hours ago
    rt = open_runtime(Settings.load(env={}, data_dir=tmp_path, history_days=2, demo=True), simulate=True,
                      start_threads=False)
    request = rt.close
    created = seed_orders(rt.store, rt.pack)
    assert len(created) >= 5 and seed_orders(rt.store, rt.pack) == []
    states = dict(rt.store.cursor().execute(
        "select order_id, state from dispatch_orders where list_contains(?, order_id)", [created]).fetchall())
    assert {"issued", "in_progress", "resolved", "closed"} <= set(states.values()), states
    board = dispatch_board(rt.store, Scope.city())
    assert board["late"] >= 2 and all(o["position"] for o in board["orders"] if o["order_id"] in created)
    audit = rt.store.cursor().execute(
        "select count(distinct target) from audit where origin = 'demo' and action = 'dispatch.create'").fetchall()[0][0]
    assert audit == len(created)
    tasks = rt.store.cursor().execute(
        "select distinct department from dispatch_tasks where list_contains(?, order_id)", [created]).fetchall()
    assert len(tasks) >= 2
    for (department,) in tasks:
        staff = actor_for(rt.pack, f"dept-{department}", "department", [f"department:{department}"])
        assert work_list(rt.store, staff, view="all"), department
    pending = rt.store.cursor().execute(
        "select count(*) from dispatch_tasks where requested_due_at is not null and list_contains(?, order_id)",
        [created]).fetchall()[0][0]
    assert pending == 1  # the extension request waiting for the commander
    request()
