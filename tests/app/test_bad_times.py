"""Issue #20 item 5: one bad time sinks neither a batch nor the reads.

A time outside the time domain (settings time_min_year/time_max_year) quarantines its record only,
on every path (HTTP push, CLI ingest, Redis bus); `quarantine reprocess` takes any payload shape;
time query parameters outside the domain are 400; a legacy year-1 or BC time already in a store
does not fail spots, compare=1, Open311 lists or the wall board. Real DuckDB, real Redis, the real
Flask/Dash app.
"""
from __future__ import annotations

import datetime as dt
import json
import threading
import time

import pandas as pd
import pytest
import redis

import cli
from datasources import ingest
from datasources.bus import FIELD, RedisStreamBus
from datasources.mapping import Mapping
from datasources.runtime import sync_pack
from security.scope import Scope
from security.tokens import issue_token
from tests.conftest import BEIJING

NOW = dt.datetime.now(dt.UTC).replace(tzinfo=None)
DOMAIN_REASON = "reported_at 9999-06-01T08:00:00+08:00 is outside the time domain (years 1970-2100)"


def batch(prefix: str, n: int = 100, bad_at: int = 37) -> list[dict]:
    """n valid Beijing cases of the last day; record `bad_at` reported in year 9999."""
    records = [
        {"case_id": f"{prefix}-{i}", "category": "noise", "lat": 39.90 + (i % 50) * 0.001, "lon": 116.40,
         "reported_at": (NOW - dt.timedelta(hours=2, minutes=i)).isoformat(timespec="seconds") + "Z"}
        for i in range(n)
    ]
    records[bad_at]["reported_at"] = "9999-06-01T08:00:00+08:00"
    return records


def stored(store, prefix: str) -> int:
    return store.cursor().execute("select count(*) from cases where case_id like $p", {"p": prefix + "-%"}).fetchall()[0][0]


def quarantined(store, prefix: str) -> list[tuple[str, str]]:
    rows = store.cursor().execute("select raw, reason from quarantine where raw like $p and not reprocessed",
                                  {"p": f'%"{prefix}-%'}).fetchall()
    return [(json.loads(raw), reason) for raw, reason in rows]


@pytest.fixture(scope="module")
def app_env(tmp_path_factory, beijing):
    from app import create_app
    from datasources.runtime import Runtime
    from datasources.store import Store
    from datasources.timedomain import TimeDomain
    from settings import Settings

    data_dir = tmp_path_factory.mktemp("times")
    settings = Settings.load(env={}, city=beijing.root, data_dir=data_dir, demo=True)
    store = Store(settings.db_path)
    store.time_domain = TimeDomain.from_settings(settings)
    sync_pack(store, beijing)
    runtime = Runtime(settings, beijing, store)
    app = create_app(runtime)
    token, commander = issue_token(store, "ops", "admin"), issue_token(store, "chief", "commander")
    yield {"client": app.server.test_client(), "store": store, "pack": beijing, "runtime": runtime,
           "headers": {"Authorization": f"Bearer {token}"}, "commander": {"Authorization": f"Bearer {commander}"}}
    store.close()


# ---------------------------------------------------------------------------- one bad record, three paths


def test_push_api_quarantines_the_year_9999_record_and_stores_the_other_99(app_env):
    response = app_env["client"].post("/api/v1/cases", data=json.dumps(batch("api")), headers=app_env["headers"],
                                      content_type="application/json")
    body = response.get_json()
    assert response.status_code == 200, body
    assert (body["accepted"], body["quarantined"]) == (99, 1)
    assert body["errors"] == [{"index": 37, "reason": DOMAIN_REASON}]
    assert stored(app_env["store"], "api") == 99
    [(raw, reason)] = quarantined(app_env["store"], "api")
    assert raw["case_id"] == "api-37" and reason == DOMAIN_REASON


def test_cli_ingest_quarantines_the_year_9999_record_and_stores_the_other_99(tmp_path, capsys):
    source = tmp_path / "cases.json"
    source.write_text(json.dumps(batch("cli")))
    data_dir = tmp_path / "data"
    assert cli.main(["ingest", "cases", str(source), "--city", str(BEIJING), "--data-dir", str(data_dir)]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert (summary["accepted"], summary["quarantined"]) == (99, 1)
    assert summary["reasons"] == {DOMAIN_REASON: 1}
    from datasources.store import Store

    store = Store(data_dir / "citybrain.duckdb")
    try:
        assert stored(store, "cli") == 99
        assert [raw["case_id"] for raw, _ in quarantined(store, "cli")] == ["cli-37"]
    finally:
        store.close()


def test_a_narrower_domain_from_the_environment_reaches_the_cli(tmp_path, capsys, monkeypatch):
    source = tmp_path / "cases.json"
    records = batch("env", n=3, bad_at=0)
    records[0]["reported_at"] = "2025-01-01T08:00:00+08:00"  # inside the default domain, before 2026
    source.write_text(json.dumps(records))
    monkeypatch.setenv("CITYBRAIN_TIME_MIN_YEAR", "2026")
    assert cli.main(["ingest", "cases", str(source), "--city", str(BEIJING), "--data-dir", str(tmp_path / "d")]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["quarantined"] == 1
    assert list(summary["reasons"]) == ["reported_at 2025-01-01T08:00:00+08:00 is outside the time domain (years 2026-2100)"]


def test_redis_bus_quarantines_only_the_year_9999_record_of_its_entry(redis_server, store, beijing):
    url = redis_server.rsplit("/", 1)[0] + "/7"  # a database of its own (see tests/app/test_streams.py)
    redis.Redis.from_url(url).flushdb()
    sync_pack(store, beijing)
    bus = RedisStreamBus(url, claim_idle_ms=0)
    bus.publish("cases", batch("bus"))
    assert redis.Redis.from_url(url).xlen(bus.stream("cases")) == 1  # the 100 records travel in one entry
    stop = threading.Event()
    consumer = threading.Thread(target=bus.consume, args=(store, beijing, stop), kwargs={"block_ms": 200}, daemon=True)
    consumer.start()
    try:
        deadline = time.monotonic() + 30
        while bus.backlog() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert bus.backlog() == 0, "the entry was not acknowledged"
    finally:
        stop.set()
        consumer.join(timeout=15)
        bus.close()
    assert stored(store, "bus") == 99
    [(raw, reason)] = quarantined(store, "bus")
    assert raw["case_id"] == "bus-37" and reason == DOMAIN_REASON


# ---------------------------------------------------------------------------- reprocess any shape


def test_reprocess_takes_every_quarantined_shape_and_keeps_what_is_still_bad(tmp_path, capsys, beijing):
    from datasources.store import Store

    data_dir = tmp_path / "data"
    store = Store(data_dir / "citybrain.duckdb")
    try:
        sync_pack(store, beijing)
        good = batch("rq", n=3, bad_at=0)
        good[0]["reported_at"] = good[1]["reported_at"]
        odd = [
            ("7", "record is not a JSON object"),                                   # a bare number
            ('"just text"', "record is not a JSON object"),                          # a bare string
            ("null", "record is not a JSON object"),
            ("{not json", "bad JSON: Expecting property name"),                     # an entry that was not JSON
            ("[1, 2]", "'records' is not a JSON array"),
            (json.dumps({"case_id": 5, "reported_at": 12, "category": None, "lat": {"x": [1]}, "lon": [1, 2]}),
             "bad reported_at 12"),                                                # ints, nulls, nested values
            (json.dumps({"case_id": "rq-odd", "reported_at": "not a time", "category": "noise"}), "bad reported_at x"),
            (json.dumps({"case_id": "rq-old", "reported_at": "0001-01-01T00:00:00", "category": "noise"}),
             "reported_at 0001-01-01T00:00:00 is outside the time domain (years 1970-2100)"),
            (json.dumps(good[:2]), "ingest failed: ValueError: something"),       # a whole bus entry
            (json.dumps(good[2]), "unknown category noise"),                       # fixed since (the pack learnt it)
        ]
        for raw, reason in odd:
            store.apply("cases", "cases", None, [(raw, reason)], origin="test")
    finally:
        store.close()
    argv = ["quarantine", "reprocess", "cases", "--city", str(BEIJING), "--data-dir", str(data_dir)]
    assert cli.main(argv) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["unreadable"] == 5  # bare values, not-JSON: they stay as they are
    assert summary["accepted"] == 3  # the entry's two records and the fixed one
    assert summary["quarantined"] == 3
    store = Store(data_dir / "citybrain.duckdb")
    try:
        assert stored(store, "rq") == 3
        pending = store.cursor().execute(
            "select raw, reason from quarantine where not reprocessed order by quarantine_id").fetchall()
        reasons = {reason for _, reason in pending}
        # still bad: each keeps a row with its reason; the same reason does not gain a copy
        assert "reported_at 0001-01-01T00:00:00 is outside the time domain (years 1970-2100)" in reasons
        assert sum(r == "reported_at 0001-01-01T00:00:00 is outside the time domain (years 1970-2100)"
                   for _, r in pending) == 1
        assert "bad reported_at not a time" in reasons and "bad reported_at 12" in reasons
        assert {"7", '"just text"', "null", "{not json", "[1, 2]"} <= {raw for raw, _ in pending}
        # the entry and the fixed record left the queue
        assert not {"ingest failed: ValueError: something", "unknown category noise"} & reasons
    finally:
        store.close()
    assert cli.main(argv) == 0  # a second run changes nothing and still does not crash
    again = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert (again["accepted"], again["reprocessed"], again["unreadable"]) == (0, 0, 5)


# ---------------------------------------------------------------------------- query parameters


BAD_TIMES = ["9999-12-31T23:59:59-14:00", "0001-01-01", "-0044-03-15", "1900-01-01", "2300-01-01", "yesterday",
             "2026-02-30", "1e400"]


@pytest.mark.parametrize("path", [
    "/api/v1/indicators?level=district&start={t}&end=2026-01-02",
    "/api/v1/indicators?level=district&start=2026-01-01&end={t}&compare=1",
    "/api/v1/spots?start={t}&end=2026-01-02",
    "/api/v1/audit?since={t}",
    "/api/v1/dispatch-orders?since={t}",
    "/api/v1/dispatch-metrics?until={t}",
    "/api/v1/dispatch-metrics?since={t}",
    "/api/v1/dispatch-webhook-deliveries?since={t}",
])
def test_bad_or_out_of_range_time_parameters_are_400(app_env, path):
    for text in BAD_TIMES:
        response = app_env["client"].get(path.format(t=text), headers=app_env["headers"])
        assert response.status_code == 400, (text, response.get_data(as_text=True))
        assert response.get_json()["error"]


def test_open311_dates_and_dispatch_due_at_out_of_range_are_400(app_env):
    client = app_env["client"]
    for text in BAD_TIMES:
        response = client.get(f"/open311/v2/requests.json?start_date={text}")
        assert response.status_code == 400, text
    client.post("/api/v1/cases", json=batch("dsp", n=2, bad_at=1), headers=app_env["headers"])
    body = {"title": "t", "case_ids": ["dsp-0"], "lead_department": "chengguan", "due_at": "9999-12-31T23:59:59-14:00"}
    response = client.post("/api/v1/dispatch-orders", json=body, headers=app_env["commander"])
    assert response.status_code == 400 and "outside the time domain" in response.get_json()["error"]


def test_the_edges_of_the_domain_are_still_fine(app_env):
    ok = app_env["client"].get("/api/v1/indicators?level=district&start=1970-01-01&end=2101-01-01",
                               headers=app_env["headers"])
    assert ok.status_code == 200, ok.get_json()


# ---------------------------------------------------------------------------- stored extremes do not poison reads


def test_stored_year_1_and_bc_cases_do_not_fail_spots_compare_open311_or_the_wall(app_env):
    from indicators.wall import wall_board

    store, pack = app_env["store"], app_env["pack"]
    # Written past the ingest checks, as a store filled before the domain existed would hold them.
    legacy = pd.DataFrame([{"case_id": f"legacy-{i}", "category": "noise", "lat": 39.9, "lon": 116.4,
                            "source": "open311",  # public on Open311
                            "reported_at": (NOW - dt.timedelta(hours=3)).isoformat()} for i in range(3)])
    mapped = Mapping().apply(legacy, ingest.CANONICAL["cases"])
    normalized, reasons = ingest.normalize_cases(store, pack, mapped, Mapping(), NOW)
    assert not reasons.bad.any()
    normalized.loc[0, "reported_at"] = pd.Timestamp("0001-01-01")
    normalized.loc[1, "due_at"] = pd.Timestamp("-0044-03-15")
    normalized.loc[2, "reported_at"] = pd.Timestamp("-0044-03-15")
    store.apply("cases", "cases", ingest._to_arrow(normalized), [], origin="legacy")
    assert store.cursor().execute("select count(*) from cases where reported_at < '1000-01-01'").fetchall()[0][0] == 2

    client, headers = app_env["client"], app_env["headers"]
    start, end = (NOW - dt.timedelta(days=2)).date().isoformat(), (NOW + dt.timedelta(days=1)).date().isoformat()
    for path in (f"/api/v1/spots?start={start}&end={end}",
                 f"/api/v1/indicators?level=district&start={start}&end={end}&compare=1",
                 f"/api/v1/indicators?level=district&start={start}&end={end}",
                 "/api/v1/cases?limit=1000", "/open311/v2/requests.json?service_request_id=legacy-1"):
        response = client.get(path, headers=headers)
        assert response.status_code == 200, (path, response.get_data(as_text=True)[:300])
    requests = client.get("/open311/v2/requests.json?service_request_id=legacy-1").get_json()
    assert requests[0]["expected_datetime"].startswith("1970-01-01")  # clamped to the domain, not a crash

    board = wall_board(store, pack, Scope.city())
    assert sum(d["open_cases"] for d in board["districts"]) >= 3
    payload = {
        "output": "..wall-kpis.children...wall-alerts-data.children...wall-kpis-title.children...wall-map-title.children"
                  "...wall-alerts-title.children...wall-dispatch-title.children...wall-dispatch-body.children"
                  "...wall-focus.data..",
        "outputs": [{"id": i, "property": p} for i, p in (
            ("wall-kpis", "children"), ("wall-alerts-data", "children"), ("wall-kpis-title", "children"),
            ("wall-map-title", "children"), ("wall-alerts-title", "children"), ("wall-dispatch-title", "children"),
            ("wall-dispatch-body", "children"), ("wall-focus", "data"))],
        "inputs": [{"id": "data-version", "property": "data", "value": store.data_version},
                   {"id": "url", "property": "search", "value": "?lang=en"}],
        "changedPropIds": ["data-version.data"], "state": [],
    }
    response = client.post("/_dash-update-component", json=payload)
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    assert response.get_json()["response"]["wall-kpis"]["children"]


def test_the_cases_page_says_a_bad_window_in_its_address_instead_of_failing(app_env):
    client = app_env["client"]
    for start, end in (("0001-01-01", "2026-01-02"), ("2026-01-01", "9999-12-31T23:59:59-14:00"), ("soon", "later")):
        page = client.get(f"/unit/district/110105/cases?start={start}&end={end}&lang=en")
        assert page.status_code == 200
        context = {"level": "district", "unit_id": "110105", "indicator": "cases_reported", "part": "numerator",
                   "start": start, "end": end, "lang": "en"}
        payload = {
            "output": "..drill-crumbs.children...drill-title.children...drill-subtitle.children...drill-export.children"
                      "...drill-grid.columnDefs...drill-grid.rowData..",
            "outputs": [{"id": i, "property": p} for i, p in (
                ("drill-crumbs", "children"), ("drill-title", "children"), ("drill-subtitle", "children"),
                ("drill-export", "children"), ("drill-grid", "columnDefs"), ("drill-grid", "rowData"))],
            "inputs": [{"id": "drill-context", "property": "data", "value": context},
                       {"id": "url", "property": "search", "value": "?lang=en"}],
            "changedPropIds": ["drill-context.data"], "state": [],
        }
        response = client.post("/_dash-update-component", json=payload)
        assert response.status_code == 200, response.get_data(as_text=True)[:300]
        body = response.get_json()["response"]
        assert body["drill-title"]["children"] == "The time window in the address is not a date or is out of range"
        assert body["drill-grid"]["rowData"] == []
