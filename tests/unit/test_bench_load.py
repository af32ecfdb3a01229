"""The load benchmark's pure parts: how recorded browser requests become replayable pages, the
session mix, and the load generator's HTTP parsing (bench/loadcapture.py, bench/loadgen.py)."""
import asyncio

from bench.bench_load import MIX, session_kinds
from bench.loadcapture import build_page, find_intervals, retarget, short_name
from bench.loadgen import parse_head, read_chunked, set_value, version_in

VERSION_IN = {"id": "data-version", "property": "data"}
DEPS = [
    {"output": "data-version.data", "inputs": [{"id": "tick", "property": "n_intervals"}], "state": [VERSION_IN]},
    {"output": "..feed-badges.children...as-of.children..",
     "inputs": [{"id": "tick", "property": "n_intervals"}, {"id": "url", "property": "search"}], "state": []},
    {"output": ".._pages_content.children..._pages_store.data..",
     "inputs": [{"id": "_pages_location", "property": "pathname"}], "state": []},
    {"output": "..map-spec.data...ranking.children..", "inputs": [VERSION_IN, {"id": "url", "property": "search"}],
     "state": []},
    {"output": "..queue-message.children...queue-refresh.data..",
     "inputs": [{"id": {"type": "queue-action", "order": ["ALL"]}, "property": "n_clicks"}], "state": []},
]
NAMES = {"data-version.data": "poll_version", "..feed-badges.children...as-of.children..": "render_feed_badges",
         "..map-spec.data...ranking.children..": "render_units", "..queue-message.children...queue-refresh.data..": "act"}


def post(t, output, inputs, changed, state=None, finished=None):
    body = {"output": output, "inputs": inputs, "changedPropIds": changed, "parsedChangedPropsIds": changed}
    if state is not None:
        body["state"] = state
    return {"t": t, "finished": finished, "method": "POST", "path": "/_dash-update-component", "body": body}


def recording():
    tick = {"id": "tick", "property": "n_intervals"}
    return [
        {"t": 0.0, "method": "GET", "path": "/unit/district/110101", "body": None},
        {"t": 0.1, "method": "GET", "path": "/_dash-layout", "body": None},
        post(0.2, "data-version.data", [tick], [], [{**VERSION_IN, "value": 0}], finished=0.25),
        post(0.2, "..feed-badges.children...as-of.children..", [tick, {"id": "url", "property": "search", "value": ""}],
             ["url.search"], finished=0.24),
        post(0.2, ".._pages_content.children..._pages_store.data..",
             [{"id": "_pages_location", "property": "pathname", "value": "/unit/district/110101"}],
             ["_pages_location.pathname"], finished=0.3),
        post(0.31, "..map-spec.data...ranking.children..",
             [{**VERSION_IN, "value": 7}, {"id": "url", "property": "search", "value": ""}], [], finished=0.4),
        post(0.41, "..queue-message.children...queue-refresh.data..",  # new buttons: a chained callback
             [[{"id": {"type": "queue-action", "order": "A"}, "property": "n_clicks", "value": 0}]], ["x.n_clicks"],
             finished=0.43),
        {"t": 0.45, "method": "GET", "path": "/geo/grid.geojson?parent=110101", "body": None},
        post(2.2, "data-version.data", [{**tick, "value": 1}], ["tick.n_intervals"], [{**VERSION_IN, "value": 7}]),
        post(2.2, "..feed-badges.children...as-of.children..", [{**tick, "value": 1}, {"id": "url", "property": "search", "value": ""}],
             ["tick.n_intervals"]),
        post(2.3, "..map-spec.data...ranking.children..",
             [{**VERSION_IN, "value": 8}, {"id": "url", "property": "search", "value": ""}], ["data-version.data"]),
        post(2.5, "..queue-message.children...queue-refresh.data..",
             [[{"id": {"type": "queue-action", "order": "A"}, "property": "n_clicks", "value": 0}]], ["x.n_clicks"]),
        post(2.6, "..queue-message.children...queue-refresh.data..",
             [[{"id": {"type": "queue-action", "order": "A"}, "property": "n_clicks", "value": 0}]], ["x.n_clicks"]),
        {"t": 3.0, "method": "GET", "path": "/_dash-component-suites/x.js", "body": None},
    ]


def test_recorded_requests_become_initial_clusters_ticks_and_version_callbacks():
    page = build_page("unit", "/unit/district/110101", recording(), DEPS, {"tick": 2.0}, NAMES)
    # the page's callbacks are sent once the router answered: a second cluster
    assert [[t["name"] for t in c] for c in page["initial"]] == [
        ["poll_version", "render_feed_badges", "_pages_content.children+1"], ["render_units"], ["act"]]
    assert [[t["name"] for t in c] for c in page["version"]] == [["render_units"], ["act"]]
    assert page["version"][0][0]["body"]["changedPropIds"] == ["data-version.data"]
    tick = page["ticks"]["tick"]
    assert tick["period_s"] == 2.0
    assert [(t["name"], t["poll"], t["interval"]) for t in tick["callbacks"]] == [
        ("poll_version", True, "tick"), ("render_feed_badges", False, "tick")]
    assert page["gets"] == ["/geo/grid.geojson?parent=110101"]


def test_a_callback_seen_only_at_load_is_derived_for_a_version_change():
    page = build_page("unit", "/x", recording()[:8], DEPS, {"tick": 2.0}, NAMES)
    body = page["version"][0][0]["body"]
    assert body["changedPropIds"] == ["data-version.data"] and body["parsedChangedPropsIds"] == ["data-version.data"]
    assert [t["name"] for t in page["ticks"]["tick"]["callbacks"]] == ["poll_version", "render_feed_badges"]
    assert page["ticks"]["tick"]["callbacks"][0]["body"]["changedPropIds"] == ["tick.n_intervals"]


def test_retarget_moves_a_unit_page_to_another_unit_and_names_are_short():
    page = build_page("unit", "/unit/district/110101", recording(), DEPS, {"tick": 2.0}, NAMES)
    moved = retarget(page, "110101", "110105")
    assert moved["path"] == "/unit/district/110105" and moved["gets"] == ["/geo/grid.geojson?parent=110105"]
    assert "110101" not in str(moved)
    assert short_name("data-version.data@6c4c3b0bfbfd8ce1") == "data-version.data@6c4c3b"
    assert short_name("..a.b...c.d...e.f..") == "a.b+2"
    layout = {"props": {"children": [{"type": "Interval", "props": {"id": "tick", "interval": 2000}},
                                     {"type": "Interval", "props": {"id": "off", "interval": 10, "disabled": True}}]}}
    assert find_intervals(layout) == {"tick": 2.0}


def test_session_mix_follows_the_proportions_and_interleaves():
    kinds = session_kinds(100)
    assert {k: kinds.count(k) for k, _ in MIX} == {"wall": 20, "overview": 30, "unit": 20, "queue": 30}
    assert len(set(session_kinds(4))) == 4
    assert session_kinds(1) == ["overview"]


def test_http_parsing_of_the_load_generator():
    status, headers, cookies = parse_head(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nSet-Cookie: a=1; Path=/\r\n"
                                          b"Set-Cookie: b=2\r\n\r\n")
    assert status == 200 and headers["content-length"] == "3" and cookies == ["a=1; Path=/", "b=2"]
    assert version_in(b'{"multi":true,"response":{"data-version":{"data":42}}}') == 42
    assert version_in(b'{"multi":true,"response":{}}') is None

    async def chunked():
        reader = asyncio.StreamReader()
        reader.feed_data(b"4\r\nWiki\r\n6;x=y\r\npedia \r\n0\r\n\r\n")
        reader.feed_eof()
        return await read_chunked(reader)

    # in a thread of its own: the browser tests' Playwright (sync API) keeps a loop running in this one
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as pool:
        assert pool.submit(asyncio.run, chunked()).result(timeout=10) == b"Wikipedia "
    entries = [{"id": "data-version", "property": "data", "value": 1}, {"id": "tick", "property": "n_intervals"}]
    set_value(entries, "data-version", "data", 9)
    set_value(entries, "tick", "n_intervals", 3)
    assert entries == [{"id": "data-version", "property": "data", "value": 9},
                       {"id": "tick", "property": "n_intervals", "value": 3}]
