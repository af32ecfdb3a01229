"""Real Chromium against the served console: the map draws, names are text, a click drills down."""
import io
import re
import time

import pytest
from PIL import Image

from tests.conftest import ROOT

@pytest.fixture
def page(browser, served_console):
    context = browser.new_context(viewport={"width": 1600, "height": 900}, locale="zh-CN")  # the UI follows Accept-Language
    page = context.new_page()
    page.citybrain_external = []
    page.citybrain_errors = []
    origin = served_console["url"]
    page.on("request", lambda r: r.url.startswith((origin, "data:", "blob:")) or page.citybrain_external.append(r.url))
    page.on("console", lambda m: m.type == "error" and page.citybrain_errors.append(m.text))
    page.on("pageerror", lambda e: page.citybrain_errors.append(str(e)))
    yield page
    context.close()


def open_map(page, url):
    page.goto(url)
    page.wait_for_selector("#map-container[data-deck-ready='1'] canvas", timeout=30000)
    page.wait_for_function("() => document.querySelector('#map-container').dataset.version !== undefined", timeout=30000)
    page.wait_for_timeout(1000)  # a few frames


def coloured_pixels(png: bytes) -> float:
    """Share of pixels that are clearly coloured (the district fills), not the dark background."""
    image = Image.open(io.BytesIO(png)).convert("RGB").resize((200, 120))
    pixels = list(image.get_flattened_data())
    coloured = [p for p in pixels if max(p) - min(p) > 60 and max(p) > 120]
    return len(coloured) / len(pixels)


def test_map_renders_names_are_text_and_nothing_leaves_the_origin(page, served_console):
    open_map(page, served_console["url"] + "/")
    canvas = page.locator("#map-container canvas").first
    assert coloured_pixels(canvas.screenshot()) > 0.15  # WebGL drew the districts
    ranking = page.locator("#ranking li").all_inner_texts()
    assert len(ranking) == 16
    text = " ".join(ranking)
    for name in ("朝阳区", "海淀区", "东城区", "延庆区"):
        assert name in text
    page.screenshot(path=str(ROOT / "test-artifacts" / "overview.png")) if (ROOT / "test-artifacts").exists() else None
    assert page.citybrain_external == []
    assert page.citybrain_errors == []


def test_clicking_a_district_on_the_map_opens_its_page(page, served_console):
    open_map(page, served_console["url"] + "/?lang=zh")
    # Chaoyang's representative point, projected by the live deck instance to a pixel
    x, y = page.evaluate(
        """() => { const c = document.getElementById('map-container');
                   const v = c.__deck.getViewports()[0];
                   const [px, py] = v.project([116.52, 39.95]);
                   const r = c.getBoundingClientRect(); return [r.left + px, r.top + py]; }"""
    )
    page.mouse.click(x, y)
    page.wait_for_url(re.compile(r"/unit/district/110105"), timeout=15000)
    page.wait_for_selector("#unit-title:has-text('朝阳区')", timeout=15000)
    assert page.locator(".kpi[data-metric='open_cases'] .kpi-value").inner_text().replace(",", "").isdigit()
    page.wait_for_selector("#map-container[data-deck-ready='1'] canvas", timeout=30000)
    assert len(page.locator("#ranking li").all()) > 20  # Chaoyang's grid cells
    page.go_back()  # same-document history: the overview comes back with its ranking
    page.wait_for_function("() => location.pathname === '/' && location.search === '?lang=zh'", timeout=15000)
    page.wait_for_selector("#ranking li[data-unit='110105']", timeout=15000)
    assert page.citybrain_errors == []


def test_ranking_link_and_language_switch(page, served_console):
    open_map(page, served_console["url"] + "/?lang=en")
    assert "Chaoyang" in " ".join(page.locator("#ranking li").all_inner_texts())
    page.locator("#ranking li[data-unit='110108'] a").click()
    page.wait_for_url(re.compile(r"/unit/district/110108\?lang=en"), timeout=15000)
    page.wait_for_selector("#unit-title:has-text('Haidian')", timeout=15000)
    page.locator("#lang-link").click()
    page.wait_for_selector("#unit-title:has-text('海淀区')", timeout=15000)


def test_header_shows_live_feeds_and_the_version_moves(page, served_console):
    import redis

    open_map(page, served_console["url"] + "/?lang=en")
    badges = page.locator(".feed-badge")
    assert badges.count() == 3
    assert page.locator(".feed-badge[data-feed='cases']").get_attribute("data-state") == "ok"
    # the simulator keeps writing; the version published on Redis follows the store
    client = redis.Redis.from_url(served_console["redis_url"])
    first = int(client.get("citybrain:data_version"))
    shown = page.locator("#as-of").inner_text()
    deadline = time.monotonic() + 75  # sensor readings land at least once a minute
    while int(client.get("citybrain:data_version")) == first and time.monotonic() < deadline:
        time.sleep(0.5)
    assert int(client.get("citybrain:data_version")) > first
    page.wait_for_function(f"() => document.querySelector('#as-of').innerText !== {shown!r}", timeout=10000)


def test_a_district_leader_signs_in_and_sees_only_their_district(page, served_console):
    log = served_console["log"].read_text()
    password = re.search(r"^\s+leader\s+district_leader\s+(\S+)$", log, re.M).group(1)
    page.goto(served_console["url"] + "/login?lang=zh")
    page.fill("input[name=name]", "leader")
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_selector("#map-container[data-deck-ready='1'] canvas", timeout=30000)
    page.wait_for_selector("#ranking li", timeout=15000)
    units = [li.get_attribute("data-unit") for li in page.locator("#ranking li").all()]
    assert units == ["110101"]  # the demo leader's district (the pack's first)
    assert "leader" in page.locator("#user-link").inner_text()
    page.goto(served_console["url"] + "/unit/district/110105?lang=zh")  # another district, typed by hand
    page.wait_for_selector("#unit-title:has-text('未找到该单元')", timeout=15000)
    assert page.locator("#scorecard .kpi").count() == 0
    assert page.citybrain_errors == []


def test_journey_map_to_district_to_rate_to_cases_to_one_case_and_back(page, served_console):
    open_map(page, served_console["url"] + "/?lang=zh")
    x, y = page.evaluate(
        """() => { const c = document.getElementById('map-container'); const v = c.__deck.getViewports()[0];
                   const [px, py] = v.project([116.52, 39.95]); const r = c.getBoundingClientRect();
                   return [r.left + px, r.top + py]; }""")
    page.mouse.click(x, y)
    page.wait_for_selector("#unit-title:has-text('朝阳区')", timeout=15000)
    rate = page.locator(".kpi-link:has(.kpi[data-metric='cases_reported'])")
    rate.wait_for(timeout=15000)
    reported = int(rate.locator(".kpi-value").inner_text().replace(",", ""))
    rate.click()
    page.wait_for_url(re.compile(r"/unit/district/110105/cases\?indicator=cases_reported"), timeout=15000)
    page.wait_for_selector(".ag-row", timeout=20000)
    assert f"{reported} 件" in page.locator("#drill-title").inner_text().replace(",", "")
    first_id = page.locator(".ag-row .ag-cell[col-id='case_id']").first.inner_text()
    page.locator(".ag-row .ag-cell[col-id='case_id']").first.click()
    page.wait_for_url(re.compile(r"/case/"), timeout=15000)
    page.wait_for_selector(f"#case-title:has-text('{first_id}')", timeout=15000)
    assert page.locator("#case-timeline li").count() >= 1
    page.go_back()
    page.wait_for_function("() => location.pathname.endsWith('/cases')", timeout=15000)
    page.go_back()
    page.wait_for_function("() => location.pathname === '/unit/district/110105'", timeout=15000)
    page.wait_for_selector("#unit-title:has-text('朝阳区')", timeout=15000)
    assert page.citybrain_external == [] and page.citybrain_errors == []


def demo_password(served_console, user):
    return re.search(rf"^\s+{user}\s+\S+\s+(\S+)$", served_console["log"].read_text(), re.M).group(1)


def sign_in(page, served_console, user):
    page.goto(served_console["url"] + "/login?lang=zh")
    page.fill("input[name=name]", user)
    page.fill("input[name=password]", demo_password(served_console, user))
    page.click("button[type=submit]")
    page.wait_for_selector("#header-title", timeout=15000)


def test_brief_this_from_a_district_downloads_a_frozen_pdf(page, served_console):
    sign_in(page, served_console, "briefing")
    page.goto(served_console["url"] + "/briefings?scope=district:110105&lang=zh")
    page.wait_for_selector("#brief-generate:has-text('生成简报')", timeout=15000)
    page.click("#brief-generate")
    link = page.locator("#brief-new-pdf")
    link.wait_for(timeout=60000)
    response = page.request.get(served_console["url"] + link.get_attribute("href"))
    assert response.status == 200 and response.body()[:4] == b"%PDF"
    page.wait_for_selector("#brief-archive tr[data-briefing]", timeout=15000)
    assert "district:110105" in page.locator("#brief-archive").inner_text()
    assert page.citybrain_errors == []
