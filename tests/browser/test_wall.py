"""The wall (/wall) in real Chromium: one screen at 1080p and 4K, large type, live within 2 s,
stalled feeds turn red, a lost server is announced, nothing leaves the origin."""
import datetime as dt
import os
import re
import subprocess
import sys
import time
import urllib.request

import pytest

from tests.conftest import ROOT, free_port, wait_http

ARTIFACTS = ROOT / "test-artifacts"

# Smallest computed font size of any visible element holding text of its own.
SMALLEST_TEXT = """() => {
  let min = Infinity, who = '';
  for (const el of document.querySelectorAll('body *')) {
    if (!Array.from(el.childNodes).some(n => n.nodeType === 3 && n.textContent.trim())) continue;
    const r = el.getBoundingClientRect(), cs = getComputedStyle(el);
    if (r.width === 0 || r.height === 0 || cs.visibility === 'hidden' || cs.opacity === '0') continue;
    const size = parseFloat(cs.fontSize);
    if (size < min) { min = size; who = (el.id || el.className) + ': ' + el.textContent.trim().slice(0, 30); }
  }
  return [min, who];
}"""


def new_page(browser, origin, width, height):
    context = browser.new_context(viewport={"width": width, "height": height}, locale="zh-CN")  # the UI follows Accept-Language
    page = context.new_page()
    page.citybrain_external = []
    page.citybrain_errors = []
    page.on("request", lambda r: r.url.startswith((origin, "data:", "blob:")) or page.citybrain_external.append(r.url))
    page.on("console", lambda m: m.type == "error" and page.citybrain_errors.append(m.text))
    page.on("pageerror", lambda e: page.citybrain_errors.append(str(e)))
    return page


def open_wall(page, url):
    page.goto(url)
    page.wait_for_selector("#map-container[data-deck-ready='1'] canvas", timeout=30000)
    page.wait_for_selector(".wall-kpi[data-metric='cases_reported']", timeout=30000)
    page.wait_for_selector(".wall-feed[data-feed='cases']", timeout=30000)
    page.wait_for_timeout(1000)  # a few frames


def kpi_number(page, metric="cases_reported") -> int:
    text = page.locator(f".wall-kpi[data-metric='{metric}'] .wall-kpi-value").inner_text()
    digits = re.sub(r"\D", "", text)
    return int(digits) if digits else 0


def case(case_id: str) -> dict:
    return {"case_id": case_id, "reported_at": dt.datetime.now(dt.UTC).isoformat(), "category": "noise",
            "lat": 39.91, "lon": 116.41, "description": "wall latency probe"}


@pytest.mark.parametrize("width,height", [(1920, 1080), (3840, 2160)])
def test_wall_is_one_screen_of_large_text_and_stays_on_the_origin(browser, served_console, width, height):
    origin = served_console["url"]
    page = new_page(browser, origin, width, height)
    try:
        open_wall(page, origin + "/wall")
        if ARTIFACTS.exists():
            page.screenshot(path=str(ARTIFACTS / f"wall-{width}x{height}.png"))
        sizes = page.evaluate("() => [document.documentElement.scrollWidth, document.documentElement.scrollHeight, innerWidth, innerHeight]")
        assert sizes[0] <= sizes[2] and sizes[1] <= sizes[3], f"scrollbars: {sizes}"
        smallest, who = page.evaluate(SMALLEST_TEXT)
        assert smallest >= 18 * height / 1080, f"text {smallest}px at {width}x{height}: {who}"
        assert not page.locator(".shell > .header").is_visible()  # the wall is one clean screen
        # every KPI of the column, with a status from the catalog thresholds
        metrics = page.locator(".wall-kpi").evaluate_all("els => els.map(e => [e.dataset.metric, e.dataset.status])")
        assert [m for m, _ in metrics] == ["cases_reported", "cases_closed", "closure_rate", "on_time_closure_rate",
                                           "open_backlog", "overdue_open", "pm25_mean", "device_online_rate", "wait_mean_minutes"]
        statuses = dict(metrics)  # counts have no city-wide target (the catalog's are per unit): not judged
        assert all(statuses[m] == "count" for m in ("cases_reported", "cases_closed", "open_backlog", "overdue_open"))
        assert all(statuses[m] in ("green", "amber", "red", "none")
                   for m in ("closure_rate", "on_time_closure_rate", "pm25_mean", "device_online_rate", "wait_mean_minutes"))
        assert page.locator(".wall-feed").count() == 3
        text = page.inner_text("body")
        for words in ("结案率", "按期结案率", "联动派遣", "在办案件数"):
            assert words in text
        # the demo city's seeded orders are on the board, the late ones marked (dispatch/demo.py)
        assert "暂无进行中的派遣" not in text and "超时" in text
        value = page.locator(".wall-kpi[data-metric='cases_reported'] .wall-kpi-value")
        assert float(value.evaluate("e => parseFloat(getComputedStyle(e).fontSize)")) >= 60 * height / 1080
        assert page.citybrain_external == []
        assert page.citybrain_errors == []
    finally:
        page.context.close()


def test_english_wall(browser, served_console):
    page = new_page(browser, served_console["url"], 1920, 1080)
    try:
        open_wall(page, served_console["url"] + "/wall?lang=en")
        text = page.inner_text("body")
        assert "Closure rate" in text and "Joint dispatch" in text and "late" in text  # the demo's seeded orders
        assert page.evaluate(SMALLEST_TEXT)[0] >= 18
        assert page.evaluate("() => document.documentElement.scrollHeight <= innerHeight")
        assert page.citybrain_errors == []
    finally:
        page.context.close()


def test_a_case_from_redis_reaches_the_live_wall_within_2_s(browser, served_console):
    """The demo console keeps simulating, so the probe is a batch only it can explain (+300 at once)."""
    from datasources.bus import RedisStreamBus

    page = new_page(browser, served_console["url"], 1920, 1080)
    try:
        open_wall(page, served_console["url"] + "/wall")
        before = kpi_number(page)
        bus = RedisStreamBus(served_console["redis_url"])
        started = time.monotonic()
        bus.publish("cases", [case(f"wall-live-{i}-{time.time_ns()}") for i in range(300)])
        page.wait_for_function(
            f"""() => parseInt((document.querySelector(".wall-kpi[data-metric='cases_reported'] .wall-kpi-value")
                     .innerText || '').replace(/\\D/g, '') || '0') >= {before + 300}""", timeout=10000, polling=50)
        elapsed = time.monotonic() - started
        bus.close()
        print(f"\nwall live update (demo console, 300 cases via Redis): {elapsed:.2f} s")
        assert elapsed <= 2.5
    finally:
        page.context.close()


def test_wall_says_so_when_the_server_is_lost(browser, served_console):
    page = new_page(browser, served_console["url"], 1920, 1080)
    try:
        open_wall(page, served_console["url"] + "/wall")
        assert page.locator("#wall-offline").get_attribute("data-state") == "online"
        page.route(re.compile(r"/_dash-update-component"), lambda route: route.abort())
        page.wait_for_selector("#wall-offline[data-state='offline']", timeout=12000)  # 3 poll intervals + slack
        assert "失去连接" in page.locator("#wall-offline").inner_text()
        assert page.locator("#wall-offline").is_visible()
        page.unroute(re.compile(r"/_dash-update-component"))
        page.wait_for_selector("#wall-offline[data-state='online']", state="attached", timeout=12000)
        assert not page.locator("#wall-offline").is_visible()
    finally:
        page.context.close()


def test_wall_heals_by_itself_after_a_brief_outage(browser, served_console):
    """The first callbacks and the first geometry fetch fail (503, then a dropped connection):
    the wall still draws its map and numbers without a reload (assets/link.js, deckmap.js)."""
    page = new_page(browser, served_console["url"], 1920, 1080)
    failed = {"callbacks": 0, "geometry": 0}

    def fail_callback(route):
        if failed["callbacks"] < 4:
            failed["callbacks"] += 1
            route.fulfill(status=503, headers={"Retry-After": "1"}, body="writer unavailable")
        else:
            route.continue_()

    def fail_geometry(route):
        if failed["geometry"] < 1:
            failed["geometry"] += 1
            route.abort()
        else:
            route.continue_()

    try:
        page.route(re.compile(r"/_dash-update-component"), fail_callback)
        page.route(re.compile(r"/geo/.*\.geojson"), fail_geometry)
        open_wall(page, served_console["url"] + "/wall")
        assert failed == {"callbacks": 4, "geometry": 1}
        assert page.evaluate("() => window.citybrainRetries") >= 4
        assert kpi_number(page) > 0
        assert page.locator("#map-container").get_attribute("data-error") is None
    finally:
        page.context.close()


# ---------------------------------------------------------------- a quiet console (no simulator)


@pytest.fixture(scope="module")
def quiet_console(tmp_path_factory, redis_server):
    """Not in demo mode, nothing simulated, feeds amber after 3 s and red after 6 s; a wall kiosk
    token issued before the server opens the store. Its own Redis database (9)."""
    import redis

    port = free_port()
    data_dir = tmp_path_factory.mktemp("quiet")
    redis_url = redis_server.rsplit("/", 1)[0] + "/9"
    redis.Redis.from_url(redis_url).flushdb()
    env = {**os.environ, "PORT": str(port), "CITYBRAIN_DATA_DIR": str(data_dir), "CITYBRAIN_SIMULATE": "0",
           "CITYBRAIN_FEED_AMBER_S": "3", "CITYBRAIN_FEED_RED_S": "6", "REDIS_URL": redis_url,
           "CITYBRAIN_CASE_FEED_AMBER_S": "3", "CITYBRAIN_CASE_FEED_RED_S": "6",
           "CITYBRAIN_DEMO": "0", "CITYBRAIN_LOG_LEVEL": "WARNING"}
    issued = subprocess.run([sys.executable, str(ROOT / "app.py"), "users", "token", "wall-screen", "--role", "wall"],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=True)
    token = issued.stdout.strip().splitlines()[-1].strip()
    log = open(data_dir / "server.log", "w")
    proc = subprocess.Popen([sys.executable, str(ROOT / "app.py"), "serve"], cwd=ROOT, env=env, stdout=log, stderr=log)
    try:
        wait_http(f"http://127.0.0.1:{port}/healthz", timeout=120, proc=proc)
        yield {"url": f"http://127.0.0.1:{port}", "token": token, "redis_url": redis_url}
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def test_without_demo_the_wall_needs_a_kiosk_token(quiet_console):
    with urllib.request.urlopen(quiet_console["url"] + "/wall") as response:  # redirected to the login page
        assert "/login" in response.url


def test_one_case_reaches_the_wall_within_2_s_and_a_stalled_feed_turns_red(browser, quiet_console):
    from datasources.bus import RedisStreamBus

    origin = quiet_console["url"]
    page = new_page(browser, origin, 1920, 1080)
    try:
        open_wall(page, f"{origin}/wall?kiosk={quiet_console['token']}")
        cases = page.locator(".wall-feed[data-feed='cases']")
        assert cases.get_attribute("data-state") == "red"  # nothing ever received: never silently green
        before = kpi_number(page)
        bus = RedisStreamBus(quiet_console["redis_url"])
        started = time.monotonic()
        bus.publish("cases", [case(f"wall-one-{time.time_ns()}")])
        page.wait_for_function(
            f"""() => parseInt((document.querySelector(".wall-kpi[data-metric='cases_reported'] .wall-kpi-value")
                     .innerText || '').replace(/\\D/g, '') || '0') === {before + 1}""", timeout=10000, polling=50)
        elapsed = time.monotonic() - started
        bus.close()
        print(f"\nwall live update (quiet console, one case via Redis): {elapsed:.2f} s")
        assert elapsed <= 2.5
        # the feed is live now, then stalls: amber after 3 s, red after 6 s, and the ticker says so
        page.wait_for_selector(".wall-feed[data-feed='cases']:not([data-state='red'])", timeout=5000)
        page.wait_for_selector(".wall-feed[data-feed='cases'][data-state='red']", timeout=12000)
        alert = page.locator("#wall-alerts-feeds li[data-feed='cases']")
        assert alert.count() == 1 and "案件" in alert.inner_text()
        if ARTIFACTS.exists():
            page.screenshot(path=str(ARTIFACTS / "wall-stalled.png"))
        assert page.citybrain_external == []
        assert page.citybrain_errors == []
    finally:
        page.context.close()
