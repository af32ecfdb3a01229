"""Joint dispatch in real Chromium: a commander ticks a district's overdue cases and dispatches them
to two departments; each department acknowledges and resolves from its queue; the commander
verifies and closes; the cases close and the district's closure rate moves on screen.

Its own console (embedded store, no Redis): department users for every department are added to
the store before it starts (with a password the test knows), and the simulator is idle, so the
closure rate moves by exactly the cases dispatched. The cases it dispatches do not depend on the
random, time-of-day history: three overdue cases of one category (one assisting department) are
pushed through the API once the console is up, the newest overdue cases of the district. A second flow launches from an alert and from
a box drawn on the map, then extends and cancels the order on the queue.
"""
import datetime as dt
import json
import os
import re
import time
import urllib.request

import pytest

from tests.conftest import BEIJING, ROOT, free_port, new_page, serve_console

PASSWORD = "dispatch journey pw"
DISTRICT = "110105"  # Chaoyang: the most cases
SEEDED_CATEGORY = "sewage_overflow"  # lead huanbao, one assisting department (shuiwu)
ARTIFACTS = ROOT / "test-artifacts"


@pytest.fixture(scope="module")
def dispatch_console(tmp_path_factory):
    from datasources.store import Store
    from security.users import add_user
    from datasources.citypack import load_pack
    from settings import Settings

    data_dir = tmp_path_factory.mktemp("dispatch")
    pack = load_pack(BEIJING)
    from security.tokens import issue_token

    store = Store(Settings.load(env={}, data_dir=data_dir).db_path)
    try:
        for department in pack.departments.department_id:
            add_user(store, pack, f"d-{department}", "department", [f"department:{department}"], PASSWORD)
        source_token = issue_token(store, "journey-seed", "source")
    finally:
        store.close()
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    env.update({"PORT": str(port), "CITYBRAIN_DATA_DIR": str(data_dir), "CITYBRAIN_HISTORY_DAYS": "3",
                "CITYBRAIN_SIMULATE_INTERVAL_S": "3600", "CITYBRAIN_DEMO": "1", "CITYBRAIN_LOG_LEVEL": "WARNING"})
    with serve_console(data_dir, env, timeout=180) as url:
        commander = re.search(r"^\s+commander\s+commander\s+(\S+)$", (data_dir / "server.log").read_text(), re.M).group(1)
        categories = pack.categories.set_index("category_id")
        assert len(categories.at[SEEDED_CATEGORY, "assist_departments"]) == 1
        seeded = seed_overdue_cases(url, source_token, pack)
        yield {"url": url, "commander": commander, "categories": categories, "log": data_dir / "server.log", "pack": pack,
               "seeded": seeded}


def seed_overdue_cases(url, token, pack):
    """Three open cases in DISTRICT, reported 20 minutes ago and due 5 minutes ago: overdue, and newer
    than any overdue case of the history (the shortest time limit is 2 h), so first in the grid."""
    district = pack.levels[0].units.set_index("unit_id").geometry[DISTRICT]
    point = district.representative_point()
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    records = [{"case_id": f"JOURNEY-{i}", "source": "hotline", "category": SEEDED_CATEGORY,
                "description": "污水外溢 (journey test)", "reported_at": (now - dt.timedelta(minutes=20 + i)).isoformat(),
                "due_at": (now - dt.timedelta(minutes=5)).isoformat(), "lat": point.y, "lon": point.x,
                "priority": 2, "status": "registered", "department": "huanbao"} for i in range(3)]
    request = urllib.request.Request(url + "/api/v1/cases", data=json.dumps(records).encode(), method="POST",
                                     headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        answer = json.loads(response.read())
    assert answer["accepted"] == 3 and answer["quarantined"] == 0, answer
    return [r["case_id"] for r in records]


def sign_in(page, url, name, password):
    page.goto(url + "/login?lang=zh")
    page.fill("input[name=name]", name)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    try:  # the first page of a console just started can take a while on a loaded machine
        page.wait_for_selector("#header-title", timeout=45000)
    except Exception as exc:  # say why: where the browser is and what the login page says
        raise AssertionError(f"{name} not signed in: at {page.url}: {page.inner_text('body')[:300]!r}") from exc


def closure(page, url):
    """The district's closure rate card: (shown value, numerator, denominator)."""
    page.goto(f"{url}/unit/district/{DISTRICT}?lang=zh")
    card = page.locator(".kpi[data-metric='closure_rate']")
    card.wait_for(timeout=30000)
    parts = card.locator(".kpi-parts a").all_inner_texts()
    return card.locator(".kpi-value").inner_text(), int(parts[0].replace(",", "")), int(parts[1].replace(",", ""))


def shot(page, name):
    if ARTIFACTS.exists():
        page.screenshot(path=str(ARTIFACTS / name), full_page=True)


def work_task(page, url, order_id, actions):
    """Press the order's buttons one after the other on the queue page, each time on the fresh row."""
    page.goto(url + "/queue?lang=zh&view=all")
    row = page.locator(f".queue-row[data-order='{order_id}']")
    row.wait_for(timeout=20000)
    for action in actions:
        if action == "progress":
            row.locator(".queue-actions input[type=text]").fill("现场已处置一半")
        version = int(row.get_attribute("data-version"))
        row.locator(f"button[data-action='{action}']").click()
        page.wait_for_selector(f".queue-message .message.ok[data-action='{action}']", timeout=15000)
        page.wait_for_function(
            f"() => {{ const r = document.querySelector(\".queue-row[data-order='{order_id}']\");"
            f" return r && Number(r.dataset.version) > {version}; }}", timeout=15000)
    return row


def test_commander_dispatches_overdue_cases_departments_resolve_commander_verifies_rate_moves(browser, dispatch_console):
    url, categories = dispatch_console["url"], dispatch_console["categories"]
    commander = new_page(browser, url, 1600, 1000)
    sign_in(commander, url, "commander", dispatch_console["commander"])
    rate_before, closed_before, due_before = closure(commander, url)

    # the district's overdue open cases, from its rate card
    commander.locator(".kpi-link:has(.kpi[data-metric='overdue_open'])").click()
    commander.wait_for_url(re.compile(rf"/unit/district/{DISTRICT}/cases\?indicator=overdue_open"), timeout=15000)
    commander.wait_for_selector(".ag-center-cols-container .ag-row", timeout=30000)
    commander.wait_for_selector("#dispatch-open:has-text('勾选案件')", timeout=15000)
    # tick the three seeded cases: the newest overdue ones, so on the grid's first page (the
    # history's other overdue cases are random: the test does not count on them)
    rows = commander.locator(".ag-center-cols-container .ag-row")
    names = {row.name_zh: cid for cid, row in categories.iterrows()}
    shown = [(rows.nth(i).locator(".ag-cell[col-id='case_id']").inner_text(),
              names.get(rows.nth(i).locator(".ag-cell[col-id='category_name']").inner_text())) for i in range(rows.count())]
    picked = [i for i, (case_id, _) in enumerate(shown) if case_id in dispatch_console["seeded"]]
    assert len(picked) == 3, shown[:8]
    category = SEEDED_CATEGORY
    assert {shown[i][1] for i in picked} == {category} and len(categories.at[category, "assist_departments"]) == 1
    lead, assist = categories.at[category, "lead_department"], categories.at[category, "assist_departments"][0]
    case_ids = []
    for i in picked:
        row = rows.nth(i)
        case_ids.append(row.locator(".ag-cell[col-id='case_id']").inner_text())
        row.locator(".ag-selection-checkbox input").click()
    assert sorted(case_ids) == sorted(dispatch_console["seeded"]), case_ids
    commander.wait_for_selector(f"#dispatch-open:has-text('已选 {len(picked)} 件'):not([disabled])", timeout=10000)
    commander.click("#dispatch-open")
    form = commander.locator("#dispatch-form")
    form.wait_for(timeout=15000)
    pack = dispatch_console["pack"]
    dept_names = pack.departments.set_index("department_id").name_zh
    assert dept_names[lead] in form.locator("#dispatch-lead").inner_text()
    assert dept_names[assist] in form.locator("#dispatch-assist").inner_text()
    basis = form.locator("#dispatch-basis-list").inner_text()
    assert "类别规则·主办" in basis and "类别规则·协办" in basis
    assert all(c in form.locator("#dispatch-case-list").inner_text() for c in case_ids)
    deadline = form.locator("#dispatch-deadline").inner_text()
    form.locator("#dispatch-priority label:has-text('P1')").click()  # the deadline follows the priority
    commander.wait_for_function(
        f"() => document.querySelector('#dispatch-deadline').innerText !== {deadline!r}", timeout=10000)
    form.locator("#dispatch-instructions").fill("请于今日内联合处置，完成后拍照回传。")
    shot(commander, "dispatch-launch.png")
    commander.click("#dispatch-submit")
    created = commander.locator("#dispatch-created")
    created.wait_for(timeout=15000)
    order_id = created.get_attribute("data-order")
    assert order_id.startswith("DO-") and dept_names[lead] in created.inner_text()
    assert commander.locator("#dispatch-form").count() == 0  # the form closed

    # each department works its task from its queue
    for department in (lead, assist):
        staff = new_page(browser, url, 1600, 1000)
        sign_in(staff, url, f"d-{department}", PASSWORD)
        assert "派遣任务" in staff.locator("#queue-link").inner_text()
        row = work_task(staff, url, order_id, ["acknowledge", "start", "progress", "resolve"])
        chip = row.locator(f".task-chip[data-department='{department}']")
        assert chip.get_attribute("data-state") == "resolved"
        if department == lead:
            shot(staff, "dispatch-queue-department.png")
        assert staff.citybrain_external == [] and staff.citybrain_errors == [], staff.citybrain_errors
        staff.context.close()

    # the commander verifies and closes
    row = work_task(commander, url, order_id, ["verify", "close"])
    assert row.get_attribute("data-state") == "closed"
    shot(commander, "dispatch-queue-commander.png")

    # the case page shows the closed order with both tasks resolved; the case is closed
    commander.goto(f"{url}/case/{case_ids[0]}?lang=zh")
    card = commander.locator(f"#case-orders .order-card[data-order='{order_id}']")
    card.wait_for(timeout=15000)
    assert card.get_attribute("data-state") == "closed"
    assert {c.get_attribute("data-state") for c in card.locator(".task-chip").all()} == {"resolved"}
    assert "结案" in commander.locator("table.facts").inner_text()
    shot(commander, "dispatch-case.png")

    # the unit page's window ends on the current minute (indicators.drill.default_window): the closures
    # count from the next minute on
    deadline = time.monotonic() + 90
    while True:
        rate_after, closed_after, due_after = closure(commander, url)
        if closed_after != closed_before or time.monotonic() > deadline:
            break
        commander.wait_for_timeout(5000)
    assert closed_after == closed_before + len(case_ids), (closed_before, closed_after)
    assert rate_after != rate_before, (rate_before, rate_after, due_before, due_after)
    assert commander.citybrain_external == [] and commander.citybrain_errors == [], commander.citybrain_errors


def test_commander_dispatches_from_an_alert_and_an_area_then_extends_and_cancels(browser, dispatch_console):
    """The overview's other ways in: an alert's dispatch button and a box drawn on the map open the same
    form; the order records its alert, which follows it. On the queue the commander extends the order
    (a refusal first, in Chinese) and cancels it with a reason."""
    import datetime as dt

    url = dispatch_console["url"]
    page = new_page(browser, url, 1600, 1000)
    sign_in(page, url, "commander", dispatch_console["commander"])
    page.goto(url + "/?lang=zh")
    page.wait_for_selector(".deck-map[data-deck-ready='1']", timeout=30000)
    button = page.locator(".alert-dispatch").first
    button.wait_for(timeout=60000)  # the alert job evaluates at start: the short history makes spikes
    alert_id = button.get_attribute("data-alert")
    button.click()
    page.locator("#dispatch-form").wait_for(timeout=15000)
    assert f"预警 #{alert_id}" in page.locator("#dispatch-origin-line").inner_text()
    assert page.locator("#dispatch-case-list").inner_text().strip()
    shot(page, "dispatch-from-alert.png")
    page.click("#dispatch-submit")
    created = page.locator("#dispatch-created")
    created.wait_for(timeout=15000)
    order_id = created.get_attribute("data-order")
    page.wait_for_selector(f".alert-item[data-alert='{alert_id}'][data-state='dispatched']", timeout=20000)
    assert page.locator(f".alert-item[data-alert='{alert_id}'] .alert-dispatch").count() == 0

    # a box drawn over the city centre (the map does not pan meanwhile)
    page.click("#overview-area-mode")
    box = page.locator(".deck-map").bounding_box()
    x, y = box["x"] + box["width"] * 0.45, box["y"] + box["height"] * 0.45
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + 80, y + 60, steps=6)
    page.mouse.move(x + 160, y + 120, steps=6)
    page.mouse.up()
    page.wait_for_selector("#dispatch-origin-line:has-text('地图框选区域')", timeout=15000)
    assert page.locator("#dispatch-case-list").inner_text().strip()
    shot(page, "dispatch-from-area.png")
    page.click("#dispatch-cancel")
    assert page.url.rstrip("/").endswith("?lang=zh") or "/unit/" not in page.url  # picking did not navigate

    # the queue: extend (an earlier deadline is refused, in Chinese), then cancel with a reason
    page.goto(url + "/queue?lang=zh&view=all")
    row = page.locator(f".queue-row[data-order='{order_id}']")
    row.wait_for(timeout=20000)
    row.locator(".queue-actions input[type=text]").fill("需协调施工单位，申请延期")
    row.locator("input[type=datetime-local]").fill("2020-01-01T08:00")
    row.locator("button[data-action='extend']").first.click()
    page.wait_for_selector(".queue-message .message.error:has-text('新的办结时限须晚于当前时限')", timeout=15000)
    later = (dt.datetime.now() + dt.timedelta(days=4)).strftime("%Y-%m-%dT%H:%M")
    row.locator("input[type=datetime-local]").fill(later)
    version = int(row.get_attribute("data-version"))
    row.locator("button[data-action='extend']").first.click()
    page.wait_for_selector(".queue-message .message.ok[data-action='extend']", timeout=15000)
    page.wait_for_function(
        f"() => Number(document.querySelector(\".queue-row[data-order='{order_id}']\").dataset.version) > {version}",
        timeout=15000)
    shot(page, "dispatch-queue-adjust.png")
    row.locator(".queue-actions input[type=text]").fill("误报，撤销")
    row.locator("button[data-action='cancel']").click()
    page.wait_for_selector(".queue-message .message.ok[data-action='cancel']", timeout=15000)
    page.wait_for_selector(f".queue-row[data-order='{order_id}'][data-state='cancelled']", timeout=15000)

    # the alert is open again for another dispatch
    page.goto(url + "/?lang=zh")
    page.wait_for_selector(f".alert-item[data-alert='{alert_id}'][data-state='acknowledged']", timeout=30000)
    assert page.citybrain_external == [] and page.citybrain_errors == [], page.citybrain_errors
