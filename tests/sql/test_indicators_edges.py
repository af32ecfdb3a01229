"""Indicator edge cases on a tiny hand-made store (NYC pack): empty ratios, cases without a unit,
cases closed before the window, a closure arriving late, transactions pooled with snapshots, the
CLI and the HTTP endpoint."""
from __future__ import annotations

import csv
import datetime as dt
import json
from pathlib import Path

import pytest

from datasources.ingest import ingest_file
from datasources.runtime import sync_pack
from indicators.catalog import catalog, load, validate
from indicators.compute import IndicatorError, compute, parse_time, to_csv
from security.scope import Scope
from tests.conftest import run_cli

START, END = dt.datetime(2024, 3, 1, 5), dt.datetime(2024, 3, 8, 5)  # local midnights in New York
FIELDS = ["case_id", "category", "reported_at", "due_at", "closed_at", "status", "unit.cd", "department"]
CASES = [
    # on time in Brooklyn 05
    {"case_id": "A", "reported_at": "2024-03-02T10:00Z", "due_at": "2024-03-05T10:00Z", "closed_at": "2024-03-03T10:00Z",
     "unit.cd": "05 Brooklyn"},
    # no unit at all: counts for the city only
    {"case_id": "B", "reported_at": "2024-03-02T11:00Z", "due_at": "2024-03-20T00:00Z"},
    # reported and closed before the window: in nothing
    {"case_id": "C", "reported_at": "2024-02-01T10:00Z", "due_at": "2024-02-04T10:00Z", "closed_at": "2024-02-02T10:00Z",
     "unit.cd": "05 Brooklyn"},
    # reported in the window, still open and overdue at as-of
    {"case_id": "D", "reported_at": "2024-03-03T10:00Z", "due_at": "2024-03-04T10:00Z", "unit.cd": "05 Brooklyn"},
    # reported before the window, open at as-of: backlog only
    {"case_id": "E", "reported_at": "2024-01-03T10:00Z", "due_at": "2024-12-04T10:00Z", "unit.cd": "05 Brooklyn"},
]


def write_cases(path: Path, records: list[dict]) -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, FIELDS)
        writer.writeheader()
        for record in records:
            writer.writerow({"category": "Noise - Residential", "department": "NYPD",
                             "status": "closed" if record.get("closed_at") else "accepted", **record})
    return path


@pytest.fixture
def tiny(store, nyc, tmp_path):
    sync_pack(store, nyc)
    summary = ingest_file(store, nyc, "cases", write_cases(tmp_path / "cases.csv", CASES))
    assert summary["accepted"] == len(CASES), summary
    return store


def values(store, pack, level, indicators=None, start=START, end=END):
    return {(r["indicator"], r["unit_id"]): r for r in compute(store, pack, Scope.city(), level, start, end, indicators)}


def test_catalog_entries_have_definitions_and_bilingual_names():
    assert catalog()
    for ind in catalog():
        assert ind.definition.strip() and ind.name_zh.strip() and ind.name_en.strip(), ind.id
        assert ind.better in ("up", "down") and ind.unit
    assert {"cases_reported", "cases_closed", "cases_due", "closure_rate", "on_time_closure_rate", "open_backlog",
            "overdue_open", "median_close_hours", "pm25_mean", "pm25_exceed_hours", "device_online_rate",
            "wait_mean_minutes", "wait_p95_minutes"} <= {ind.id for ind in catalog()}
    problems = validate([{"id": "x", "name_en": "X", "definition": ""}])
    assert any("name_zh" in p for p in problems) and any("definition" in p for p in problems)


def test_catalog_thresholds_colour_values():
    closure = next(i for i in load() if i.id == "closure_rate")
    assert [closure.status(v) for v in (0.99, 0.9, 0.5, None)] == ["green", "amber", "red", None]


def test_edges_unit_city_before_window_and_zero_denominators(tiny, nyc):
    cd = values(tiny, nyc, "cd")
    brooklyn = {k[0]: v["value"] for k, v in cd.items() if k[1] == "05 Brooklyn"}
    assert brooklyn["cases_reported"] == 2  # A, D (C is before the window, B has no unit)
    assert brooklyn["cases_closed"] == 1 and brooklyn["cases_due"] == 2
    assert brooklyn["closure_rate"] == 0.5 and brooklyn["on_time_closure_rate"] == 0.5
    assert brooklyn["open_backlog"] == 2 and brooklyn["overdue_open"] == 1  # D and E; D overdue
    assert brooklyn["median_close_hours"] == 24.0
    empty = {k[0]: v for k, v in cd.items() if k[1] == "01 Manhattan"}
    assert empty["cases_reported"]["value"] == 0
    assert empty["closure_rate"]["value"] is None and empty["closure_rate"]["denominator"] == 0
    assert empty["median_close_hours"]["value"] is None
    assert empty["pm25_mean"]["value"] is None and empty["device_online_rate"]["value"] is None
    assert empty["wait_p95_minutes"]["value"] is None
    city = {k[0]: v["value"] for k, v in values(tiny, nyc, "city").items()}
    assert city["cases_reported"] == 3 and city["open_backlog"] == 3  # B counts for the city
    csv_text = to_csv(compute(tiny, nyc, Scope.city(), "cd", START, END, ["closure_rate"]))
    assert csv_text.splitlines()[0] == "indicator,level,unit_id,value,numerator,denominator"
    assert "closure_rate,cd,01 Manhattan,,0,0" in csv_text.splitlines()


def test_a_late_closure_moves_the_values(tiny, nyc, tmp_path):
    before = values(tiny, nyc, "cd", ["cases_closed", "open_backlog", "overdue_open", "closure_rate"])
    late = [{"case_id": "D", "reported_at": "2024-03-03T10:00Z", "due_at": "2024-03-04T10:00Z",
             "closed_at": "2024-03-06T10:00Z", "unit.cd": "05 Brooklyn"}]
    summary = ingest_file(tiny, nyc, "cases", write_cases(tmp_path / "late.csv", late))
    assert summary["updated"] == 1, summary
    after = values(tiny, nyc, "cd", ["cases_closed", "open_backlog", "overdue_open", "closure_rate", "on_time_closure_rate"])
    key = lambda ind: (ind, "05 Brooklyn")  # noqa: E731
    assert after[key("cases_closed")]["value"] == before[key("cases_closed")]["value"] + 1
    assert after[key("open_backlog")]["value"] == before[key("open_backlog")]["value"] - 1
    assert after[key("overdue_open")]["value"] == 0
    assert after[key("closure_rate")]["value"] == 1.0
    assert after[key("on_time_closure_rate")]["value"] == 0.5  # D closed after its due time
    # as of a time before the closure, nothing moved
    earlier = values(tiny, nyc, "cd", ["cases_closed"], end=dt.datetime(2024, 3, 5))
    assert earlier[key("cases_closed")]["value"] == 1


def test_transactions_and_snapshots_pool_into_waits(store, nyc, tmp_path):
    sync_pack(store, nyc)
    halls = tmp_path / "halls.csv"
    halls.write_text("hall_id,name_en,lat,lon\nh1,Hall 1,40.6782,-73.9442\n")
    ingest_file(store, nyc, "halls", halls)
    services = tmp_path / "services.csv"
    services.write_text("hall_id,ticket_at,called_at,observed_at,wait_minutes\n"
                        "h1,2024-03-02T10:00Z,2024-03-02T10:10Z,,\n"
                        "h1,2024-03-02T11:00Z,2024-03-02T11:30Z,,\n")
    snapshots = tmp_path / "snapshots.csv"
    snapshots.write_text("hall_id,observed_at,wait_minutes\nh1,2024-03-02T12:00Z,20\nh1,2024-03-09T12:00Z,99\n")
    ingest_file(store, nyc, "services", services)
    ingest_file(store, nyc, "services", snapshots)
    city = values(store, nyc, "city", ["wait_mean_minutes", "wait_p95_minutes"])
    assert city[("wait_mean_minutes", "nyc")]["value"] == pytest.approx(20.0)  # 10, 30, 20
    assert city[("wait_p95_minutes", "nyc")]["value"] == pytest.approx(29.0)  # linear: 20 + 0.9 * 10


def test_parse_time_reads_naive_values_in_the_city_zone():
    assert parse_time("2024-03-01", "America/New_York") == dt.datetime(2024, 3, 1, 5)
    assert parse_time("2024-07-01T08:00", "America/New_York") == dt.datetime(2024, 7, 1, 12)
    assert parse_time("2024-03-01T08:00+08:00", "America/New_York") == dt.datetime(2024, 3, 1, 0)
    with pytest.raises(IndicatorError):
        parse_time("yesterday", "UTC")


def test_bad_requests_are_refused(tiny, nyc):
    with pytest.raises(IndicatorError):
        compute(tiny, nyc, Scope.city(), "galaxy", START, END)
    with pytest.raises(IndicatorError):
        compute(tiny, nyc, Scope.city(), "cd", START, END, ["no_such_indicator"])
    with pytest.raises(IndicatorError):
        compute(tiny, nyc, Scope.city(), "cd", END, START)


def test_cli_list_compute_explain(tmp_path, nyc):
    data_dir = tmp_path / "data"

    def run(*args):
        out = run_cli(*args, "--city", nyc.root, "--data-dir", data_dir)
        assert out.returncode == 0, out.stderr
        return out.stdout

    cases = write_cases(tmp_path / "cases.csv", CASES)
    run("ingest", "cases", str(cases))
    listed = [json.loads(line) for line in run("indicators", "list").splitlines()]
    assert {"id", "name_zh", "name_en", "unit", "definition"} <= set(listed[0])
    text = run("indicators", "compute", "--level", "cd", "--start", "2024-03-01", "--end", "2024-03-08",
               "--indicators", "cases_reported,closure_rate")
    lines = text.splitlines()
    assert lines[0] == "indicator,level,unit_id,value,numerator,denominator"
    assert "cases_reported,cd,05 Brooklyn,2,," in lines and "closure_rate,cd,05 Brooklyn,0.5,1,2" in lines
    rows = json.loads(run("indicators", "compute", "--level", "city", "--start", "2024-03-01T00:00-05:00",
                          "--end", "2024-03-08", "--format", "json", "--indicators", "cases_reported"))
    assert rows == [{"indicator": "cases_reported", "level": "city", "unit_id": "nyc", "value": 3,
                     "numerator": None, "denominator": None}]
    lineage = json.loads(run("indicators", "explain", "--indicator", "closure_rate", "--level", "cd",
                             "--unit", "05 Brooklyn", "--start", "2024-03-01", "--end", "2024-03-08"))
    assert lineage == {"numerator": ["A"], "denominator": ["A", "D"]}
    found = json.loads(run("indicators", "spots", "--level", "cd", "--start", "2024-03-01", "--end", "2024-03-08"))
    assert found["level"] == "cd" and found["end"].startswith("2024-03-08")
    assert set(found) >= {"hot", "blind", "hot_by_department", "blind_by_department", "options"}


def test_http_indicators_endpoint(console_runtime, console_client):
    from security.tokens import issue_token

    token = issue_token(console_runtime.store, "indicator-reader", "wall")
    headers = {"Authorization": f"Bearer {token}"}
    assert console_client.get("/api/v1/indicators?level=city&start=2020-01-01&end=2030-01-01").status_code == 401
    answer = console_client.get("/api/v1/indicators?level=district&start=2020-01-01&end=2030-01-01"
                                "&indicators=cases_reported,closure_rate", headers=headers)
    assert answer.status_code == 200, answer.get_json()
    body = answer.get_json()
    assert body["next"] is None and body["rows"]
    assert set(body["rows"][0]) == {"indicator", "level", "unit_id", "value", "numerator", "denominator"}
    assert {r["indicator"] for r in body["rows"]} == {"cases_reported", "closure_rate"}
    for bad in ("level=galaxy&start=2020-01-01&end=2030-01-01", "level=city&start=nope&end=2030-01-01",
                "level=city&end=2030-01-01", "level=city&start=2020-01-01&end=2030-01-01&indicators=zzz"):
        answer = console_client.get(f"/api/v1/indicators?{bad}", headers=headers)
        assert answer.status_code == 400 and "error" in answer.get_json(), bad
    scoped = issue_token(console_runtime.store, "chaoyang-leader", "district_leader", ["district:110105"])
    rows = console_client.get("/api/v1/indicators?level=district&start=2020-01-01&end=2030-01-01"
                              "&indicators=cases_reported", headers={"Authorization": f"Bearer {scoped}"}).get_json()["rows"]
    assert [r["unit_id"] for r in rows] == ["110105"]
    # hot and blind spots: the scope applies (a district leader sees only the district's cells)
    city = console_client.get("/api/v1/spots?start=2020-01-01&end=2030-01-01", headers=headers)
    assert city.status_code == 200 and city.get_json()["level"] == "district"
    mine = console_client.get("/api/v1/spots?start=2020-01-01&end=2030-01-01",
                              headers={"Authorization": f"Bearer {scoped}"}).get_json()
    assert mine["level"] == "grid"
    cells = {u for (u,) in console_runtime.store.cursor().execute(
        "select unit_id from units where level = 'grid' and parent_id = '110105'").fetchall()}
    assert mine["blind"] and {s["unit_id"] for s in mine["blind"] + mine["hot"]} <= cells
    assert console_client.get("/api/v1/spots?start=2020-01-01", headers=headers).status_code == 400
    assert console_client.get("/api/v1/spots?start=2020-01-01&end=2030-01-01&level=galaxy", headers=headers).status_code == 400
    assert "/api/v1/indicators" in console_client.get("/api/v1/openapi.json").get_json()["paths"]
