"""Ids are data (issue #15): every NYC community district ("83 Queens") opens from the links the
console builds, and the API and the case page take ids with spaces, "/", "#", "&", "+", "%", "?"."""
import datetime as dt
import json
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import pandas as pd
import pytest

from views.links import case_href, segment, unit_href, unit_param

HOSTILE_CASE = "QN 01/7 #a&b+50%?"
CASES = {"c-01": "01 Queens", HOSTILE_CASE: "01 Queens", "c-83": "83 Queens", "c-si": "02 Staten Island"}


@pytest.fixture(scope="module")
def nyc_console(tmp_path_factory, nyc):
    """A demo-mode console on the NYC pack (visitors read as the wall role) with a few open cases."""
    from app import create_app
    from datasources.ingest import ingest_frame
    from datasources.runtime import Runtime, sync_pack
    from datasources.store import Store
    from security.tokens import issue_token
    from settings import Settings

    settings = Settings.load(env={}, city=nyc.root, data_dir=tmp_path_factory.mktemp("ids"), demo=True)
    store = Store(settings.db_path)
    sync_pack(store, nyc)
    reported = (dt.datetime.now(ZoneInfo(nyc.timezone)) - dt.timedelta(hours=2)).replace(tzinfo=None).isoformat()
    frame = pd.DataFrame({"case_id": list(CASES), "reported_at": reported, "category": "Alzheimer's Care",
                          "source": "open311", "unit.cd": list(CASES.values())})  # public: Open311 reads list them
    report = ingest_frame(store, nyc, "cases", frame, origin="test")
    assert not report.errors, report.errors
    app = create_app(Runtime(settings, nyc, store))
    tokens = {"admin": issue_token(store, "ops", "admin"),
              "queens": issue_token(store, "cb1", "district_leader", [unit_param("cd", "01 Queens")])}
    signed = create_app(Runtime(Settings.load(env={}, city=nyc.root, data_dir=settings.data_dir, demo=False), nyc, store))
    yield {"client": app.server.test_client(), "tokens": tokens, "pack": nyc, "signed": signed.server.test_client()}
    store.close()


def _route(client, href):
    """The page Dash's router renders for a link (pathname and search as the browser's location has them)."""
    parts = urlsplit(href)
    payload = {"output": ".._pages_content.children..._pages_store.data..",
               "outputs": [{"id": "_pages_content", "property": "children"}, {"id": "_pages_store", "property": "data"}],
               "inputs": [{"id": "_pages_location", "property": "pathname", "value": parts.path},
                          {"id": "_pages_location", "property": "search", "value": "?" + parts.query}],
               "changedPropIds": ["_pages_location.pathname"], "state": []}
    response = client.post("/_dash-update-component", json=payload)
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    return response.get_json()["response"]["_pages_content"]["children"]


def _store_data(layout, store_id):
    """The data of the page's context store (each of these pages starts with it)."""
    store = layout["props"]["children"][0]["props"]
    assert store["id"] == store_id, store
    return store["data"]


def _unit_header(client, context):
    payload = {"output": "..breadcrumbs.children...unit-title.children...scorecard.children..",
               "outputs": [{"id": i, "property": "children"} for i in ("breadcrumbs", "unit-title", "scorecard")],
               "inputs": [{"id": "data-version", "property": "data", "value": 1},
                          {"id": "page-context", "property": "data", "value": context},
                          {"id": "url", "property": "search", "value": "?lang=en"}],
               "changedPropIds": ["page-context.data"], "state": []}
    response = client.post("/_dash-update-component", json=payload)
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    return response.get_json()["response"]


def test_every_community_district_page_shows_its_unit(nyc_console):
    client, pack = nyc_console["client"], nyc_console["pack"]
    districts = pack.level("cd").units
    assert len(districts) >= 55 and districts.unit_id.str.contains(" ").all()  # "01 Manhattan", "83 Queens", ...
    for unit_id, name, borough in zip(districts.unit_id, districts.name_en, districts.parent_id):
        href = unit_href("cd", unit_id, "en")
        assert " " not in href and client.get(href).status_code == 200
        context = _store_data(_route(client, href), "page-context")
        assert context["unit"] == ["cd", unit_id] and context["parent"] == unit_id
        body = _unit_header(client, context)
        assert body["unit-title"]["children"] == name, unit_id
        crumbs = json.dumps(body["breadcrumbs"]["children"], ensure_ascii=False)
        # the breadcrumb back to the borough and the "brief this" link carry encoded ids
        assert unit_href("borough", borough, "en") in crumbs
        assert f"/briefings?scope=cd%3A{unit_id.replace(' ', '%20')}&lang=en" in crumbs


def test_ranking_map_and_drill_links_of_a_borough_encode_its_districts(nyc_console):
    client = nyc_console["client"]
    queens = nyc_console["pack"].level("cd").units.set_index("unit_id").at["83 Queens", "parent_id"]
    payload = {"output": "..map-spec.data...map-legend.children...ranking.children...ranking-title.children..",
               "outputs": [{"id": "map-spec", "property": "data"}, {"id": "map-legend", "property": "children"},
                           {"id": "ranking", "property": "children"}, {"id": "ranking-title", "property": "children"}],
               "inputs": [{"id": "data-version", "property": "data", "value": 1},
                          {"id": "page-context", "property": "data",
                           "value": {"level_index": 0, "parent": queens, "unit": ["borough", queens], "lang": "en"}},
                          {"id": "url", "property": "search", "value": "?lang=en"}],
               "changedPropIds": ["page-context.data"], "state": []}
    body = client.post("/_dash-update-component", json=payload).get_json()["response"]
    ranking = json.dumps(body["ranking"]["children"], ensure_ascii=False)
    assert "/unit/cd/83%20Queens?lang=en" in ranking and "/unit/cd/83 Queens" not in ranking
    assert body["map-spec"]["data"]["geometry_url"] == f"/geo/cd.geojson?parent={segment(queens)}"
    # the unit's cases page, from the drill link's path, lists the unit's case with the hostile id
    from callbacks.drill import drill_href
    from indicators.drill import default_window

    href = drill_href("cd", "01 Queens", "open_backlog", "numerator", *default_window(), "en")
    assert urlsplit(href).path == "/unit/cd/01%20Queens/cases"
    context = _store_data(_route(client, href), "drill-context")
    assert (context["level"], context["unit_id"]) == ("cd", "01 Queens")
    drill = {"output": "..drill-crumbs.children...drill-title.children...drill-subtitle.children...drill-export.children..."
                       "drill-grid.columnDefs...drill-grid.rowData..",
             "outputs": [{"id": "drill-crumbs", "property": "children"}, {"id": "drill-title", "property": "children"},
                         {"id": "drill-subtitle", "property": "children"}, {"id": "drill-export", "property": "children"},
                         {"id": "drill-grid", "property": "columnDefs"}, {"id": "drill-grid", "property": "rowData"}],
             "inputs": [{"id": "drill-context", "property": "data", "value": context},
                        {"id": "url", "property": "search", "value": "?lang=en"}],
             "changedPropIds": ["drill-context.data"], "state": []}
    body = client.post("/_dash-update-component", json=drill).get_json()["response"]
    assert {row["case_id"] for row in body["drill-grid"]["rowData"]} == {"c-01", HOSTILE_CASE}
    assert unit_href("cd", "01 Queens", "en") in json.dumps(body["drill-crumbs"]["children"], ensure_ascii=False)


def test_case_page_and_api_take_hostile_ids(nyc_console):
    client, tokens = nyc_console["client"], nyc_console["tokens"]
    href = case_href(HOSTILE_CASE, "en")
    assert href == "/case/QN%2001%2F7%20%23a%26b%2B50%25%3F?lang=en"
    context = _store_data(_route(client, href), "case-context")
    assert context["case_id"] == HOSTILE_CASE
    case = {"output": "case-body.children", "outputs": {"id": "case-body", "property": "children"},
            "inputs": [{"id": "case-context", "property": "data", "value": context},
                       {"id": "url", "property": "search", "value": "?lang=en"},
                       {"id": "data-version", "property": "data", "value": 1}],
            "changedPropIds": ["case-context.data"], "state": []}
    body = json.dumps(client.post("/_dash-update-component", json=case).get_json()["response"], ensure_ascii=False)
    assert HOSTILE_CASE in body and unit_href("cd", "01 Queens", "en") in body and "Case not found" not in body

    def cases(token, **query):
        response = client.get("/api/v1/cases", query_string=query, headers={"Authorization": f"Bearer {tokens[token]}"})
        assert response.status_code == 200, response.get_data(as_text=True)
        return {row["case_id"] for row in response.get_json()["rows"]}

    # unit=cd:83 Queens, sent percent-encoded by the client (query_string encodes it, as a browser or requests does)
    assert cases("admin", unit=unit_param("cd", "83 Queens")) == {"c-83"}
    assert cases("admin", unit=unit_param("cd", "01 Queens")) == {"c-01", HOSTILE_CASE}
    assert cases("queens") == {"c-01", HOSTILE_CASE}  # a token scoped to cd:01 Queens
    raw = client.get("/api/v1/cases?unit=cd%3A02%20Staten%20Island", headers={"Authorization": f"Bearer {tokens['admin']}"})
    assert {row["case_id"] for row in raw.get_json()["rows"]} == {"c-si"}
    # Open311's one-request read: the "/" of the id arrives decoded from %2F and still finds it
    one = client.get(f"/open311/v2/requests/{segment(HOSTILE_CASE)}.json")
    assert one.status_code == 200 and [r["service_request_id"] for r in one.get_json()] == [HOSTILE_CASE]


def test_sign_in_comes_back_to_the_encoded_unit(nyc_console):
    """Without a session the gate sends a visitor to /login?next=: the WSGI server decoded %2F and
    %23 in request.path, so next= is the path as the browser sent it, not as Flask sees it."""
    client = nyc_console["signed"]
    for href in (unit_href("cd", "83 Queens", "en"), unit_href("cd", "a#b/c%d", "zh", indicator="x&y")):
        response = client.get(href)
        assert response.status_code == 302
        assert parse_qs(urlsplit(response.headers["Location"]).query)["next"] == [href]
