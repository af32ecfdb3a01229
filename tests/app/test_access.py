"""Access: login, CSRF, lockout, and a role x scope x read-path matrix generated from the app itself.

Every server callback the app registers and every URL rule must have a rule here; a new read path
without one fails `test_every_read_path_has_a_rule`.
"""
import json
import re
import uuid

import pytest

import i18n
from security.scope import Scope
from security.users import add_user, scope_for

INSIDE, OUTSIDE = "110105", "110108"  # Chaoyang (the leader's district), Haidian
PASSWORD = "correct horse battery"
ROLES = {
    "commander": ("commander", []),
    "leader": ("district_leader", [f"district:{INSIDE}"]),
    "dept": ("department", ["department:chengguan"]),
    "briefing": ("briefing", []),
    "wall": ("wall", []),
    "admin": ("admin", []),
}
# a mainland mobile number, not part of a longer number nor of a hex digest (ids and versions carry some)
PHONE = re.compile(r"(?<![0-9A-Za-z])1[3-8]\d{9}(?![0-9A-Za-z])")


@pytest.fixture(scope="module")
def secured(tmp_path_factory):
    """A non-demo console on the demo city, with one user per role."""
    from app import create_app
    from datasources.runtime import open_runtime
    from settings import Settings

    settings = Settings.load(env={}, data_dir=tmp_path_factory.mktemp("secured"), history_days=1, demo=False,
                             login_attempts_per_min=10_000, login_attempts_per_account_per_min=10_000,
                             login_attempts_overall_per_min=10_000)
    runtime = open_runtime(settings, simulate=True, start_threads=False)
    for name, (role, scopes) in ROLES.items():
        add_user(runtime.store, runtime.pack, name, role, scopes, PASSWORD)
    import pandas as pd

    from datasources.ingest import ingest_frame

    rejected = pd.DataFrame({"case_id": ["x1"], "reported_at": ["2026-01-01T08:00"], "category": ["made_up"],
                             "reporter_phone": ["13812345678"], "lat": [39.95], "lon": [116.5]})
    ingest_frame(runtime.store, runtime.pack, "cases", rejected)
    for district in (INSIDE, OUTSIDE):
        CASE_IDS[district] = runtime.store.cursor().execute(
            "select case_id from cases where unit_ids[1] = ? and status <> 'closed' order by case_id limit 1",
            [district]).fetchall()[0][0]
    app = create_app(runtime)
    yield app, runtime
    runtime.close()


def login(app, name, password=PASSWORD):
    client = app.server.test_client()
    page = client.get("/login")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.get_data(as_text=True)).group(1)
    response = client.post("/login", data={"name": name, "password": password, "csrf": csrf, "next": "/"})
    return client, response


def csrf_of(client):
    cookie = client.get_cookie("_csrf_token")
    return cookie.value if cookie else ""


# ------------------------------------------------------------------ login, gate, CSRF


def test_nothing_without_login(secured):
    app, _ = secured
    client = app.server.test_client()
    assert client.get("/").status_code == 302 and "/login" in client.get("/").headers["Location"]
    assert client.get("/unit/district/110105").status_code == 302
    assert client.get("/_dash-layout").status_code == 401
    assert client.post("/_dash-update-component", json={}).status_code == 401
    assert client.get("/geo/district.geojson").status_code == 401
    assert client.get("/healthz").status_code == 200  # public by design: no records in it


def test_login_logout_and_wrong_passwords(secured):
    app, runtime = secured
    client, response = login(app, "commander")
    assert response.status_code == 302 and client.get("/").status_code == 200
    assert client.get("/logout").status_code == 302
    assert client.get("/").status_code == 302
    _, wrong = login(app, "commander", "nope-nope-nope")
    failed = i18n.t("login.failed", runtime.pack.default_lang)
    assert wrong.status_code == 401 and failed in wrong.get_data(as_text=True)
    _, unknown = login(app, "nobody", PASSWORD)
    assert unknown.status_code == 401 and failed in unknown.get_data(as_text=True)
    audit = runtime.store.cursor().execute("select actor, action from audit where action = 'login'").fetchall()
    assert ("commander", "login") in audit


def test_lockout_after_repeated_failures(secured):
    app, runtime = secured
    add_user(runtime.store, runtime.pack, "victim", "wall", [], PASSWORD)
    for _ in range(5):
        login(app, "victim", "guess-guess-guess")
    _, response = login(app, "victim", PASSWORD)  # right password, but locked: the one message, no hint
    assert response.status_code == 401 and i18n.t("login.failed", runtime.pack.default_lang) in response.get_data(as_text=True)
    assert "lock" not in response.get_data(as_text=True).lower() and "锁" not in response.get_data(as_text=True)


def test_login_attempts_are_rate_limited(tmp_path):
    from app import create_app
    from datasources.runtime import open_runtime
    from settings import Settings

    settings = Settings.load(env={}, data_dir=tmp_path, history_days=0, demo=False, login_attempts_per_min=3)
    runtime = open_runtime(settings, simulate=False)
    try:
        app = create_app(runtime)
        codes = [login(app, "nobody", "guess-guess-guess")[1].status_code for _ in range(5)]
        assert codes == [401, 401, 401, 429, 429]
    finally:
        runtime.close()


def test_login_form_needs_its_csrf_token(secured):
    app, _ = secured
    client = app.server.test_client()
    client.get("/login")
    response = client.post("/login", data={"name": "commander", "password": PASSWORD, "csrf": "forged"})
    assert response.status_code == 403


def test_dash_posts_need_the_csrf_header(secured):
    app, _ = secured
    client, _ = login(app, "commander")
    payload = callback_payload(version_poll_spec(app), {})
    assert client.post("/_dash-update-component", json=payload).status_code == 403
    ok = client.post("/_dash-update-component", json=payload, headers={"X-CSRFToken": csrf_of(client)})
    assert ok.status_code in (200, 204)


def test_no_open_redirect_after_login(secured):
    app, _ = secured
    client = app.server.test_client()
    page = client.get("/login?next=https://evil.example/")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.get_data(as_text=True)).group(1)
    response = client.post("/login", data={"name": "commander", "password": PASSWORD, "csrf": csrf,
                                           "next": "https://evil.example/"})
    assert response.headers["Location"] == "/"


def test_scope_rules_reject_inconsistent_users(secured):
    _, runtime = secured
    pack = runtime.pack
    assert scope_for(pack, "district_leader", [f"district:{INSIDE}"]) == Scope(level_index=1, unit_ids=(INSIDE,))
    assert scope_for(pack, "department", ["department:chengguan"]) == Scope(department="chengguan")
    for role, scopes in (("district_leader", []), ("district_leader", ["district:999"]), ("department", []),
                         ("department", ["department:nope"]), ("king", [])):
        with pytest.raises((ValueError, KeyError)):
            scope_for(pack, role, scopes)


# ------------------------------------------------------------------ the matrix

SAMPLES = {
    ("data-version", "data"): 5,
    ("url", "search"): "?lang=zh",
    ("url", "pathname"): "/",
    ("tick", "n_intervals"): 3,
    ("version-poll", "n_intervals"): 3,
    ("version-poll", "disabled"): False,
    ("_pages_location", "pathname"): f"/unit/district/{OUTSIDE}",
    ("_pages_location", "search"): "?lang=zh",
    ("drill-grid", "cellClicked"): {"colId": "case_id", "value": "SIM-1"},
    ("drill-export", "n_clicks"): 1,
    ("brief-context", "data"): {"scope": f"district:{OUTSIDE}", "template": "daily", "lang": "zh"},
    ("brief-generate", "n_clicks"): 1,
    ("wall-version-tick", "n_intervals"): 2,
    ("brief-result", "children"): None,
    ("brief-template", "value"): "daily",
    ("brief-scope", "value"): f"district:{OUTSIDE}",
    ("brief-period", "start_date"): "2026-01-01",
    ("brief-period", "end_date"): "2026-01-02",
    # city overview (callbacks/overview.py)
    ("overview-ack-request", "data"): {"alert_id": 1, "at": 1},
    ("overview-ack-result", "children"): None,
    ("overview-cases-layer", "value"): "hexbins",
    ("overview-layers", "value"): ["sensors", "halls", "dispatch"],
    # joint dispatch (callbacks/dispatch.py); dispatch-cases and dispatch-command are made per call below
    ("dispatch-open", "n_clicks"): 1,
    ("dispatch-origin", "data"): None,  # an alert or a map area: hand-crafted in test_dispatch_from_an_alert_or_area...
    ("dispatch-priority", "value"): 2,
    ("dispatch-submit", "n_clicks"): 1,
    ("dispatch-title", "value"): "matrix order",
    ("dispatch-lead", "value"): "chengguan",
    ("dispatch-assist", "value"): ["jiaotong"],
    ("dispatch-instructions", "value"): "",
    ("queue-view", "value"): "all",
    ("queue-priority", "value"): "all",
    ("queue-refresh", "data"): 0,
    ("queue-context", "data"): {"lang": "zh"},
    # a pattern-matching input sent as the matrix sends single ones: the callback must ignore it
    ('{"action":["ALL"],"department":["ALL"],"order":["ALL"],"type":"queue-action","version":["ALL"]}', "n_clicks"): 1,
    ('{"order":["ALL"],"type":"queue-note"}', "value"): None,
    ('{"order":["ALL"],"type":"queue-note"}', "id"): None,
    ('{"order":["ALL"],"type":"queue-due"}', "value"): None,
    ('{"order":["ALL"],"type":"queue-due"}', "id"): None,
    ('{"order":["ALL"],"type":"queue-to"}', "value"): None,
    ('{"order":["ALL"],"type":"queue-to"}', "id"): None,
}
CONTEXTS = {
    "overview": {"level_index": 1, "parent": None, "unit": None, "lang": "zh"},
    "inside": {"level_index": 0, "parent": INSIDE, "unit": ["district", INSIDE], "lang": "zh"},
    "outside": {"level_index": 0, "parent": OUTSIDE, "unit": ["district", OUTSIDE], "lang": "zh"},
}
# Every server callback, by its first output id: what it reads.
CALLBACK_RULES = {
    "data-version": "version number only",
    "header-title": "city name only",
    "feed-badges": "feed metadata only",
    "map-spec": "scoped: units and counts",
    "breadcrumbs": "scoped: one unit",
    "feeds-title": "feed metadata; quarantine for city-wide scopes; scoped: counts of cases in no unit",
    "_pages_content": "page shells (no data: their callbacks are scoped)",
    "drill-crumbs": "scoped: the cases behind a unit's indicator (lineage)",
    "drill-grid": "CSV export of the grid already shown (client-side)",
    "nav": "navigation target only",
    "case-body": "scoped: one case, masked",
    "wall-kpis": "scoped: city KPIs of today, alerts, dispatch board",
    "wall-title": "feed metadata and a clock",
    "brief-title": "briefing scopes and archive filtered by briefings.access.may_brief",
    "brief-result": "generate: refused outside the caller's scope",
    "overview-indicator-label": "labels only",
    "overview-kpis": "scoped: the caller's KPIs and daily trend",
    "map-overlays": "scoped: case cells, devices, halls and dispatch orders of the caller's scope",
    "overview-ack-result": "acknowledge: role and the alert's scope checked by alerts.engine.set_state",
    "overview-alerts-title": "scoped: open alerts of the caller's scope",
    "overview-dispatch-title": "scoped: open dispatch orders of the caller's scope",
    "dispatch-open": "launch button: shown to commander/district leader only (a label, no data)",
    "dispatch-panel": "scoped: suggestion for cases in the caller's scope; refused for roles that may not launch",
    "dispatch-deadline": "scoped: deadline for cases in the caller's scope",
    "dispatch-cases": "scoped: the cases of an alert or map area, read by dispatch.origins; launchers only",
    "dispatch-result": "create_order with the session's actor: role and scope checked by dispatch.service",
    "queue-title": "scoped: orders of the caller's scope (department: its tasks; leader: its units)",
    "queue-message": "apply_action with the session's actor: role, scope and version checked by dispatch.service",
    "queue-link": "a link; shown to roles that work on orders",
}
URL_RULES = {
    "/briefings/<int:briefing_id>.<kind>": "login; the briefing's scope must lie in the caller's",
    "/login": "public", "/logout": "public", "/account/": "login: the caller's own session and password", "/healthz": "public (metadata)", "/vendor/deckgl.js": "public code",
    "/geo/<level_id>.geojson": "login (public boundaries)", "/api/": "bearer token", "/open311/": "public channel",
    "/_dash": "login", "/assets/": "public", "/": "login", "/static/": "public code", "/<path:path>": "login",
}


def server_callbacks(app):
    """The app's own list of callbacks (as the browser gets it), without the clientside ones."""
    client, _ = login(app, "commander")
    deps = client.get("/_dash-dependencies").get_json()
    return [(spec["output"], spec) for spec in deps if not spec.get("clientside_function")]


def version_poll_spec(app):
    return next(spec for key, spec in server_callbacks(app) if key.startswith("data-version"))


DRILL = {"indicator": "cases_reported", "part": "numerator", "start": "2020-01-01", "end": "2030-01-01", "lang": "zh"}


def callback_payload(spec, context):
    outputs = spec["output"].strip(".").split("...") if "..." in spec["output"] else [spec["output"]]
    out = [{"id": o.rsplit(".", 1)[0], "property": o.rsplit(".", 1)[1]} for o in outputs]

    def value(item):
        key = (item["id"], item["property"])
        if key == ("page-context", "data"):
            return context
        if key == ("drill-context", "data"):  # the same place as the page context, drilled
            unit = (context.get("unit") or ["district", INSIDE])
            return {**DRILL, "level": unit[0], "unit_id": unit[1]}
        if key == ("dispatch-cases", "data"):  # the case the page shows: inside or outside the leader's district
            return [CASE_IDS.get(context.get("parent") or INSIDE)]
        if key == ("dispatch-command", "data"):  # a fresh form each call (a reused id would replay its first result)
            return uuid.uuid4().hex
        if key == ("case-context", "data"):
            return {"case_id": CASE_IDS.get(context.get("parent") or INSIDE), "lang": "zh"}
        assert key in SAMPLES, f"add a sample value for {key} to SAMPLES in tests/app/test_access.py"
        return SAMPLES[key]

    return {
        "output": spec["output"], "outputs": out if len(out) > 1 else out[0],
        "inputs": [{**i, "value": value(i)} for i in spec["inputs"]],
        "state": [{**s, "value": value(s)} for s in spec.get("state", [])],
        "changedPropIds": [f"{spec['inputs'][0]['id']}.{spec['inputs'][0]['property']}"],
    }


def test_every_read_path_has_a_rule(secured):
    app, _ = secured
    for key, _spec in server_callbacks(app):
        first = key.strip(".").split(".")[0]
        assert first in CALLBACK_RULES, f"callback {key} has no access rule in CALLBACK_RULES"
    for rule in app.server.url_map.iter_rules():
        assert any(str(rule).startswith(prefix) or str(rule) == prefix for prefix in URL_RULES), \
            f"route {rule} has no access rule in URL_RULES"


CASE_IDS: dict[str, str] = {}


def run_all_callbacks(app, client, context):
    bodies = {}
    for key, spec in server_callbacks(app):
        response = client.post("/_dash-update-component", json=callback_payload(spec, context),
                               headers={"X-CSRFToken": csrf_of(client)})
        assert response.status_code in (200, 204), (key, response.status_code, response.get_data(as_text=True)[:300])
        bodies[key.strip(".").split(".")[0]] = response.get_data(as_text=True)
    return bodies


@pytest.mark.parametrize("user", list(ROLES))
@pytest.mark.parametrize("where", list(CONTEXTS))
def test_role_by_scope_by_callback(secured, user, where):
    app, runtime = secured
    client, _ = login(app, user)
    bodies = run_all_callbacks(app, client, CONTEXTS[where])
    everything = " ".join(bodies.values())
    assert not PHONE.search(everything), "a reporter's phone number leaked"
    units = json.loads(bodies["map-spec"])["response"]
    if user == "leader":
        if where == "overview":
            assert set(units["map-spec"]["data"]["values"]) == {INSIDE}
        if where == "outside":
            # another district: no grid cell of it, no scorecard, only "not found"
            assert units["map-spec"]["data"]["values"] == {}
            assert f"{OUTSIDE}-" not in bodies["map-spec"]
            header = json.loads(bodies["breadcrumbs"])["response"]
            assert header["unit-title"]["children"] == "未找到该单元" and header["scorecard"]["children"] == []
        if where == "inside":
            assert all(u.startswith(INSIDE) for u in units["map-spec"]["data"]["values"])
    if user == "dept" and where == "overview":
        expected = runtime.store.cursor().execute(
            "select unit_ids[1], count(*) from cases where department = 'chengguan' and closed_at is null group by 1"
        ).fetchall()
        got = {u: v["value"] for u, v in units["map-spec"]["data"]["values"].items() if v["value"]}
        assert got == {u: n for u, n in expected if u}
    if user in ("commander", "admin", "briefing", "wall") and where == "overview":
        assert len(units["map-spec"]["data"]["values"]) == 16
    drilled = json.loads(bodies["drill-crumbs"])["response"]["drill-grid"]["rowData"]
    case = bodies["case-body"]
    if user == "leader" and where == "outside":
        assert drilled == [] and "未找到该案件" in json.loads(case)["response"]["case-body"]["children"]["props"]["children"]
    if user in ("commander", "admin", "briefing", "wall") and where != "overview":
        assert drilled and CASE_IDS[CONTEXTS[where]["parent"]] in case
    brief = json.loads(bodies["brief-title"])["response"]
    scopes = {o["value"] for o in brief["brief-scope"]["options"]}
    generated = json.dumps(json.loads(bodies["brief-result"]), ensure_ascii=False)
    if user == "leader":
        assert scopes == {f"district:{INSIDE}"} and "无权" in generated  # asked for Haidian: refused
    elif user in ("commander", "admin", "briefing"):
        assert "city" in scopes and len(scopes) == 17 and "brief-new-pdf" in generated
    else:  # wall, department: no briefings
        assert scopes == set() and "无权" in generated
    quarantine = json.dumps(json.loads(bodies["feeds-title"])["response"]["quarantine-table"], ensure_ascii=False)
    if user in ("commander", "admin", "briefing", "wall"):
        assert "unknown category made_up" in quarantine
    else:  # a district's or department's staff do not see raw rejected records of the whole city
        assert "made_up" not in quarantine and "没有隔离记录" in quarantine


DISPATCH_CALLBACKS = ("dispatch-", "queue-")


@pytest.mark.parametrize("user", list(ROLES))
@pytest.mark.parametrize("where", list(CONTEXTS))
def test_dispatch_from_the_console_follows_role_and_scope(secured, user, where):
    """Launch and queue callbacks, hand-crafted: only commanders and leaders (in their units) launch;
    each role's queue lists only the orders of its scope."""
    app, runtime = secured
    client, _ = login(app, user)
    bodies = {}
    for key, spec in server_callbacks(app):
        if key.strip(".").startswith(DISPATCH_CALLBACKS):
            response = client.post("/_dash-update-component", json=callback_payload(spec, CONTEXTS[where]),
                                   headers={"X-CSRFToken": csrf_of(client)})
            assert response.status_code in (200, 204), (key, response.get_data(as_text=True)[:300])
            bodies[key.strip(".").split(".")[0]] = response.get_data(as_text=True)
    case_id = CASE_IDS[CONTEXTS[where]["parent"] or INSIDE]
    result = json.dumps(json.loads(bodies["dispatch-result"]), ensure_ascii=False)
    launches = user == "commander" or (user == "leader" and where != "outside")
    assert ("已派遣" in result) == launches, result[:300]
    assert ("未能派遣" in result) == (not launches)
    button = json.loads(bodies["dispatch-open"])["response"]["dispatch-open"]
    assert button["hidden"] is (not launches)  # not for roles that may not launch, nor outside a leader's district
    form = json.dumps(json.loads(bodies["dispatch-panel"])["response"], ensure_ascii=False)
    if launches:
        assert case_id in form and "chengguan" in form
    else:  # no form (not allowed, or the case is outside the leader's district)
        assert case_id not in form
    assert not json.loads(bodies["queue-message"] or "{}").get("response")  # a malformed action press does nothing
    queue = json.dumps(json.loads(bodies["queue-title"])["response"]["queue-list"], ensure_ascii=False)
    created = runtime.store.cursor().execute(
        "select o.order_id, c.unit_ids[1], list(t.department) from dispatch_orders o "
        "join dispatch_order_cases c using (order_id) join dispatch_tasks t using (order_id) group by all").fetchall()
    for order_id, district, departments in created:
        visible = {"commander": True, "leader": district == INSIDE, "dept": "chengguan" in departments}.get(user, False)
        assert (order_id in queue) == visible, (user, order_id, district, departments)
    link = json.loads(bodies["queue-link"])["response"]["queue-link"]
    assert link["hidden"] is (user not in ("commander", "leader", "dept"))


def test_pages_of_another_district_render_no_data_for_a_leader(secured):
    app, _ = secured
    client, _ = login(app, "leader")
    page = client.get(f"/unit/district/{OUTSIDE}")
    assert page.status_code == 200  # the shell; its data come from callbacks, scoped above
    geometry = client.get(f"/geo/grid.geojson?parent={OUTSIDE}")
    assert geometry.status_code == 200  # boundaries are public knowledge; values are not


def test_api_tokens_read_with_their_holders_scope(secured):
    from security.tokens import issue_token

    app, runtime = secured
    client = app.server.test_client()
    query = "/api/v1/indicators?level=district&start=2020-01-01&end=2030-01-01&indicators=open_backlog"

    def rows(token):
        return client.get(query, headers={"Authorization": f"Bearer {token}"})

    source = rows(issue_token(runtime.store, "gateway-1", "source"))
    assert source.status_code == 403 and "may push" in source.get_json()["error"]
    assert rows(issue_token(runtime.store, "lonely-leader", "district_leader")).status_code == 403
    leader = rows(issue_token(runtime.store, "leader-token", "district_leader", [f"district:{INSIDE}"])).get_json()["rows"]
    assert {r["unit_id"] for r in leader} == {INSIDE}
    commander = rows(issue_token(runtime.store, "cmd-token", "commander")).get_json()["rows"]
    assert len({r["unit_id"] for r in commander}) == 16
    assert client.get(query).status_code == 401


def test_case_list_api_scope_masking_paging_and_audited_reveal(secured):
    from security.tokens import issue_token

    app, runtime = secured
    client = app.server.test_client()

    def get(token, query):
        return client.get(f"/api/v1/cases?{query}", headers={"Authorization": f"Bearer {token}"})

    leader = issue_token(runtime.store, "leader-cases", "district_leader", [f"district:{INSIDE}"])
    commander = issue_token(runtime.store, "cmd-cases", "commander")
    page = get(leader, "limit=50&status=open").get_json()
    assert page["rows"] and all(r["unit.district"] == INSIDE for r in page["rows"])
    assert all(r["status"] != "closed" for r in page["rows"])
    assert not PHONE.search(json.dumps(page)) and all(r["reporter_phone"] is None or "****" in r["reporter_phone"] for r in page["rows"])
    assert get(leader, f"unit=district:{OUTSIDE}").get_json()["rows"] == []  # another district: nothing
    # keyset pages cover everything exactly once
    seen, cursor = [], ""
    while True:
        body = get(commander, f"unit=district:{INSIDE}&limit=400" + (f"&cursor={cursor}" if cursor else "")).get_json()
        seen += [r["case_id"] for r in body["rows"]]
        cursor = body["next"]
        if not cursor:
            break
    total = runtime.store.cursor().execute(f"select count(*) from cases where unit_ids[1] = '{INSIDE}'").fetchall()[0][0]
    assert len(seen) == len(set(seen)) == total
    # reveal: commander with a reason, audited; a district leader may not
    assert get(leader, "reveal=true&reason=check").status_code == 403
    assert get(commander, "reveal=true").status_code == 400
    revealed = get(commander, f"unit=district:{INSIDE}&limit=5&reveal=true&reason=callback%20to%20reporter").get_json()
    assert any(PHONE.fullmatch(r["reporter_phone"] or "") for r in revealed["rows"])
    audit = runtime.store.cursor().execute(
        "select actor, detail, target from audit where action = 'reveal_pii'").fetchall()
    assert audit and audit[-1][0] == "cmd-cases" and audit[-1][1] == "callback to reporter"
    assert revealed["rows"][0]["case_id"] in audit[-1][2]
    assert get(commander, "status=bogus").status_code == 400


def test_trusted_header_sso_uses_our_roles(tmp_path):
    from app import create_app
    from datasources.runtime import open_runtime
    from settings import Settings

    settings = Settings.load(env={}, data_dir=tmp_path, history_days=0, demo=False, trusted_user_header="X-Remote-User")
    runtime = open_runtime(settings, simulate=False)
    try:
        add_user(runtime.store, runtime.pack, "sso-leader", "district_leader", [f"district:{INSIDE}"], PASSWORD)
        client = create_app(runtime).server.test_client()
        assert client.get("/", headers={"X-Remote-User": "sso-leader"}).status_code == 200
        assert client.get("/", headers={"X-Remote-User": "stranger"}).status_code == 302  # unknown here: no access
        assert create_app(runtime).server.test_client().get("/").status_code == 302  # no header, no session
    finally:
        runtime.close()


def test_briefing_files_follow_the_callers_scope(secured):
    from briefings import build_brief, freeze
    import datetime as dt

    app, runtime = secured
    end = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    ids = {}
    for scope in ("city", f"district:{INSIDE}", f"district:{OUTSIDE}"):
        ids[scope], _ = freeze(runtime.store, build_brief(runtime.store, runtime.pack, scope, "daily",
                                                          end - dt.timedelta(days=1), end, "zh"))
    leader, _ = login(app, "leader")
    assert leader.get(f"/briefings/{ids[f'district:{INSIDE}']}.pdf").data[:4] == b"%PDF"
    assert leader.get(f"/briefings/{ids[f'district:{OUTSIDE}']}.pdf").status_code == 404
    assert leader.get(f"/briefings/{ids['city']}.html").status_code == 404
    commander, _ = login(app, "commander")
    assert commander.get(f"/briefings/{ids['city']}.html").status_code == 200
    dept, _ = login(app, "dept")
    assert dept.get(f"/briefings/{ids[f'district:{INSIDE}']}.pdf").status_code == 404


def test_acknowledging_an_alert_is_checked_on_the_server(secured):
    """Hand-crafted acknowledge requests: only commander/leader/admin, and a leader only in their district."""
    app, runtime = secured
    ids = {}
    for district in (INSIDE, OUTSIDE):
        runtime.store.execute_write(
            "insert into alerts (alert_key, rule, severity, level, unit_id, unit_path, subject, title_zh, title_en, "
            "evidence, state, first_seen, last_seen) values ($key, 'threshold', 'medium', 'district', $unit, [$unit], "
            "'closure_rate', 't', 't', '{}', 'new', now()::timestamp, now()::timestamp)",
            {"key": f"matrix-ack:{district}", "unit": district})
        ids[district] = runtime.store.cursor().execute(
            "select alert_id from alerts where alert_key = ?", [f"matrix-ack:{district}"]).fetchall()[0][0]
    spec = next(spec for key, spec in server_callbacks(app) if key.startswith("overview-ack-result"))

    def state(district):
        return runtime.store.cursor().execute("select state from alerts where alert_id = ?", [ids[district]]).fetchall()[0][0]

    expected = {"commander": {INSIDE, OUTSIDE}, "admin": {INSIDE, OUTSIDE}, "leader": {INSIDE},
                "dept": set(), "briefing": set(), "wall": set()}
    for user, allowed in expected.items():
        client, _ = login(app, user)
        for district in (INSIDE, OUTSIDE):
            payload = callback_payload(spec, CONTEXTS["overview"])
            payload["inputs"][0]["value"] = {"alert_id": ids[district], "at": 1}
            response = client.post("/_dash-update-component", json=payload, headers={"X-CSRFToken": csrf_of(client)})
            assert response.status_code in (200, 204)
            assert state(district) == ("acknowledged" if district in allowed else "new"), (user, district)
            runtime.store.execute_write("update alerts set state = 'new' where alert_id = $id", {"id": ids[district]})
    runtime.store.execute_write("update alerts set state = 'closed' where alert_key like 'matrix-ack:%'", {})


def post_callback(app, client, first_output, values, context=None):
    """Run the server callback whose first output is `first_output` with `values` ({(id, prop): value})
    over the matrix's samples; the decoded response ({} when nothing was updated)."""
    spec = next(spec for key, spec in server_callbacks(app) if key.strip(".").split(".")[0] == first_output)
    payload = callback_payload(spec, context or CONTEXTS["overview"])
    for part in ("inputs", "state"):
        for item in payload[part]:
            if (item["id"], item["property"]) in values:
                item["value"] = values[(item["id"], item["property"])]
    response = client.post("/_dash-update-component", json=payload, headers={"X-CSRFToken": csrf_of(client)})
    assert response.status_code in (200, 204), response.get_data(as_text=True)[:300]
    return json.loads(response.get_data(as_text=True) or "{}").get("response", {})


def overdue_open(runtime, district, n=3):
    return [r[0] for r in runtime.store.cursor().execute(
        "select case_id from cases where unit_ids[1] = ? and closed_at is null and due_at < now()::timestamp "
        "order by due_at, case_id limit ?", [district, n]).fetchall()]


def test_dispatch_from_an_alert_or_area_is_checked_on_the_server(secured):
    """Launch from an alert or a map area, hand-crafted: the alert must be visible to the caller, the
    cases are read on the server (a forged list links nothing outside the alert's unit or the area)."""
    app, runtime = secured
    store = runtime.store
    alerts = {}
    for district in (INSIDE, OUTSIDE):
        store.execute_write(
            "insert into alerts (alert_key, rule, severity, level, unit_id, unit_path, subject, title_zh, title_en, "
            "evidence, state, first_seen, last_seen) values ($key, 'threshold', 'medium', 'district', $unit, [$unit], "
            "'closure_rate', '结案率越过红线', 'closure rate in the red', '{}', 'new', now()::timestamp, now()::timestamp)",
            {"key": f"matrix-dispatch:{district}", "unit": district})
        alerts[district] = store.cursor().execute(
            "select alert_id from alerts where alert_key = ?", [f"matrix-dispatch:{district}"]).fetchall()[0][0]
    inside, outside = overdue_open(runtime, INSIDE), overdue_open(runtime, OUTSIDE)
    assert inside and outside, "a simulated day leaves overdue open cases in both districts"

    def form(user, origin):
        client, _ = login(app, user)
        return post_callback(app, client, "dispatch-cases", {("dispatch-origin", "data"): origin})

    def alert_state(district):
        return store.cursor().execute("select state from alerts where alert_id = ?", [alerts[district]]).fetchall()[0][0]

    # the form: launchers only, and only for an alert they can see
    for user, district, shown in (("commander", OUTSIDE, True), ("leader", INSIDE, True), ("leader", OUTSIDE, False),
                                  ("dept", INSIDE, False), ("wall", INSIDE, False), ("briefing", INSIDE, False)):
        got = form(user, {"kind": "alert", "alert_id": alerts[district]})
        text = json.dumps(got, ensure_ascii=False)
        cases = inside if district == INSIDE else outside
        assert (cases[0] in json.dumps(got.get("dispatch-cases", {}))) == shown, (user, district, text[:300])
        if shown:
            assert f"预警 #{alerts[district]}" in text and "dispatch-form" in text
        if user == "leader" and not shown:
            assert f"预警 #{alerts[district]} 不存在、已关闭或不在您的范围内" in text
    # a district picked on the map: a leader finds nothing in another district
    got = form("leader", {"kind": "unit", "level": "district", "unit_id": OUTSIDE})
    assert not got["dispatch-cases"]["data"] and "超期未结案件 0 件" in json.dumps(got, ensure_ascii=False)
    got = form("leader", {"kind": "unit", "level": "district", "unit_id": INSIDE})
    assert inside[0] in got["dispatch-cases"]["data"]

    def submit(user, origin, case_ids):
        client, _ = login(app, user)
        got = post_callback(app, client, "dispatch-result", {
            ("dispatch-origin", "data"): origin, ("dispatch-cases", "data"): case_ids,
            ("dispatch-command", "data"): uuid.uuid4().hex})
        return json.dumps(got, ensure_ascii=False)

    # a leader may not launch from another district's alert, whatever the case list says
    refused = submit("leader", {"kind": "alert", "alert_id": alerts[OUTSIDE]}, outside)
    assert "未能派遣" in refused and "不在您的范围内" in refused and alert_state(OUTSIDE) == "new"
    # a forged list: the case of another district is left out; the order records the alert, which is dispatched
    done = submit("leader", {"kind": "alert", "alert_id": alerts[INSIDE]}, inside[:2] + outside[:1])
    assert "已派遣" in done, done[:300]
    order_id, alert_id, area = store.cursor().execute(
        "select order_id, alert_id, area from dispatch_orders where alert_id = ?", [alerts[INSIDE]]).fetchall()[0]
    linked = {r[0] for r in store.cursor().execute(
        "select case_id from dispatch_order_cases where order_id = ?", [order_id]).fetchall()}
    assert linked == set(inside[:2]) and area == f"district:{INSIDE}" and alert_state(INSIDE) == "dispatched"
    assert store.cursor().execute(
        "select count(*) from audit where action = 'alert_dispatched' and target = ?", [str(alert_id)]).fetchall()[0][0] == 1
    # a box on the map around nothing but the other district's cases: nothing for the leader
    lat, lon = store.cursor().execute("select lat, lon from cases where case_id = ?", [outside[0]]).fetchall()[0]
    box = {"kind": "box", "bbox": [lon - 0.001, lat - 0.001, lon + 0.001, lat + 0.001]}
    assert "未能派遣" in submit("leader", box, [outside[0]])
    assert "已派遣" in submit("commander", box, [outside[0]])
    # a department user cannot launch at all, with any origin
    assert "未能派遣" in submit("dept", {"kind": "unit", "level": "district", "unit_id": INSIDE}, inside[2:])
    store.execute_write("update alerts set state = 'closed' where alert_key like 'matrix-dispatch:%'", {})


def test_a_closed_case_offers_no_dispatch_and_is_refused(secured):
    app, runtime = secured
    closed = runtime.store.cursor().execute(
        "select case_id from cases where unit_ids[1] = ? and status = 'closed' order by case_id limit 1", [INSIDE]).fetchall()[0][0]
    client, _ = login(app, "commander")
    button = post_callback(app, client, "dispatch-open", {("dispatch-cases", "data"): [closed]})["dispatch-open"]
    assert button["hidden"] is True and button["disabled"] is True
    opened = post_callback(app, client, "dispatch-open", {("dispatch-cases", "data"): [CASE_IDS[INSIDE]]})["dispatch-open"]
    assert opened["hidden"] is False and opened["children"] == "发起联动派遣"
    refused = json.dumps(post_callback(app, client, "dispatch-result", {
        ("dispatch-cases", "data"): [closed], ("dispatch-command", "data"): uuid.uuid4().hex}), ensure_ascii=False)
    assert f"未能派遣：已结案的案件不能再派遣：{closed}" in refused


def test_a_kiosk_token_signs_a_wall_in_and_leaves_the_address_cookie_and_logs(secured):
    import logging

    from security.tokens import issue_token

    app, runtime = secured
    token = issue_token(runtime.store, "lobby-screen", "wall")
    client = app.server.test_client()
    first = client.get(f"/wall?kiosk={token}&lang=en")
    assert first.status_code == 302 and first.headers["Location"] == "/wall?lang=en"  # out of the address bar
    cookie = client.get_cookie("citybrain_session")
    assert cookie is not None and token not in cookie.value
    data = app.server.session_interface.get_signing_serializer(app.server).loads(cookie.value)
    assert token not in json.dumps(data) and data["user"] == "kiosk"
    assert client.get("/wall?lang=en").status_code == 200  # the session alone lets the wall in
    assert client.get("/wall?kiosk=not-a-token").status_code == 302  # an unknown token changes nothing
    record = logging.LogRecord("werkzeug", logging.INFO, __file__, 1, '"GET /wall?kiosk=%s HTTP/1.1" 302 -',
                               (token,), None)
    for handler_filter in logging.getLogger("werkzeug").filters:
        handler_filter(record) if callable(handler_filter) else handler_filter.filter(record)
    assert token not in record.getMessage() and "kiosk=***" in record.getMessage()
