"""Joint dispatch over HTTP on the demo city: real DuckDB, the Flask test client, bearer tokens."""
import datetime as dt
import threading

import pytest

from dispatch import service
from security.tokens import issue_token

INSIDE, OUTSIDE = "110105", "110108"  # Chaoyang, Haidian
TOKENS = {
    "commander": ("commander", []),
    "leader": ("district_leader", [f"district:{INSIDE}"]),
    "chengguan": ("department", ["department:chengguan"]),
    "shuiwu": ("department", ["department:shuiwu"]),
    "huanbao": ("department", ["department:huanbao"]),
    "wall": ("wall", []),
    "admin": ("admin", []),
}


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    from app import create_app
    from datasources.runtime import open_runtime
    from settings import Settings

    settings = Settings.load(env={}, data_dir=tmp_path_factory.mktemp("dispatch"), history_days=1, demo=False)
    runtime = open_runtime(settings, simulate=True, start_threads=False)
    tokens = {name: issue_token(runtime.store, f"tok-{name}", role, scopes) for name, (role, scopes) in TOKENS.items()}
    app = create_app(runtime)
    yield {"runtime": runtime, "store": runtime.store, "client": app.server.test_client(), "tokens": tokens,
           "app": app}
    runtime.close()


def open_cases(store, district, n, skip=0):
    rows = store.cursor().execute(
        "select case_id from cases where status not in ('closed') and unit_ids[1] = ? order by case_id limit ? offset ?",
        [district, n, skip]).fetchall()
    assert len(rows) == n, "the simulated day has open cases in the district"
    return [r[0] for r in rows]


def call(env, who, method, path, body=None):
    headers = {"Authorization": f"Bearer {env['tokens'][who]}"}
    client = env["client"]
    if method == "GET":
        return client.get(path, headers=headers)
    return client.post(path, json=body, headers=headers)


def act(env, who, order_id, **body):
    return call(env, who, "POST", f"/api/v1/dispatch-orders/{order_id}/actions", body)


def case_rows(store, ids):
    return {r[0]: (r[1], r[2]) for r in store.cursor().execute(
        "select case_id, status, closed_at from cases where list_contains(?, case_id)", [ids]).fetchall()}


def test_full_cycle_moves_the_cases_and_is_audited(env):
    store = env["store"]
    ids = open_cases(store, INSIDE, 2)
    closed_before = store.cursor().execute("select count(*) from cases where status = 'closed'").fetchall()[0][0]
    body = {"title": "井盖缺失 联合处置", "case_ids": ids, "lead_department": "chengguan",
            "assist_departments": ["shuiwu"], "priority": 2, "instructions": "先围挡", "command_id": "create-1"}
    created = call(env, "commander", "POST", "/api/v1/dispatch-orders", body)
    assert created.status_code == 201, created.get_json()
    order = created.get_json()
    assert set(order) >= {"id", "version", "state", "tasks"} and order["state"] == "issued" and order["version"] == 1
    assert [(t["department"], t["state"]) for t in order["tasks"]] == [("chengguan", "issued"), ("shuiwu", "issued")]
    assert all(t["due_at"].endswith("Z") for t in order["tasks"])
    assert {s for s, _ in case_rows(store, ids).values()} == {"dispatched"}
    # the same command id again: the first result, no second order
    again = call(env, "commander", "POST", "/api/v1/dispatch-orders", body)
    assert again.status_code == 201 and again.get_json() == order
    assert store.cursor().execute("select count(*) from dispatch_orders where title = ?", [body["title"]]).fetchall()[0][0] == 1

    oid, v = order["id"], 1
    steps = [("chengguan", "acknowledge"), ("chengguan", "start"), ("chengguan", "progress"), ("shuiwu", "acknowledge"),
             ("shuiwu", "start"), ("chengguan", "resolve")]
    for who, action in steps:
        r = act(env, who, oid, action=action, expected_version=v, note=f"{who} {action}", command_id=f"{oid}-{v}")
        assert r.status_code == 200, (who, action, r.get_json())
        v = r.get_json()["version"]
    assert r.get_json()["state"] == "resolved"
    assert {s for s, _ in case_rows(store, ids).values()} == {"handled"}
    # verification waits for the assisting task
    early = act(env, "commander", oid, action="verify", expected_version=v)
    assert early.status_code == 409 and "shuiwu" in early.get_json()["error"]  # the order's state, not the role
    r = act(env, "shuiwu", oid, action="resolve", expected_version=v)
    v = r.get_json()["version"]
    r = act(env, "commander", oid, action="verify", expected_version=v, command_id="verify-1")
    assert r.status_code == 200 and r.get_json()["state"] == "verified"
    v = r.get_json()["version"]
    rows = case_rows(store, ids)
    assert all(status == "closed" and closed_at is not None for status, closed_at in rows.values())
    closed_after = store.cursor().execute("select count(*) from cases where status = 'closed'").fetchall()[0][0]
    assert closed_after == closed_before + 2  # the closure-rate numerator moved
    events = store.cursor().execute(
        "select count(*) from case_events where list_contains(?, case_id) and status = 'closed'", [ids]).fetchall()[0][0]
    assert events == 2
    r = act(env, "commander", oid, action="close", expected_version=v)
    assert r.status_code == 200 and r.get_json()["state"] == "closed"
    assert case_rows(store, ids) == rows  # closure time kept from the verification

    # one audit row per command (create, 8 task actions, verify, close); refused ones change nothing
    audit = store.cursor().execute(
        "select action, actor, role, origin, detail from audit where target = ? order by audit_id", [oid]).fetchall()
    assert [a for a, *_ in audit] == ["dispatch.create"] + [f"dispatch.{a}" for _, a in steps] + [
        "dispatch.resolve", "dispatch.verify", "dispatch.close"]
    assert all(origin == "api" for *_, origin, _ in audit) and audit[1][1:3] == ("tok-chengguan", "department")
    assert "issued -> acknowledged" in audit[1][4]
    got = call(env, "commander", "GET", "/api/v1/audit?since=2000-01-01")
    assert got.status_code == 200 and got.get_json()["next"] is None
    assert {r["target"] for r in got.get_json()["rows"] if r["action"].startswith("dispatch.")} >= {oid}
    assert call(env, "admin", "GET", "/api/v1/audit").status_code == 200
    assert call(env, "chengguan", "GET", "/api/v1/audit").status_code == 403
    assert call(env, "wall", "GET", "/api/v1/audit").status_code == 403
    # the history is readable
    full = call(env, "chengguan", "GET", f"/api/v1/dispatch-orders/{oid}").get_json()
    assert full["state"] == "closed" and len(full["events"]) >= 11


def test_stale_versions_idempotency_and_refusals(env):
    store = env["store"]
    ids = open_cases(store, INSIDE, 1, skip=5)
    order = call(env, "commander", "POST", "/api/v1/dispatch-orders",
                 {"title": "t", "case_ids": ids, "lead_department": "chengguan", "assist_departments": []}).get_json()
    oid = order["id"]
    first = act(env, "chengguan", oid, action="acknowledge", expected_version=1, command_id="ack-x")
    assert first.status_code == 200 and first.get_json()["version"] == 2
    repeat = act(env, "chengguan", oid, action="acknowledge", expected_version=1, command_id="ack-x")
    assert repeat.status_code == 200 and repeat.get_json() == first.get_json()  # no second effect
    stale = act(env, "chengguan", oid, action="start", expected_version=1)
    assert stale.status_code == 409 and "stale" in stale.get_json()["error"]
    # another department cannot act on chengguan's task (and does not even see the order)
    other = act(env, "shuiwu", oid, action="start", department="chengguan", expected_version=2)
    assert other.status_code == 404
    # a department with a task may not act on another department's task
    reassigned = act(env, "commander", oid, action="reassign", department="chengguan", to_department="huanbao",
                     expected_version=2)
    assert reassigned.status_code == 200
    tasks = reassigned.get_json()["tasks"]
    assert [(t["department"], t["state"]) for t in tasks] == [("chengguan", "reassigned"), ("huanbao", "issued")]
    cross = act(env, "chengguan", oid, action="start", department="huanbao")
    assert cross.status_code == 403 and "own task" in cross.get_json()["error"]
    assert act(env, "wall", oid, action="cancel").status_code == 403
    refused_role = act(env, "huanbao", oid, action="verify")
    assert refused_role.status_code == 403 and "role" in refused_role.get_json()["error"]
    wrong_state = act(env, "huanbao", oid, action="resolve")
    assert wrong_state.status_code == 409 and "state issued" in wrong_state.get_json()["error"]
    # bad bodies
    client, headers = env["client"], {"Authorization": f"Bearer {env['tokens']['commander']}"}
    assert client.post(f"/api/v1/dispatch-orders/{oid}/actions", data="{nope", headers=headers,
                       content_type="application/json").status_code == 400
    assert act(env, "commander", oid, action="fly").status_code == 400
    assert act(env, "commander", oid, action="verify", expected_version="x").status_code == 400
    assert call(env, "commander", "POST", "/api/v1/dispatch-orders", [1]).status_code == 400
    assert call(env, "commander", "POST", "/api/v1/dispatch-orders", {"title": "t"}).status_code == 400
    assert call(env, "commander", "POST", "/api/v1/dispatch-orders",
                {"title": "t", "case_ids": ["no-such-case"]}).status_code == 400
    assert call(env, "chengguan", "POST", "/api/v1/dispatch-orders", {"title": "t", "case_ids": ids}).status_code == 403
    assert env["client"].get(f"/api/v1/dispatch-orders/{oid}").status_code == 401
    # extension: requested by the department, approved by the commander
    v = reassigned.get_json()["version"]
    asked = act(env, "huanbao", oid, action="extend", hours=24, expected_version=v)
    assert asked.status_code == 200 and asked.get_json()["tasks"][1]["requested_due_at"]
    approved = act(env, "commander", oid, action="approve_extension", department="huanbao")
    assert approved.status_code == 200
    task = approved.get_json()["tasks"][1]
    assert task["due_at"] == asked.get_json()["tasks"][1]["requested_due_at"] and task["requested_due_at"] is None
    cancelled = act(env, "commander", oid, action="cancel", note="duplicate")
    assert cancelled.status_code == 200 and cancelled.get_json()["state"] == "cancelled"
    assert {s for s, _ in case_rows(store, ids).values()} == {"registered"}


def test_default_deadline_and_departments_come_from_the_categories(env):
    store = env["store"]
    ids = open_cases(store, INSIDE, 1, skip=8)
    category = store.cursor().execute(
        "select g.lead_department, g.assist_departments, g.time_limit_hours, g.calendar from cases c "
        "join categories g on g.category_id = c.category where case_id = ?", ids).fetchall()[0]
    now = dt.datetime(2030, 1, 7, 1, 0)  # a Monday morning in Beijing
    actor = service.actor_for(env["runtime"].pack, "cmd", "commander", [])
    status, order = service.create_order(store, env["runtime"].pack, actor, {"title": "t", "case_ids": ids,
                                                                             "priority": 4}, now=now)
    assert status == 201 and order["lead_department"] == category[0]
    assert order["assist_departments"] == [a for a in category[1] if a != category[0]]
    by_category = env["runtime"].pack.calendar.add_hours(now, category[2], category[3])
    expected = min(by_category, now + dt.timedelta(hours=72))
    assert order["due_at"] == expected.isoformat() + "Z"
    assert order["tasks"][0]["ack_due_at"] == (now + dt.timedelta(hours=4)).isoformat() + "Z"


def test_scope_a_leader_reads_orders_of_their_district_only(env):
    store = env["store"]
    inside = call(env, "commander", "POST", "/api/v1/dispatch-orders",
                  {"title": "in", "case_ids": open_cases(store, INSIDE, 1, skip=10), "lead_department": "chengguan"}).get_json()
    outside = call(env, "commander", "POST", "/api/v1/dispatch-orders",
                   {"title": "out", "case_ids": open_cases(store, OUTSIDE, 1), "lead_department": "chengguan"}).get_json()
    assert call(env, "leader", "GET", f"/api/v1/dispatch-orders/{inside['id']}").status_code == 200
    assert call(env, "leader", "GET", f"/api/v1/dispatch-orders/{outside['id']}").status_code == 404
    assert act(env, "leader", outside["id"], action="cancel").status_code == 404
    assert call(env, "huanbao", "GET", f"/api/v1/dispatch-orders/{inside['id']}").status_code == 404
    assert call(env, "chengguan", "GET", f"/api/v1/dispatch-orders/{outside['id']}").status_code == 200
    # a leader creates orders for cases of the district only
    assert call(env, "leader", "POST", "/api/v1/dispatch-orders",
                {"title": "x", "case_ids": open_cases(store, OUTSIDE, 1, skip=1)}).status_code == 400
    mine = call(env, "leader", "POST", "/api/v1/dispatch-orders",
                {"title": "x", "case_ids": open_cases(store, INSIDE, 1, skip=11), "lead_department": "chengguan"})
    assert mine.status_code == 201
    assert act(env, "leader", mine.get_json()["id"], action="cancel").status_code == 200


def test_escalation_with_a_fake_clock(env):
    store, pack = env["store"], env["runtime"].pack
    t0 = dt.datetime(2030, 2, 1, 0, 0)
    actor = service.actor_for(pack, "cmd", "commander", [])
    # no assisting departments: the escalations below are the lead task's only (whatever the case's category)
    _, order = service.create_order(store, pack, actor, {"title": "urgent", "priority": 1, "lead_department": "chengguan",
                                                         "assist_departments": [],
                                                         "case_ids": open_cases(store, INSIDE, 1, skip=12)}, now=t0)
    oid = order["id"]
    assert [e for e in service.escalate_due(store, now=t0 + dt.timedelta(minutes=14)) if e["order_id"] == oid] == []
    first = [e for e in service.escalate_due(store, now=t0 + dt.timedelta(minutes=16)) if e["order_id"] == oid]
    assert first == [{"order_id": oid, "department": "chengguan", "level": 1, "to": "department_head",
                      "late": "acknowledgement"}]
    assert [e for e in service.escalate_due(store, now=t0 + dt.timedelta(minutes=20)) if e["order_id"] == oid] == []
    second = [e for e in service.escalate_due(store, now=t0 + dt.timedelta(minutes=31)) if e["order_id"] == oid]
    assert [(e["level"], e["to"]) for e in second] == [(2, "commander")]
    got = call(env, "commander", "GET", f"/api/v1/dispatch-orders/{oid}").get_json()
    assert got["tasks"][0]["escalation_level"] == 2 and got["version"] == 3
    audit = store.cursor().execute(
        "select actor, origin, detail from audit where target = ? and action = 'dispatch.escalate' order by audit_id",
        [oid]).fetchall()
    assert len(audit) == 2 and audit[0][:2] == ("system", "system") and '"commander"' in audit[1][2]


def test_concurrent_commands_exactly_one_wins(env):
    store = env["store"]
    order = call(env, "commander", "POST", "/api/v1/dispatch-orders",
                 {"title": "race", "case_ids": open_cases(store, INSIDE, 1, skip=13), "lead_department": "chengguan",
                  "assist_departments": ["shuiwu"]}).get_json()
    oid = order["id"]
    results = {}
    barrier = threading.Barrier(2)

    def run(who):
        barrier.wait()
        results[who] = act(env, who, oid, action="acknowledge", expected_version=1).status_code

    threads = [threading.Thread(target=run, args=(who,)) for who in ("chengguan", "shuiwu")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results.values()) == [200, 409]
    final = call(env, "commander", "GET", f"/api/v1/dispatch-orders/{oid}").get_json()
    assert final["version"] == 2
    assert sum(t["state"] == "acknowledged" for t in final["tasks"]) == 1
    assert store.cursor().execute("select count(*) from audit where target = ? and action = 'dispatch.acknowledge'",
                                  [oid]).fetchall()[0][0] == 1


def test_openapi_lists_the_dispatch_routes(env):
    paths = env["client"].get("/api/v1/openapi.json").get_json()["paths"]
    for path in ("/api/v1/dispatch-orders", "/api/v1/dispatch-orders/{order_id}",
                 "/api/v1/dispatch-orders/{order_id}/actions", "/api/v1/audit"):
        assert path in paths


def test_cases_follow_an_acknowledged_order_even_when_the_writer_dies_in_between(env):
    """The order commits with its case follow-up in one transaction (an outbox); a writer that dies
    before applying it (here: the feed writer refuses once, as a kill would leave it) leaves the row
    pending, and the retried command (same command_id) or the next writer start applies it."""
    from datasources.store import Store

    store, pack = env["store"], env["runtime"].pack
    ids = [r[0] for r in store.cursor().execute(
        "select case_id from cases where status in ('accepted', 'registered') and unit_ids[1] = ? order by case_id desc "
        "limit 2", [INSIDE]).fetchall()]
    assert len(ids) == 2
    actor = service.actor_for(pack, "tok-commander", "commander", [])
    real_apply = Store.apply
    crashed = []

    class Killed(BaseException):  # a process dying is not an Exception any handler could catch
        pass

    def dying_apply(self, feed, kind, batch, *args, **kwargs):
        if kind == "cases" and str(kwargs.get("origin", "")).startswith("dispatch:") and not crashed:
            crashed.append(1)
            raise Killed()
        return real_apply(self, feed, kind, batch, *args, **kwargs)

    Store.apply = dying_apply
    try:
        with pytest.raises(Killed):
            service.create_order(store, pack, actor, {"title": "crash", "case_ids": ids, "command_id": "crash-1"})
    finally:
        Store.apply = real_apply
    assert {s for s, _ in case_rows(store, ids).values()} != {"dispatched"}  # left behind by the "crash"
    status, order = service.create_order(store, pack, actor, {"title": "crash", "case_ids": ids, "command_id": "crash-1"})
    assert status == 201 and order["title"] == "crash"  # the first answer
    assert {s for s, _ in case_rows(store, ids).values()} == {"dispatched"}  # and the cases followed
    assert service.repair_case_follow(store) == 0  # nothing left pending
