"""Ids are data, in real Chromium: a city whose unit ids hold spaces, "/", "#", "&", "+", "%", "?" and
Chinese; its unit pages open from a typed URL, the breadcrumb, a map click and the ranking."""
import json
import os
import re

import pytest

from tests.conftest import free_port, new_page, serve_console
from views.links import unit_href

ZONE, OTHER_ZONE = "North / East 1", "South 2"
BLOCK, OTHER_BLOCK = "a/b c", "d#e&f+g%h?東"


def _square(lon, lat, size):
    return [[[lon, lat], [lon + size, lat], [lon + size, lat + size], [lon, lat + size], [lon, lat]]]


def _geojson(units):
    return json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"uid": uid, "name": name, "name_en": name},
         "geometry": {"type": "Polygon", "coordinates": _square(*box)}} for uid, name, box in units]}, ensure_ascii=False)


@pytest.fixture(scope="module")
def hostile_city(tmp_path_factory):
    """A two-level city pack written here, served with `app.py serve --no-simulate` in demo mode."""
    pack = tmp_path_factory.mktemp("hostile-pack")
    (pack / "city.toml").write_text("""[city]
id = "hostile"
name_zh = "怪名市"
name_en = "Odd Ids City"
timezone = "Europe/Berlin"
default_lang = "en"

[[levels]]
id = "zone"
name_zh = "区"
name_en = "Zone"
file = "zones.geojson"
id_field = "uid"
name_field = "name"
name_en_field = "name_en"

[[levels]]
id = "block"
name_zh = "块"
name_en = "Block"
file = "blocks.geojson"
id_field = "uid"
name_field = "name"
name_en_field = "name_en"

[calendar]
workdays = [1, 2, 3, 4, 5]
""", encoding="utf-8")
    (pack / "zones.geojson").write_text(_geojson([(ZONE, "North East zone", (13.0, 52.0, 0.2)),
                                                  (OTHER_ZONE, "South zone", (13.0, 51.8, 0.2))]), encoding="utf-8")
    (pack / "blocks.geojson").write_text(_geojson([(BLOCK, "Block AB", (13.0, 52.0, 0.1)),
                                                   (OTHER_BLOCK, "Block East", (13.1, 52.0, 0.1)),
                                                   ("s1", "Block South", (13.0, 51.8, 0.2))]), encoding="utf-8")
    (pack / "departments.csv").write_text("department_id,name_zh,name_en\nworks / roads,道路,Roads & Works\n", encoding="utf-8")
    (pack / "categories.csv").write_text("category_id,name_zh,name_en,kind,lead_department,assist_departments,"
                                         "time_limit_hours,calendar\npot hole #1,坑,Pot hole,event,works / roads,,24,natural\n",
                                         encoding="utf-8")
    data_dir = tmp_path_factory.mktemp("hostile-data")
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    env.update({"PORT": str(free_port()), "CITYBRAIN_DATA_DIR": str(data_dir), "CITYBRAIN_CITY": str(pack),
                "CITYBRAIN_HISTORY_DAYS": "0", "CITYBRAIN_DEMO": "1", "CITYBRAIN_LOG_LEVEL": "WARNING"})
    with serve_console(data_dir, env, args=("--no-simulate",)) as url:
        yield url


def test_units_with_spaces_slashes_and_symbols_open_from_every_link(browser, hostile_city):
    page = new_page(browser, hostile_city)
    try:
        page.goto(hostile_city + unit_href("block", BLOCK, "en"))
        page.wait_for_selector("#unit-title:has-text('Block AB')", timeout=20000)
        # what Dash's router matched: the browser keeps %2F in location.pathname (nothing decoded it)
        assert page.evaluate("location.pathname") == "/unit/block/a%2Fb%20c"
        # the breadcrumb up to the zone
        page.locator("#breadcrumbs a", has_text="North East zone").click()
        page.wait_for_selector("#unit-title:has-text('North East zone')", timeout=15000)
        assert page.evaluate("location.pathname") == "/unit/zone/North%20%2F%20East%201"
        # a click on the map (assets/deckmap.js navigateToUnit) opens the block under it
        page.wait_for_selector("#map-container[data-deck-ready='1'] canvas", timeout=30000)
        page.wait_for_selector(f"#ranking li[data-unit='{OTHER_BLOCK}']", timeout=15000)
        x, y = page.evaluate("""() => { const c = document.getElementById('map-container');
                                         const v = c.__deck.getViewports()[0];
                                         const [px, py] = v.project([13.15, 52.05]);
                                         const r = c.getBoundingClientRect(); return [r.left + px, r.top + py]; }""")
        page.mouse.click(x, y)
        page.wait_for_selector("#unit-title:has-text('Block East')", timeout=15000)
        assert page.evaluate("decodeURIComponent(location.pathname)") == f"/unit/block/{OTHER_BLOCK}"
        # back to the zone, and its ranking's link to the other block
        page.go_back()
        page.wait_for_selector("#unit-title:has-text('North East zone')", timeout=15000)
        page.locator(f"#ranking li[data-unit='{BLOCK}'] a").click()
        page.wait_for_selector("#unit-title:has-text('Block AB')", timeout=15000)
        assert re.search(r"\?lang=en$", page.url)
        assert "Unit not found" not in page.inner_text("body")
        assert page.citybrain_errors == [] and page.citybrain_external == []
    finally:
        page.context.close()
