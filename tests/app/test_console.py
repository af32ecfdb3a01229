"""The console app builds and answers: Dash endpoints, health, geometry, the vendored deck.gl."""
import gzip
import json
import re

from datasources.health import feed_health
from indicators.overview import unit_ranking
from security.scope import Scope


def test_dash_layout_and_dependencies_answer(console_client):
    layout = console_client.get("/_dash-layout")
    assert layout.status_code == 200 and b"feed-badges" in layout.data
    deps = console_client.get("/_dash-dependencies").get_json()
    outputs = " ".join(d["output"] for d in deps)
    for component in ("map-spec", "ranking", "feed-badges", "data-version", "scorecard", "nav"):
        assert component in outputs


def test_every_page_renders_html(console_client):
    for path in ("/", "/unit/district/110105", "/unit/grid/110105-8731aa408ffffff", "/?lang=en"):
        response = console_client.get(path)
        assert response.status_code == 200
        assert b"/vendor/deckgl.js" in response.data  # same origin, no CDN
        # every script, stylesheet and link the page loads is same-origin (meta tags may name the page URL)
        loaded = re.findall(r'(?:src|href)="([^"]+)"', response.data.decode())
        assert loaded and all(url.startswith("/") for url in loaded), loaded


def test_healthz_reports_every_feed(console_client, console_runtime):
    body = console_client.get("/healthz").get_json()
    assert body["data_version"] == console_runtime.store.data_version > 0
    assert set(body["feeds"]) == {"cases", "sensors", "services"}
    for feed in body["feeds"].values():
        assert feed["last_record_at"].endswith("Z") and feed["state"] in {"ok", "amber", "red"}
        assert feed["records_total"] > 0


def test_feed_state_turns_amber_then_red_as_a_feed_ages(console_runtime):
    import datetime as dt

    last = dt.datetime.fromisoformat(feed_health(console_runtime.store, 60, 300)["cases"]["last_record_at"][:-1])
    states = [feed_health(console_runtime.store, 60, 300, now=last + dt.timedelta(seconds=s))["cases"]["state"]
              for s in (10, 61, 301)]
    assert states == ["ok", "amber", "red"]


def test_geometry_is_served_once_cacheable_and_gzipped(console_client, console_runtime):
    response = console_client.get("/geo/district.geojson", headers={"Accept-Encoding": "gzip"})
    assert response.status_code == 200 and response.headers["Content-Encoding"] == "gzip"
    assert "max-age" in response.headers["Cache-Control"] and response.headers["ETag"]
    data = json.loads(gzip.decompress(response.data))
    assert len(data["features"]) == 16
    again = console_client.get("/geo/district.geojson", headers={"If-None-Match": response.headers["ETag"]})
    assert again.status_code == 304
    grid = console_client.get("/geo/grid.geojson?parent=110105").get_json()
    assert grid["features"] and {f["properties"]["parent_id"] for f in grid["features"]} == {"110105"}
    assert console_client.get("/geo/street.geojson").status_code == 404


def test_deck_bundle_is_served_from_the_pydeck_wheel(console_client):
    response = console_client.get("/vendor/deckgl.js")
    assert response.status_code == 200 and b"createDeck" in response.data


def test_map_callback_sends_values_not_geometry(console_client, console_runtime):
    """A live map update carries per-unit values only; geometry stays behind its URL."""
    payload = {
        "output": "..map-spec.data...map-legend.children...ranking.children...ranking-title.children..",
        "outputs": [{"id": "map-spec", "property": "data"}, {"id": "map-legend", "property": "children"},
                    {"id": "ranking", "property": "children"}, {"id": "ranking-title", "property": "children"}],
        "inputs": [{"id": "data-version", "property": "data", "value": 3},
                   {"id": "page-context", "property": "data", "value": {"level_index": 1, "parent": None, "unit": None, "lang": "zh"}},
                   {"id": "url", "property": "search", "value": "?lang=zh"}],
        "changedPropIds": ["data-version.data"], "state": [],
    }
    response = console_client.post("/_dash-update-component", json=payload)
    assert response.status_code == 200
    body = response.get_json()["response"]
    spec = body["map-spec"]["data"]
    assert spec["geometry_url"] == "/geo/district.geojson"
    assert "coordinates" not in json.dumps(spec)
    rows = unit_ranking(console_runtime.store, console_runtime.pack, Scope.city(), "district")
    assert {u: v["value"] for u, v in spec["values"].items()} == {r["unit_id"]: r["open_cases"] for r in rows}
    ranking = json.dumps(body["ranking"]["children"], ensure_ascii=False)
    assert "朝阳区" in ranking and "/unit/district/110105?lang=zh" in ranking


def test_unknown_api_paths_answer_json_404_not_the_console(console_client):
    for method, path in (("get", "/api/v1/nothing"), ("post", "/api/v2/cases"), ("get", "/open311/v2/requests.xml")):
        response = getattr(console_client, method)(path)
        assert response.status_code == 404 and response.is_json and "no such endpoint" in response.get_json()["error"]
    assert console_client.get("/api/v1/openapi.json").status_code == 200  # known routes still win


def test_feed_health_page_shows_the_quarantine(console_client, console_runtime):
    import pandas as pd

    from datasources.ingest import ingest_frame

    bad = pd.DataFrame({"case_id": ["q-1"], "reported_at": ["2026-01-01T08:00"], "category": ["no_such_category"]})
    ingest_frame(console_runtime.store, console_runtime.pack, "cases", bad, origin="test")
    payload = {
        "output": "..feeds-title.children...feeds-table.children...feeds-unplaced.children...quarantine-title.children"
                  "...quarantine-table.children..",
        "outputs": [{"id": i, "property": "children"}
                    for i in ("feeds-title", "feeds-table", "feeds-unplaced", "quarantine-title", "quarantine-table")],
        "inputs": [{"id": "tick", "property": "n_intervals", "value": 1}, {"id": "url", "property": "search", "value": "?lang=en"}],
        "changedPropIds": ["tick.n_intervals"], "state": [],
    }
    body = console_client.post("/_dash-update-component", json=payload).get_json()["response"]
    assert body["feeds-title"]["children"] == "Feed health"
    table = json.dumps(body["feeds-table"]["children"])
    for feed in ("Cases", "Sensors", "Services"):
        assert feed in table
    quarantine = json.dumps(body["quarantine-table"]["children"])
    assert "unknown category no_such_category" in quarantine
    # the line on cases in no district: what the stored read counts, worded (empty when none)
    from callbacks.feeds import unplaced_line
    from datasources import gateway
    from security.scope import Scope

    counts = gateway.query_rows(console_runtime.store, "cases_unplaced", Scope.city())[0]
    assert body["feeds-unplaced"]["children"] == unplaced_line(counts, console_runtime.pack.levels[0], "en")
    assert console_client.get("/feeds").status_code == 200


def test_odd_paths_are_client_errors_without_internals(console_client):
    for path in ("/_dash-component-suites/..%2f..%2fsettings.py", "/_dash-component-suites/dash/..%2f..%2f..%2fetc/passwd",
                 "/_dash-component-suites/dash/deps/nothing.js", "/_dash-component-suites/dash/dcc/../../../../settings.py"):
        response = console_client.get(path)
        assert response.status_code == 404, path
        assert "Traceback" not in response.get_data(as_text=True) and "/" not in response.get_json()["error"]
    unknown = console_client.post("/_dash-update-component", json={
        "output": "nothing.here", "outputs": {"id": "nothing", "property": "here"}, "inputs": [], "changedPropIds": []})
    assert unknown.status_code == 400 and "reload" in unknown.get_json()["error"]


def test_a_fresh_process_serves_parallel_first_requests(console_runtime):
    """A fresh web worker gets a browser's script requests in parallel, as its very first requests:
    every one must be served (Dash's own first-request setup let the others through unfinished)."""
    import re

    from app import create_app
    from tests.conftest import run_threads

    page = create_app(console_runtime).server.test_client().get("/").get_data(as_text=True)
    paths = re.findall(r'src="(/_dash-component-suites/[^"]+)"', page) + ["/_dash-layout", "/_dash-dependencies"]
    assert len(paths) >= 7
    fresh = create_app(console_runtime).server  # another process: nobody has asked it anything yet
    statuses = {}

    def ask(i):
        statuses[paths[i % len(paths)], i] = fresh.test_client().get(paths[i % len(paths)]).status_code

    run_threads(ask, 4 * len(paths))
    assert set(statuses.values()) == {200}, {k: v for k, v in statuses.items() if v != 200}
