"""The push API under /api/v1: bearer tokens, per-record errors, malformed bodies never 5xx, OpenAPI.

Real DuckDB file, real Flask test client on the real Dash app (built once for this module).
"""
import json
import re

import pytest
from hypothesis import HealthCheck, given, settings as hsettings
from hypothesis import strategies as st

from datasources.ingest import CANONICAL
from security.tokens import issue_token, revoke_token, verify_token

CASE = {"case_id": "API-1", "category": "manhole_cover", "reported_at": "2026-03-01T08:00:00+08:00",
        "lat": 39.9042, "lon": 116.4074, "description": "cover missing", "priority": 2}


@pytest.fixture(scope="module")
def api(tmp_path_factory, beijing):
    from app import create_app
    from datasources.runtime import Runtime, sync_pack
    from datasources.store import Store
    from settings import Settings

    data_dir = tmp_path_factory.mktemp("api")
    settings = Settings.load(env={}, city=beijing.root, data_dir=data_dir)
    store = Store(settings.db_path)
    sync_pack(store, beijing)
    runtime = Runtime(settings, beijing, store)
    app = create_app(runtime)
    tokens = {
        "source": issue_token(store, "feed-gateway", "source"),
        "admin": issue_token(store, "ops", "admin"),
        "wall": issue_token(store, "lobby-wall", "wall"),
    }
    yield {"client": app.server.test_client(), "store": store, "tokens": tokens, "app": app}
    store.close()


def count(store, sql, *params):
    return store.cursor().execute(sql, list(params)).fetchall()[0][0]


def post(api, path, body, token="source", raw=False):
    headers = {"Authorization": f"Bearer {api['tokens'][token]}"} if token else {}
    data = body if raw else json.dumps(body)
    return api["client"].post(f"/api/v1/{path}", data=data, headers=headers, content_type="application/json")


# ---------------------------------------------------------------------------- pushing records


def test_push_cases_applies_good_records_and_reports_bad_ones(api):
    store = api["store"]
    before = count(store, "select count(*) from cases")
    records = [
        CASE,
        {**CASE, "case_id": "API-2", "category": "no_such_category"},
        {**CASE, "case_id": "API-3", "category": "street_light", "reported_at": "2026-03-01 09:30"},
        {**CASE, "case_id": "API-4", "lat": "north"},
    ]
    response = post(api, "cases", records)
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert (body["accepted"], body["updated"], body["quarantined"]) == (2, 0, 2)
    assert [e["index"] for e in body["errors"]] == [1, 3]
    assert "unknown category" in body["errors"][0]["reason"]
    assert "lat" in body["errors"][1]["reason"]
    assert count(store, "select count(*) from cases") == before + 2
    # the derived due time (natural calendar, 4 h for manhole covers) and the origin are kept
    due = store.cursor().execute("select due_at, source from cases where case_id = 'API-1'").fetchall()[0]
    assert str(due[0]) == "2026-03-01 04:00:00"
    rows = store.cursor().execute(
        "select origin, reason, raw from quarantine "
        "where feed = 'cases' and origin = 'api:feed-gateway' order by reason"
    ).fetchall()
    assert len(rows) == 2
    assert any("API-2" in raw for _, _, raw in rows) and any("API-4" in raw for _, _, raw in rows)


def test_pushing_a_closure_updates_the_case(api):
    post(api, "cases", [{**CASE, "case_id": "API-10"}])
    response = post(api, "cases", [{"case_id": "API-10", "status": "closed",
                                    "closed_at": "2026-03-01T10:00:00+08:00"}])
    body = response.get_json()
    assert response.status_code == 200 and (body["accepted"], body["updated"], body["errors"]) == (0, 1, [])
    row = api["store"].cursor().execute("select status, closed_at from cases where case_id = 'API-10'").fetchall()
    assert row[0][0] == "closed" and str(row[0][1]) == "2026-03-01 02:00:00"


def test_push_answer_accounts_for_cases_in_no_district(api, beijing):
    import geopandas as gpd

    records = [{**CASE, "case_id": f"API-P{i}", "lat": lat, "lon": lon} for i, (lat, lon) in enumerate([
        (39.9042, 116.4074), (48.85, 2.35), (None, None), (40.95, 117.95), (39.45, 115.45), (40.50, 116.60),
        (None, None), (41.2, 116.4)])]
    records.append({**CASE, "case_id": "API-P-bad", "lat": "north"})  # quarantined: not counted
    body = post(api, "cases", records).get_json()
    # an independent placement: geopandas on the pack's district file
    districts = gpd.read_file(beijing.root / "districts.geojson")
    located = [r for r in records[:-1] if r["lat"] is not None]
    points = gpd.GeoDataFrame({"case_id": [r["case_id"] for r in located]},
                              geometry=gpd.points_from_xy([r["lon"] for r in located], [r["lat"] for r in located]),
                              crs="EPSG:4326")
    inside = set(gpd.sjoin(points, districts, predicate="intersects").case_id)
    assert 0 < len(inside) < len(located)
    assert (body["accepted"], body["quarantined"]) == (8, 1)
    assert (body["outside"], body["unlocated"]) == (len(located) - len(inside), 2)
    again = post(api, "cases", records[:-1]).get_json()  # nothing new: nothing to account for
    assert (again["accepted"], again["outside"], again["unlocated"]) == (0, 0, 0)
    empty = post(api, "cases", []).get_json()
    assert (empty["outside"], empty["unlocated"]) == (0, 0)


def test_push_sensor_readings(api):
    store = api["store"]
    before = count(store, "select count(*) from readings")
    records = [
        {"device_id": "AI-110101-01", "observed_at": "2026-03-01T08:00:00+08:00", "metric": "pm25", "value": 35.5,
         "unit": "ug/m3"},
        {"device_id": "AI-110101-01", "observed_at": "2026-03-01T08:00:00+08:00", "metric": "pm10", "value": "60"},
        {"device_id": "AI-110101-02", "observed_at": "2026-03-01T08:00:00+08:00", "metric": "pm25"},
        {"device_id": "AI-110101-02", "observed_at": "yesterday-ish", "metric": "pm25", "value": 3},
    ]
    body = post(api, "sensor-readings", records, token="admin").get_json()
    assert (body["accepted"], body["quarantined"]) == (2, 2) and "outside" not in body  # readings have no place
    assert [(e["index"], e["reason"]) for e in body["errors"]] == [
        (2, "value missing"), (3, "bad observed_at yesterday-ish")]
    assert count(store, "select count(*) from readings") == before + 2
    assert count(store, "select count(*) from quarantine where feed = 'sensors' and origin = 'api:ops'") == 2


def test_push_service_transactions(api):
    store = api["store"]
    before = count(store, "select count(*) from service_transactions")
    records = [
        {"hall_id": "H110101", "service_code": "passport", "ticket_at": "2026-03-01T09:00:00+08:00",
         "called_at": "2026-03-01T09:12:00+08:00", "done_at": "2026-03-01T09:20:00+08:00", "channel": "offline",
         "satisfaction": 5},
        {"hall_id": "H110102", "ticket_at": "2026-03-01T09:00:00+08:00", "called_at": "2026-03-01T08:00:00+08:00"},
        # a hall snapshot is not a transaction: this endpoint reports it instead of storing a snapshot
        {"hall_id": "H110102", "observed_at": "2026-03-01T09:00:00+08:00", "waiting": 4},
    ]
    response = post(api, "service-transactions", records)
    body = response.get_json()
    assert response.status_code == 200
    assert (body["accepted"], body["quarantined"]) == (1, 2)
    assert body["errors"] == [{"index": 1, "reason": "called_at before ticket_at"},
                              {"index": 2, "reason": "ticket_at missing"}]
    assert count(store, "select count(*) from service_transactions") == before + 1
    assert count(store, "select count(*) from hall_snapshots") == 0


def test_all_records_rejected_is_422_with_the_same_body(api):
    response = post(api, "cases", [{"case_id": "API-X"}, {"description": "no id"}])
    assert response.status_code == 422
    body = response.get_json()
    assert body["accepted"] == 0 and body["quarantined"] == 2
    assert [e["index"] for e in body["errors"]] == [0, 1]


def test_empty_array_is_fine(api):
    response = post(api, "cases", [])
    assert response.status_code == 200 and response.get_json()["accepted"] == 0


# ---------------------------------------------------------------------------- tokens


def test_no_token_or_a_bad_token_is_401(api):
    client = api["client"]
    assert client.post("/api/v1/cases", json=[CASE]).status_code == 401
    for header in ("Bearer nope", "Bearer ", "Basic dXNlcjpwYXNz", api["tokens"]["source"], "Bearer " + "x" * 5000):
        response = client.post("/api/v1/cases", json=[CASE], headers={"Authorization": header})
        assert response.status_code == 401, header
        assert "error" in response.get_json() and response.headers["WWW-Authenticate"].startswith("Bearer")


def test_a_role_that_may_not_push_is_403(api):
    response = post(api, "sensor-readings", [], token="wall")
    assert response.status_code == 403 and "wall" in response.get_json()["error"]


def test_revoked_token_is_401(api):
    store = api["store"]
    token = issue_token(store, "old-gateway", "source")
    assert post(api, "cases", [], token=None).status_code == 401
    ok = api["client"].post("/api/v1/cases", json=[], headers={"Authorization": f"Bearer {token}"})
    assert ok.status_code == 200
    assert revoke_token(store, "old-gateway") == 1
    assert verify_token(store, token) is None
    again = api["client"].post("/api/v1/cases", json=[], headers={"Authorization": f"Bearer {token}"})
    assert again.status_code == 401
    # only the hash is stored
    assert count(store, "select count(*) from api_tokens where token_hash = ?", token) == 0


def test_users_token_cli_prints_a_working_token_last(tmp_path, capsys):
    from app import main
    from datasources.store import Store

    assert main(["users", "token", "traffic-feed", "--data-dir", str(tmp_path)]) == 0
    token = capsys.readouterr().out.strip().splitlines()[-1]
    assert main(["users", "token", "traffic-feed", "--data-dir", str(tmp_path), "--role", "nobody"]) == 2
    from settings import Settings

    store = Store(Settings.load(env={}, data_dir=tmp_path).db_path)
    try:
        info = verify_token(store, token)
        assert info is not None and (info.name, info.role) == ("traffic-feed", "source")
    finally:
        store.close()


# ---------------------------------------------------------------------------- malformed bodies

DEEP = b"[" * 100_000 + b"]" * 100_000
MALFORMED = {
    "garbage bytes": b"\xff\xfe\x00garbage\x81",
    "empty": b"",
    "object": b'{"case_id": "x"}',
    "object with list": b'{"records": [{"case_id": "x"}]}',
    "numbers": b"[1, 2, 3]",
    "nested arrays": b"[[{}]]",
    "string": b'"cases"',
    "null": b"null",
    "truncated": b'[{"case_id": "x"',
    "NaN": b'[{"case_id": "x", "lat": NaN}]',
    "deep": DEEP,
    "deep objects": b'[{"a":' * 50_000 + b"1" + b"}" * 50_000 + b"]",
}


@pytest.mark.parametrize("name", list(MALFORMED))
@pytest.mark.parametrize("path", ["cases", "sensor-readings", "service-transactions"])
def test_malformed_bodies_are_4xx_with_a_reason(api, path, name):
    response = post(api, path, MALFORMED[name], raw=True)
    assert 400 <= response.status_code < 500, (name, response.status_code, response.data[:200])
    assert response.get_json()["error"]


def test_deeply_nested_values_inside_records_are_per_record_errors(api):
    junk = {"a": [[[[{"b": [1, {"c": None}]}]]]]}
    records = [{"case_id": junk, "reported_at": [1, 2], "category": {"x": 1}, "lat": True, "lon": False}]
    response = post(api, "cases", records)
    assert response.status_code == 422 and response.get_json()["quarantined"] == 1


def test_too_many_records_or_bytes_is_413(api):
    assert post(api, "cases", [{}] * 50_001).status_code == 413
    big = b'[{"description": "' + b"x" * (10 * 1024 * 1024) + b'"}]'
    response = post(api, "cases", big, raw=True)
    assert response.status_code == 413 and "larger" in response.get_json()["error"]


# ---------------------------------------------------------------------------- property: never a 5xx

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.integers(min_value=-(2**80), max_value=2**80),
    st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=20),
    st.sampled_from(["2026-03-01T08:00:00+08:00", "2026-03-01 08:00", "2099-01-01", "0", "1e400", "open",
                     "closed", "manhole_cover", "Street light out", "井盖破损缺失", "chengguan", "39.9", "116.4",
                     "H110101", "AI-110101-01", "pm25", "-5", "  ", "\x00"]),
)
json_values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
    st.text(max_size=8), inner, max_size=4), max_leaves=12)
FIELDS = sorted({f for fields in CANONICAL.values() for f in fields} | {"unit.district", "unit.grid"})
id_text = st.text(alphabet=st.characters(categories=["L", "N", "P", "Zs"]), max_size=10)
records = st.fixed_dictionaries({}, optional={f: (id_text if f == "case_id" else json_values) for f in FIELDS})
# mostly valid records (so the "stored" branch is exercised), with random extras that may spoil them
plausible = st.fixed_dictionaries(
    {"case_id": id_text.filter(str.strip),
     "reported_at": st.sampled_from(["2026-03-01T08:00:00+08:00", "2026-03-02 10:00", "x"]),
     "category": st.sampled_from(["manhole_cover", "street_light", "Street light out", "nope"]),
     "device_id": st.sampled_from(["AI-110101-01", ""]), "metric": st.sampled_from(["pm25", "noise"]),
     "observed_at": st.sampled_from(["2026-03-01T08:00:00+08:00", "2026-03-01T08:00:00Z"]),
     "value": st.one_of(st.floats(-10, 500), st.just("n/a")), "hall_id": st.just("H110101"),
     "ticket_at": st.sampled_from(["2026-03-01T09:00:00+08:00", "later"])},
    optional={f: st.none() | json_values for f in ("lat", "lon", "status", "priority", "closed_at", "called_at",
                                                   "done_at")},
)
bodies = st.one_of(
    st.lists(records, max_size=6).map(json.dumps),
    st.lists(plausible, min_size=1, max_size=6).map(json.dumps),
    st.lists(st.one_of(plausible, records), min_size=1, max_size=6).map(json.dumps),
    st.lists(st.one_of(records, st.dictionaries(st.text(max_size=10), json_values, max_size=5)),
             max_size=6).map(json.dumps),
    json_values.map(json.dumps),
    st.binary(max_size=64),
)


@hsettings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                    HealthCheck.too_slow])
@given(body=bodies, path=st.sampled_from(["cases", "sensor-readings", "service-transactions"]))
def test_random_bodies_never_5xx_and_every_record_is_accounted_for(api, body, path):
    response = post(api, path, body if isinstance(body, bytes) else body.encode(), raw=True)
    assert response.status_code < 500, response.data[:300]
    answer = response.get_json()
    if response.status_code not in (200, 422):
        assert answer["error"]
        return
    sent = json.loads(body)
    n = len(sent)
    indices = [e["index"] for e in answer["errors"]]
    assert answer["received"] == n
    assert len(indices) == len(set(indices)) == answer["quarantined"]
    assert all(0 <= i < n for i in indices) and all(e["reason"] for e in answer["errors"])
    assert answer["accepted"] + answer["updated"] + answer["quarantined"] <= n
    assert (response.status_code == 422) == (n > 0 and answer["quarantined"] == n)
    if path == "cases":
        # every record not reported in errors is stored
        stored = {row[0] for row in api["store"].cursor().execute("select case_id from cases").fetchall()}
        for i, record in enumerate(sent):
            if i not in indices:
                assert record["case_id"].strip() in stored, (i, record)


# ---------------------------------------------------------------------------- OpenAPI


def test_openapi_describes_every_api_v1_route(api):
    document = api["client"].get("/api/v1/openapi.json").get_json()
    assert document["openapi"].startswith("3.")
    assert document["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    rules = [r for r in api["app"].server.url_map.iter_rules() if r.rule.startswith("/api/v1")]
    assert len(rules) >= 4
    for rule in rules:
        path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)
        assert path in document["paths"], path
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            operation = document["paths"][path][method.lower()]
            assert operation["responses"]
            if method == "POST":
                assert operation["security"] == [{"bearerAuth": []}]
            if method == "POST" and "push" in operation.get("tags", []):  # feed pushes take arrays of records
                assert operation["requestBody"]["content"]["application/json"]["schema"]["type"] == "array"
    # every $ref resolves
    refs = re.findall(r'"\$ref": "#/components/schemas/([^"]+)"', json.dumps(document))
    assert refs and all(ref in document["components"]["schemas"] for ref in refs)
