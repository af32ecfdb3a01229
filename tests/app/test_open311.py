"""Open311 GeoReport v2 under /open311/v2/: services, requests (GET, POST), one request.

Real DuckDB file, real Flask test client on the real Dash app (built once for this module).
"""
import datetime as dt
import json
import zoneinfo

import pandas as pd
import pytest

from datasources.ingest import ingest_frame

SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")
# Cases from March 2026 (city time), far from the POSTed ones (reported now).
SEEDED = [
    # case_id, category, reported_at (city time), status, closed_at
    ("B-1", "manhole_cover", "2026-03-02 08:00", "accepted", None),
    ("B-2", "street_light", "2026-03-03 09:00", "dispatched", None),
    ("B-3", "manhole_cover", "2026-03-04 10:00", "closed", "2026-03-04 12:30"),
    ("B-4", "road_facility", "2026-03-05 11:00", "closed", "2026-03-06 11:00"),
    ("B-5", "traffic_signal", "2026-03-06 12:00", "verified", None),
]
# Cases that came in through other channels: never in public reads by default.
INTERNAL = [("H-1", "hotline", "noise"), ("G-1", "grid_inspector", "garbage_exposed")]
MARCH = {"start_date": "2026-03-01T00:00:00+08:00", "end_date": "2026-03-31T23:59:59+08:00"}


@pytest.fixture(scope="module")
def o311(tmp_path_factory, beijing):
    from app import create_app
    from datasources.runtime import Runtime, sync_pack
    from datasources.store import Store
    from settings import Settings

    settings = Settings.load(env={}, city=beijing.root, data_dir=tmp_path_factory.mktemp("open311"),
                             open311_posts_per_address_per_hour=0, open311_posts_per_min=0)  # throttle: own tests
    store = Store(settings.db_path)
    sync_pack(store, beijing)
    frame = pd.DataFrame(
        [{"case_id": i, "source": "open311", "category": c, "reported_at": r, "status": s, "closed_at": x,
          "lat": 39.9042, "lon": 116.4074, "address": f"{i} street", "description": f"case {i}",
          "reporter_name": "王小明", "reporter_phone": "13800138000"} for i, c, r, s, x in SEEDED]
        + [{"case_id": i, "source": source, "category": c, "reported_at": "2026-03-10 09:00", "lat": 39.9289,
            "lon": 116.3883, "address": "西城区某胡同7号", "description": "张三 13712345678 家门口"}
           for i, source, c in INTERNAL]
    )
    report = ingest_frame(store, beijing, "cases", frame, origin="test")
    assert report.result.accepted == len(SEEDED) + len(INTERNAL), report.errors
    runtime = Runtime(settings, beijing, store)
    app = create_app(runtime)
    yield {"client": app.server.test_client(), "store": store, "pack": beijing, "runtime": runtime}
    store.close()


def get(o311, path, **params):
    return o311["client"].get(f"/open311/v2/{path}", query_string=params)


def ids(response):
    assert response.status_code == 200, response.data[:300]
    return sorted(r["service_request_id"] for r in response.get_json())


# ---------------------------------------------------------------------------- services


def test_services_list_every_pack_category(o311):
    pack = o311["pack"]
    services = get(o311, "services.json").get_json()
    assert [s["service_code"] for s in services] == list(pack.categories.category_id)
    by_code = {s["service_code"]: s for s in services}
    manhole = pack.categories.set_index("category_id").loc["manhole_cover"]
    # the Beijing pack's default language is Chinese; ?locale=en switches
    assert by_code["manhole_cover"]["service_name"] == manhole.name_zh
    for service in services:
        assert service["metadata"] is False and service["type"] == "realtime"
        assert service["group"] in {"component", "event"} and service["description"] and service["keywords"]
    english = {s["service_code"]: s for s in get(o311, "services.json", locale="en").get_json()}
    assert english["manhole_cover"]["service_name"] == manhole.name_en


# ---------------------------------------------------------------------------- reading requests


def test_status_filter_maps_the_workflow_to_open_and_closed(o311):
    assert ids(get(o311, "requests.json", status="closed", **MARCH)) == ["B-3", "B-4"]
    assert ids(get(o311, "requests.json", status="open", **MARCH)) == ["B-1", "B-2", "B-5"]
    assert ids(get(o311, "requests.json", status="open,closed", **MARCH)) == ["B-1", "B-2", "B-3", "B-4", "B-5"]
    rows = {r["service_request_id"]: r for r in get(o311, "requests.json", **MARCH).get_json()}
    assert rows["B-3"]["status"] == "closed" and rows["B-5"]["status"] == "open"
    assert rows["B-2"]["status_notes"] == "dispatched"
    # updated = the last change in the store: never before the report or the closure
    assert rows["B-4"]["updated_datetime"] >= "2026-03-06T11:00:00+08:00"
    assert all(r["updated_datetime"] >= r["requested_datetime"] for r in rows.values())
    assert get(o311, "requests.json", status="pending").status_code == 400


def test_date_filters_are_inclusive_and_zone_aware(o311):
    window = {"start_date": "2026-03-03T09:00:00+08:00", "end_date": "2026-03-05T03:00:00Z"}  # 11:00 +08:00
    assert ids(get(o311, "requests.json", **window)) == ["B-2", "B-3", "B-4"]
    # without an offset: the city's time zone
    assert ids(get(o311, "requests.json", start_date="2026-03-05T11:00:00", end_date="2026-03-31")) == ["B-4", "B-5"]
    bad = get(o311, "requests.json", start_date="last tuesday")
    assert bad.status_code == 400
    assert bad.get_json()[0]["code"] == 400 and "start_date" in bad.get_json()[0]["description"]


def test_other_filters_and_limit(o311):
    assert ids(get(o311, "requests.json", service_request_id="B-1,B-4,nope")) == ["B-1", "B-4"]
    assert ids(get(o311, "requests.json", service_code="manhole_cover", **MARCH)) == ["B-1", "B-3"]
    newest = get(o311, "requests.json", limit=2, **MARCH).get_json()
    assert [r["service_request_id"] for r in newest] == ["B-5", "B-4"]  # newest reported first
    assert get(o311, "requests.json", limit="many").status_code == 400


def test_expected_datetime_is_the_stored_due_time_with_the_city_offset(o311):
    rows = o311["store"].cursor().execute(
        "select case_id, due_at, reported_at from cases where case_id like 'B-%'").fetchall()
    answer = {r["service_request_id"]: r for r in get(o311, "requests.json", **MARCH).get_json()}
    for case_id, due_at, reported_at in rows:
        expected = due_at.replace(tzinfo=dt.UTC).astimezone(SHANGHAI).isoformat()
        assert answer[case_id]["expected_datetime"] == expected
        assert expected.endswith("+08:00")
        requested = reported_at.replace(tzinfo=dt.UTC).astimezone(SHANGHAI).isoformat()
        assert answer[case_id]["requested_datetime"] == requested
    # manhole covers: 4 natural hours
    assert answer["B-1"]["expected_datetime"] == "2026-03-02T12:00:00+08:00"


def test_public_answers_never_show_reporters(o311):
    body = get(o311, "requests.json", **MARCH).get_data(as_text=True)
    assert "13800138000" not in body and "138****8000" not in body and "王" not in body
    row = get(o311, "requests/B-1.json").get_json()[0]
    assert not any(key.startswith("reporter") or key in ("phone", "email") for key in row)


def test_one_request_and_unknown_ids(o311):
    one = get(o311, "requests/B-3.json")
    assert one.status_code == 200
    (row,) = one.get_json()
    assert row["service_request_id"] == "B-3" and row["status"] == "closed"
    assert row["service_code"] == "manhole_cover" and row["agency_responsible"]
    assert (row["lat"], row["long"], row["address"]) == (39.904, 116.407, None)  # published: ~100 m, no text
    missing = get(o311, "requests/NOPE-1.json")
    assert missing.status_code == 404 and missing.get_json()[0]["code"] == 404


# ---------------------------------------------------------------------------- filing requests


def test_post_then_get_round_trip(o311):
    client, store = o311["client"], o311["store"]
    before = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    response = client.post("/open311/v2/requests.json", data={
        "api_key": "ignored", "service_code": "street_light", "lat": "39.9163", "long": "116.3972",
        "address_string": "景山前街4号", "description": "路灯不亮", "first_name": "Li", "last_name": "Lei",
        "phone": "13900139000", "email": "li@example.org",
    })
    assert response.status_code == 200, response.data
    (answer,) = response.get_json()
    request_id = answer["service_request_id"]
    assert request_id.startswith("O311-") and len(request_id) == 17 and "account_id" in answer
    assert request_id in answer["service_notice"]
    (row,) = client.get(f"/open311/v2/requests/{request_id}.json").get_json()
    assert (row["service_code"], row["status"], row["description"]) == ("street_light", "open", None)
    assert (row["lat"], row["long"], row["address"]) == (39.916, 116.397, None)
    assert row["requested_datetime"].endswith("+08:00") and row["expected_datetime"] > row["requested_datetime"]
    stored = store.cursor().execute(
        "select source, reporter_name, reporter_phone, reported_at, unit_ids from cases where case_id = ?", [request_id]
    ).fetchall()[0]
    assert stored[:3] == ("open311", "Li Lei", "13900139000")
    assert before - dt.timedelta(seconds=1) <= stored[3] <= dt.datetime.now(dt.UTC).replace(tzinfo=None)
    assert stored[4] and stored[4][0] == "110101"  # located in Dongcheng by its coordinates
    assert "13900139000" not in client.get(f"/open311/v2/requests/{request_id}.json").get_data(as_text=True)


def test_post_as_json_with_an_address_only(o311):
    response = o311["client"].post("/open311/v2/requests.json", json={
        "service_code": "manhole_cover", "address_string": "王府井大街1号", "email": "anon@example.org"})
    assert response.status_code == 200, response.data
    request_id = response.get_json()[0]["service_request_id"]
    (row,) = get(o311, f"requests/{request_id}.json").get_json()
    assert row["lat"] is None and row["address"] is None  # stored, not published (open311_public_text)
    stored = o311["store"].cursor().execute("select address from cases where case_id = ?", [request_id]).fetchall()
    assert stored == [("王府井大街1号",)]
    assert request_id in ids(get(o311, "requests.json", status="open", service_code="manhole_cover"))


@pytest.mark.parametrize("fields, reason", [
    ({"lat": "39.9", "long": "116.4"}, "service_code"),
    ({"service_code": "unicorns", "lat": "39.9", "long": "116.4"}, "not found"),
    ({"service_code": "street_light"}, "location"),
    ({"service_code": "street_light", "lat": "39.9"}, "together"),
    ({"service_code": "street_light", "lat": "north", "long": "116.4"}, "lat"),
    ({"service_code": "street_light", "lat": "95", "long": "116.4"}, "range"),
    ({"service_code": "street_light", "lat": "40.7128", "long": "-74.0060"}, "outside"),
    ({"service_code": "street_light", "address_string": "x", "description": "y" * 4001}, "description"),
])
def test_post_validation_errors_use_the_georeport_format(o311, fields, reason):
    response = o311["client"].post("/open311/v2/requests.json", data=fields)
    assert response.status_code == 400
    (error,) = response.get_json()
    assert error["code"] == 400 and reason in error["description"]


def test_post_with_a_malformed_json_body_is_400(o311):
    for body in (b"[1, 2]", b"{not json", b'"text"'):
        response = o311["client"].post("/open311/v2/requests.json", data=body, content_type="application/json")
        assert response.status_code == 400, body
        assert response.get_json()[0]["code"] == 400


# ---------------------------------------------------------------------------- what the city publishes


def test_public_reads_hide_other_channels_free_text_and_exact_places(o311):
    response = get(o311, "requests.json", **MARCH)
    assert ids(response) == ["B-1", "B-2", "B-3", "B-4", "B-5"]  # not H-1 (hotline) nor G-1 (grid)
    body = response.get_data(as_text=True)
    assert all(f"case {i}" not in body and f"{i} street" not in body for i in ("B-1", "B-3", "B-5"))
    for row in response.get_json():
        # the GeoReport shape is kept: the keys are there, the text is not
        assert row["description"] is None and row["address"] is None
        assert (row["lat"], row["long"]) == (39.904, 116.407)
    for hidden in ("H-1", "G-1"):  # not public = unknown, without telling it exists
        assert get(o311, f"requests/{hidden}.json").status_code == 404
    assert ids(get(o311, "requests.json", service_code="noise", **MARCH)) == []


def test_settings_decide_what_is_public(o311, monkeypatch):
    import dataclasses

    runtime = o311["runtime"]
    monkeypatch.setattr(runtime, "settings", dataclasses.replace(
        runtime.settings, open311_public_sources="*,-grid_inspector", open311_public_categories="*,-manhole_cover",
        open311_public_text=True))
    rows = {r["service_request_id"]: r for r in get(o311, "requests.json", **MARCH).get_json()}
    assert sorted(rows) == ["B-2", "B-4", "B-5", "H-1"]  # hotline now public; grid and manhole covers not
    assert rows["H-1"]["description"] == "张三 13712345678 家门口" and rows["B-2"]["address"] == "B-2 street"
    assert (rows["H-1"]["lat"], rows["H-1"]["long"]) == (39.929, 116.388)  # still rounded
    monkeypatch.setattr(runtime, "settings", dataclasses.replace(runtime.settings, open311_public_sources=""))
    assert get(o311, "requests.json", **MARCH).get_json() == []  # a city that publishes nothing


# ---------------------------------------------------------------------------- throttle and quarantine


def quarantined(store, like: str):
    return store.cursor().execute(
        "select raw, reason from quarantine where origin = 'open311' and raw like ? order by quarantine_id",
        [f"%{like}%"]).fetchall()


def test_posts_beyond_the_per_address_limit_get_429_with_retry_after(o311, monkeypatch):
    import dataclasses

    runtime, client, store = o311["runtime"], o311["client"], o311["store"]
    monkeypatch.setattr(runtime, "settings", dataclasses.replace(
        runtime.settings, open311_posts_per_address_per_hour=3, open311_posts_per_min=0))
    flood = {"REMOTE_ADDR": "203.0.113.7"}

    def post(description, environ=flood):
        return client.post("/open311/v2/requests.json", environ_base=environ, data={
            "service_code": "street_light", "lat": "39.9163", "long": "116.3972", "description": description})

    count = "select count(*) from cases where description like 'flood %'"
    answers = [post(f"flood {i}") for i in range(5)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429, 429]
    refused = answers[3]
    assert 3500 <= int(refused.headers["Retry-After"]) <= 3600  # the first of the three leaves in an hour
    assert refused.get_json()[0]["code"] == 429
    assert store.cursor().execute(count).fetchall()[0][0] == 3  # refused ones are neither stored nor quarantined
    assert quarantined(store, "flood 3") == []
    assert post("flood other", {"REMOTE_ADDR": "203.0.113.8"}).status_code == 200  # another address is fine


def test_a_rejected_post_is_quarantined_with_its_reason(o311):
    client, store = o311["client"], o311["store"]
    response = client.post("/open311/v2/requests.json", data={
        "api_key": "secret-key", "service_code": "unicorns", "lat": "39.9", "long": "116.4",
        "description": "独角兽 rejected-1"})
    assert response.status_code == 400
    ((raw, reason),) = quarantined(store, "rejected-1")
    assert "unicorns" in reason and reason == response.get_json()[0]["description"]
    fields = json.loads(raw)
    assert fields["service_code"] == "unicorns" and fields["description"] == "独角兽 rejected-1"
    assert "api_key" not in fields
    # outside the city, and a body that is not a request at all: kept as well
    assert client.post("/open311/v2/requests.json", data={
        "service_code": "street_light", "lat": "40.7128", "long": "-74.0060", "description": "rejected-2"}
    ).status_code == 400
    assert "outside" in quarantined(store, "rejected-2")[0][1]
    assert client.post("/open311/v2/requests.json", data=b'["rejected-3"]',
                       content_type="application/json").status_code == 400
    ((raw, reason),) = quarantined(store, "rejected-3")
    assert json.loads(raw) == {"body": '["rejected-3"]'} and "object" in reason
    # nothing of it became a case
    assert store.cursor().execute("select count(*) from cases where description like 'rejected-%'").fetchall() == [(0,)]


def test_an_oversized_post_is_refused_unread(o311):
    response = o311["client"].post("/open311/v2/requests.json", data={
        "service_code": "street_light", "address_string": "x", "description": "y" * 70_000})
    assert response.status_code == 413 and response.get_json()[0]["code"] == 413
