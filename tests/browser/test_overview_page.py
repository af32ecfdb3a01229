"""The city overview in real Chromium at laptop size: KPI ribbon with 环比 and sparklines, the
indicator selector and its threshold legend, alerts (acknowledged by a commander), the joint
dispatch summary, layer toggles that change what deck.gl draws; language from the browser."""
import io
import re

import pytest
from PIL import Image, ImageChops

from tests.conftest import ROOT

ARTIFACTS = ROOT / "test-artifacts"
LAYER_IDS = "() => document.getElementById('map-container').__deck.props.layers.map(l => l.id)"


def new_page(browser, origin, locale="zh-CN", width=1440, height=900):
    context = browser.new_context(viewport={"width": width, "height": height}, locale=locale)
    page = context.new_page()
    page.citybrain_external = []
    page.citybrain_errors = []
    page.on("request", lambda r: r.url.startswith((origin, "data:", "blob:")) or page.citybrain_external.append(r.url))
    page.on("console", lambda m: m.type == "error" and page.citybrain_errors.append(m.text))
    page.on("pageerror", lambda e: page.citybrain_errors.append(str(e)))
    return page


@pytest.fixture
def page(browser, served_console):
    page = new_page(browser, served_console["url"])
    yield page
    page.context.close()


def open_overview(page, url):
    page.goto(url)
    page.wait_for_selector("#map-container[data-deck-ready='1'] canvas", timeout=30000)
    page.wait_for_selector(".ribbon-kpi[data-metric='cases_reported']", timeout=30000)
    page.wait_for_selector("#overview-alerts li", timeout=30000)
    page.wait_for_selector(".dispatch-line", timeout=30000)
    page.wait_for_timeout(1000)  # a few frames


def canvas_png(page) -> bytes:
    return page.locator("#map-container canvas").first.screenshot()


def changed_share(a: bytes, b: bytes) -> float:
    """Share of pixels that differ clearly between two screenshots of the map."""
    one, two = (Image.open(io.BytesIO(x)).convert("RGB").resize((240, 160)) for x in (a, b))
    diff = ImageChops.difference(one, two).convert("L")
    return sum(1 for p in diff.get_flattened_data() if p > 40) / (240 * 160)


def test_overview_shows_kpis_alerts_dispatch_and_a_threshold_legend(page, served_console):
    open_overview(page, served_console["url"] + "/?lang=zh")
    kpis = page.locator(".ribbon-kpi").evaluate_all(
        "els => els.map(e => [e.dataset.metric, e.dataset.status, e.dataset.direction])")
    assert [k[0] for k in kpis] == ["cases_reported", "closure_rate", "on_time_closure_rate", "overdue_open",
                                    "pm25_mean", "device_online_rate", "wait_mean_minutes"]
    statuses = {m: s for m, s, _ in kpis}
    assert statuses["cases_reported"] == "count" and statuses["closure_rate"] in ("green", "amber", "red")
    # three days of history: today's last 24 h against the 24 h before -> an arrow, not "no figure"
    assert dict((m, d) for m, _, d in kpis)["cases_reported"] in ("up", "down", "same")
    assert "环比" in page.locator(".ribbon-kpi[data-metric='cases_reported'] .kpi-change").inner_text()
    assert page.locator(".ribbon-kpi .sparkline").count() == 7
    assert page.locator(".ribbon-kpi[data-metric='cases_reported'] .sparkline").get_attribute("data-points") == "14"
    # the default layer: open backlog against the catalog's thresholds (green <= 100, red > 500)
    legend = page.locator("#map-legend").inner_text()
    assert "未结案数" in legend and "≤ 100" in legend and "> 500" in legend
    # alerts from the alert engine, with severity, scope and evidence; the guest (wall role) may not act
    alerts = page.locator("#overview-alerts li.alert-item")
    assert alerts.count() >= 1
    first = alerts.first
    if first.get_attribute("data-kind") != "none":
        assert first.locator(".sev-badge").count() == 1 and "依据" in first.inner_text()
    assert page.locator(".ack-button").count() == 0
    assert "进行中" in page.locator(".dispatch-line").inner_text()
    assert page.locator(".dispatch-count").count() == 4
    if ARTIFACTS.exists():
        page.screenshot(path=str(ARTIFACTS / "overview-1440x900.png"))
    sizes = page.evaluate("() => [document.documentElement.scrollWidth, innerWidth]")
    assert sizes[0] <= sizes[1], f"horizontal scrollbar at 1440 px: {sizes}"
    assert page.citybrain_external == []
    assert page.citybrain_errors == []


def test_layer_toggles_change_what_the_map_draws(page, served_console):
    open_overview(page, served_console["url"] + "/?lang=zh")
    assert page.evaluate(LAYER_IDS) == ["units", "labels"]
    before = canvas_png(page)
    page.locator("#overview-layers label:has-text('感知设备')").click()
    page.wait_for_selector("#map-container[data-overlays='sensors']", timeout=15000)
    page.wait_for_timeout(800)
    assert page.evaluate(LAYER_IDS) == ["units", "labels", "sensors"]
    silent = page.evaluate("""() => document.getElementById('map-container').__deck.props.layers
        .find(l => l.id === 'sensors').props.data.filter(d => d.status === 'silent').length""")
    assert silent >= 0  # silent devices are drawn (red, larger) when there are any
    with_sensors = canvas_png(page)
    assert changed_share(before, with_sensors) > 0.002, "sensors drew nothing"
    page.locator("#overview-cases-layer label:has-text('蜂窝')").click()
    page.wait_for_selector("#map-container[data-overlays='case-hexbins,sensors']", timeout=15000)
    page.wait_for_timeout(800)
    hexbins = canvas_png(page)
    assert changed_share(with_sensors, hexbins) > 0.01, "case hexbins drew nothing"
    page.locator("#overview-cases-layer label:has-text('热力')").click()
    page.wait_for_selector("#map-container[data-overlays='case-heat,sensors']", timeout=15000)
    page.wait_for_timeout(800)
    assert page.evaluate(LAYER_IDS) == ["units", "labels", "case-heat", "sensors"]
    heat = canvas_png(page)
    assert changed_share(hexbins, heat) > 0.01, "heat looks like hexbins"
    page.locator("#overview-layers label:has-text('政务大厅')").click()
    page.locator("#overview-layers label:has-text('派遣单')").click()
    page.wait_for_selector("#map-container[data-overlays='case-heat,halls,sensors,dispatch']", timeout=15000)
    assert "大厅" in page.locator("#overview-layer-legend").inner_text()
    page.locator("#overview-cases-layer label:has-text('关闭')").click()
    for name in ("感知设备", "政务大厅", "派遣单"):
        page.locator(f"#overview-layers label:has-text('{name}')").click()
    page.wait_for_selector("#map-container[data-overlays='']", timeout=15000)
    assert page.evaluate(LAYER_IDS) == ["units", "labels"]
    if ARTIFACTS.exists():
        page.locator("#overview-cases-layer label:has-text('蜂窝')").click()
        page.locator("#overview-layers label:has-text('感知设备')").click()
        page.wait_for_selector("#map-container[data-overlays='case-hexbins,sensors']", timeout=15000)
        page.wait_for_timeout(800)
        page.screenshot(path=str(ARTIFACTS / "overview-layers-1440x900.png"))
    assert page.citybrain_external == []
    assert page.citybrain_errors == []


def test_indicator_selector_recolours_the_districts(page, served_console):
    open_overview(page, served_console["url"] + "/?lang=zh")
    fills = "() => JSON.stringify(document.getElementById('map-container').__deck.props.layers[0].props.data.map(f => f.properties._fill))"
    before = page.evaluate(fills)
    page.locator("#overview-indicator").click()
    page.locator(".dash-dropdown-option:has(input[value='closure_rate'])").click()
    page.wait_for_function("() => document.getElementById('map-legend').innerText.includes('结案率')", timeout=15000)
    legend = page.locator("#map-legend").inner_text()
    assert "≥ 95%" in legend and "< 85%" in legend
    page.wait_for_function(f"() => ({fills})() !== {before!r}", timeout=15000)
    # a deep link opens with the indicator chosen
    open_overview(page, served_console["url"] + "/?lang=en&indicator=pm25_mean")
    assert "PM2.5" in page.locator("#map-legend").inner_text()
    assert page.citybrain_errors == []


def demo_password(served_console, user):
    return re.search(rf"^\s+{user}\s+\S+\s+(\S+)$", served_console["log"].read_text(), re.M).group(1)


def test_a_commander_acknowledges_an_alert(page, served_console):
    page.goto(served_console["url"] + "/login?lang=zh")
    page.fill("input[name=name]", "commander")
    page.fill("input[name=password]", demo_password(served_console, "commander"))
    page.click("button[type=submit]")
    open_overview(page, served_console["url"] + "/?lang=zh")
    button = page.locator(".ack-button").first
    button.wait_for(timeout=30000)
    alert_id = button.get_attribute("data-alert")
    button.click()
    page.wait_for_selector(f".ack-done[data-alert='{alert_id}']", timeout=15000)
    page.wait_for_selector(f"li.alert-item[data-alert='{alert_id}'][data-state='acknowledged']", timeout=15000)
    assert page.locator(f"li.alert-item[data-alert='{alert_id}'] .ack-button").count() == 0
    assert page.citybrain_errors == []


def test_language_follows_the_browser_and_the_choice_is_remembered(browser, served_console):
    origin = served_console["url"]
    page = new_page(browser, origin, locale="en-US")
    try:
        open_overview(page, origin + "/")
        assert "Alerts" in page.locator("#overview-alerts-title").inner_text()
        open_overview(page, origin + "/?lang=zh")  # the override ...
        open_overview(page, origin + "/")             # ... is remembered without ?lang=
        assert "预警" in page.locator("#overview-alerts-title").inner_text()
        # AG Grid speaks Chinese too
        page.goto(origin + "/unit/district/110105/cases?indicator=cases_reported&part=numerator&start=2020-01-01&end=2100-01-01")
        page.wait_for_selector(".ag-row", timeout=20000)
        assert "页" in page.locator(".ag-paging-panel").inner_text()
        assert page.citybrain_errors == [] and page.citybrain_external == []
    finally:
        page.context.close()
    zh = new_page(browser, origin, locale="zh-CN")
    try:
        open_overview(zh, origin + "/")
        assert "预警" in zh.locator("#overview-alerts-title").inner_text()
    finally:
        zh.context.close()
