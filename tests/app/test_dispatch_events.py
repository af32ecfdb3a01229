"""Dispatch events, webhooks, the order list, effectiveness metrics and the audit CSV (issue 6).

Real parts only: DuckDB files in temp dirs, the demo city with a simulated day, a real Redis
(tests/conftest.py), a real HTTP receiver (http.server in a thread) that verifies the HMAC.
"""
import csv
import datetime as dt
import http.server
import io
import json
import threading
import time
from contextlib import contextmanager

import pytest

from dispatch import service, webhooks
from dispatch.notify import CHANNEL
from security.tokens import issue_token

INSIDE, OUTSIDE = "110105", "110108"  # Chaoyang, Haidian
SECRET = "test-secret-0123456789abcdef"
TOKENS = {
    "commander": ("commander", []),
    "leader": ("district_leader", [f"district:{INSIDE}"]),
    "chengguan": ("department", ["department:chengguan"]),
    "shuiwu": ("department", ["department:shuiwu"]),
    "wall": ("wall", []),
    "=evil": ("commander", []),  # a name a spreadsheet would run as a formula
}


# ---------------------------------------------------------------------------- helpers


class Receiver:
    """A local webhook endpoint: answers `fail_first` requests with 500 (or sleeps `delay_s`),
    then 200; records each request with its arrival time and whether its signature is valid."""

    def __init__(self, fail_first=0, delay_s=0.0, always_fail=False):
        self.fail_first, self.delay_s, self.always_fail = fail_first, delay_s, always_fail
        self.requests = []
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                ts = self.headers.get("X-CityBrain-Timestamp", "")
                receiver.requests.append({
                    "at": time.monotonic(), "body": body, "headers": {k.lower(): v for k, v in self.headers.items()},
                    "valid": webhooks.verify(SECRET, ts, body, self.headers.get("X-CityBrain-Signature", "")),
                    "fresh": abs(time.time() - int(ts or 0)) < 60,
                })
                if receiver.delay_s:
                    time.sleep(receiver.delay_s)
                failing = receiver.always_fail or len(receiver.requests) <= receiver.fail_first
                self.send_response(500 if failing else 200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"no" if failing else b"ok")

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def wait_until(predicate, timeout=15.0, step=0.02):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    raise AssertionError("condition not met in time")


def open_env(data_dir, **settings):
    from app import create_app
    from datasources.runtime import open_runtime
    from settings import Settings

    settings = Settings.load(env={}, data_dir=data_dir, history_days=1, demo=False, **settings)
    runtime = open_runtime(settings, simulate=True, start_threads=False)
    tokens = {name: issue_token(runtime.store, f"tok-{name}" if name[0] != "=" else name, role, scopes)
              for name, (role, scopes) in TOKENS.items()}
    return {"runtime": runtime, "store": runtime.store, "pack": runtime.pack, "tokens": tokens,
            "client": create_app(runtime).server.test_client()}


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    env = open_env(tmp_path_factory.mktemp("events"), webhook_backoff_s=0.1, webhook_max_attempts=3,
                   webhook_timeout_s=1.0)
    yield env
    env["runtime"].close()


_used: set[str] = set()


def fresh_cases(store, district, n):
    """Open cases of a district no other test of this module linked yet."""
    rows = store.cursor().execute(
        "select case_id from cases where status <> 'closed' and unit_ids[1] = ? order by case_id", [district]).fetchall()
    ids = [r[0] for r in rows if r[0] not in _used][:n]
    assert len(ids) == n, "the simulated day has enough open cases in the district"
    _used.update(ids)
    return ids


def call(env, who, method, path, body=None):
    headers = {"Authorization": f"Bearer {env['tokens'][who]}"}
    if method == "GET":
        return env["client"].get(path, headers=headers)
    return env["client"].post(path, json=body, headers=headers)


def create(env, district=INSIDE, lead="chengguan", assist=("shuiwu",), n=1, who="commander", **extra):
    response = call(env, who, "POST", "/api/v1/dispatch-orders",
                    {"title": "events", "case_ids": fresh_cases(env["store"], district, n), "lead_department": lead,
                     "assist_departments": list(assist), **extra})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def act(env, who, order_id, **body):
    return call(env, who, "POST", f"/api/v1/dispatch-orders/{order_id}/actions", body)


@contextmanager
def receiving(env, department, join_s=5, **receiver_args):
    """A Receiver as `department`'s webhook with the delivery worker running; both undone after."""
    receiver = Receiver(**receiver_args)
    webhooks.add_webhook(env["store"], env["pack"], department, receiver.url, SECRET)
    stop = threading.Event()
    thread = threading.Thread(target=env["runtime"].webhooks.run, args=(stop,), daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        stop.set()
        env["runtime"].webhooks.wake()
        thread.join(join_s)
        webhooks.remove_webhook(env["store"], department)
        receiver.close()


# ---------------------------------------------------------------------------- notifications


def test_in_process_events_for_create_actions_and_escalation(env):
    store, pack = env["store"], env["pack"]
    with env["runtime"].notifier.subscribe() as events:
        order = create(env, priority=1)
        oid = order["id"]
        first = events.get(timeout=5)
        assert first["type"] == "dispatch.create" and first["order_id"] == oid and first["version"] == 1
        assert first["event_id"] == f"{oid}@1" and first["departments"] == ["chengguan", "shuiwu"]
        assert [(t["department"], t["state"]) for t in first["tasks"]] == [("chengguan", "issued"), ("shuiwu", "issued")]
        assert act(env, "chengguan", oid, action="acknowledge", expected_version=1).status_code == 200
        ack = events.get(timeout=5)
        assert (ack["type"], ack["version"], ack["actor"], ack["departments"]) == (
            "dispatch.acknowledge", 2, "tok-chengguan", ["chengguan"])
        assert ack["changes"][0]["from"] == "issued" and ack["changes"][0]["to"] == "acknowledged"
        # a refused (stale) command commits nothing and announces nothing
        assert act(env, "shuiwu", oid, action="acknowledge", expected_version=1).status_code == 409
        assert events.get(timeout=0.3) is None
        # escalation (fake clock) is announced like any command
        late = dt.datetime.fromisoformat(order["tasks"][1]["ack_due_at"].rstrip("Z")) + dt.timedelta(minutes=1)
        escalated = [e for e in service.escalate_due(store, pack, now=late) if e["order_id"] == oid]
        assert escalated and escalated[0]["department"] == "shuiwu"
        seen = []
        while (event := events.get(timeout=1)) is not None:
            seen.append(event)
        mine = [e for e in seen if e["order_id"] == oid]
        assert [(e["type"], e["version"]) for e in mine] == [("dispatch.escalate", 3)]
        assert mine[0]["changes"][0]["level"] == 1 and mine[0]["role"] == "system"


def test_callback_subscription(env):
    got, stop = [], threading.Event()
    env["runtime"].notifier.listen(got.append, stop, poll_s=0.05)
    try:
        order = create(env)
        wait_until(lambda: any(e["order_id"] == order["id"] for e in got))
    finally:
        stop.set()


def test_redis_pub_sub_carries_the_events(tmp_path, redis_server):
    import redis

    from dispatch.notify import RedisNotifier

    env = open_env(tmp_path, redis_url=redis_server)
    raw = redis.Redis.from_url(redis_server).pubsub(ignore_subscribe_messages=True)
    raw.subscribe(CHANNEL)
    raw.get_message(timeout=1)
    try:
        assert isinstance(env["runtime"].notifier, RedisNotifier)
        with env["runtime"].notifier.subscribe() as events:
            order = create(env)
            event = events.get(timeout=5)
            assert event["order_id"] == order["id"] and event["type"] == "dispatch.create"
        # any other process hears the same JSON on the channel
        message = wait_until(lambda: raw.get_message(timeout=0.2))
        assert json.loads(message["data"])["event_id"] == f"{order['id']}@1"
    finally:
        raw.close()
        env["runtime"].close()


# ---------------------------------------------------------------------------- webhooks


def test_webhook_retries_with_backoff_and_a_valid_signature(env):
    store, pack = env["store"], env["pack"]
    with receiving(env, "chengguan", fail_first=2) as receiver:
        order = create(env, assist=())
        deliveries = wait_until(lambda: [r for r in webhooks.delivery_log(store, service.actor_scope(
            service.actor_for(pack, "x", "commander", [])), department="chengguan")["rows"]
            if r["order_id"] == order["id"] and r["state"] == "delivered"])
    assert len(receiver.requests) == 3 and all(r["valid"] and r["fresh"] for r in receiver.requests)
    bodies = {r["body"] for r in receiver.requests}
    assert len(bodies) == 1, "every attempt sends the same body"
    body = json.loads(bodies.pop())
    assert body["event_id"] == f"{order['id']}@1" and body["department"] == "chengguan"
    assert receiver.requests[0]["headers"]["x-citybrain-event"] == "dispatch.create"
    gaps = [b["at"] - a["at"] for a, b in zip(receiver.requests, receiver.requests[1:])]
    assert gaps[0] >= 0.09 and gaps[1] >= 0.19, f"exponential backoff (0.1 s, 0.2 s): {gaps}"
    log = deliveries[0]
    assert [a["status_code"] for a in log["attempts_log"]] == [500, 500, 200] and log["attempts"] == 3
    # a forged signature does not verify
    assert not webhooks.verify(SECRET, "1", b"{}", webhooks.sign("other-secret-0123456789", "1", b"{}"))


def test_failing_receiver_ends_failed_and_the_log_is_scoped(env):
    store = env["store"]
    with receiving(env, "shuiwu", always_fail=True) as receiver:
        order = create(env, lead="shuiwu", assist=())

        def failed():
            page = call(env, "commander", "GET", "/api/v1/dispatch-webhook-deliveries?department=shuiwu&state=failed")
            return [r for r in page.get_json()["rows"] if r["order_id"] == order["id"]]

        row = wait_until(failed)[0]
        assert row["attempts"] == 3 and [a["status_code"] for a in row["attempts_log"]] == [500, 500, 500]
        assert row["last_error"].startswith("HTTP 500")
        # the department sees its own deliveries only; a wall kiosk none
        mine = call(env, "shuiwu", "GET", "/api/v1/dispatch-webhook-deliveries").get_json()["rows"]
        assert mine and {r["department"] for r in mine} == {"shuiwu"}
        assert call(env, "chengguan", "GET", "/api/v1/dispatch-webhook-deliveries?department=shuiwu").get_json()["rows"] == []
        assert call(env, "wall", "GET", "/api/v1/dispatch-webhook-deliveries").status_code == 403
        assert call(env, "commander", "GET", "/api/v1/dispatch-webhook-deliveries?state=bogus").status_code == 400
        # redelivery queues it again: one more attempt
        assert webhooks.redeliver(store, row["delivery_id"])
        env["runtime"].webhooks.wake()
        wait_until(lambda: len(receiver.requests) == 4)


def test_a_hanging_receiver_never_delays_commands(env):
    store = env["store"]
    with receiving(env, "chengguan", join_s=10, delay_s=3.0) as receiver:
        order = create(env, assist=())
        wait_until(lambda: receiver.requests)  # the worker is now stuck on the slow receiver
        started = time.perf_counter()
        assert act(env, "chengguan", order["id"], action="acknowledge").status_code == 200
        assert time.perf_counter() - started < 1.0
        pending = store.cursor().execute(
            "select count(*) from dispatch_webhook_deliveries where order_id = ? and event_type = 'dispatch.acknowledge'",
            [order["id"]]).fetchall()[0][0]
        assert pending == 1, "the acknowledgement is queued in the outbox with the command"


def test_pending_deliveries_survive_a_restart(tmp_path):
    from datasources.runtime import open_runtime
    from settings import Settings

    receiver = Receiver()
    first = open_env(tmp_path)
    try:
        webhooks.add_webhook(first["store"], first["pack"], "chengguan", receiver.url, SECRET)
        order = create(first, assist=())
        assert act(first, "chengguan", order["id"], action="acknowledge").status_code == 200
    finally:
        first["runtime"].close()  # no worker ran: two deliveries wait in the table
    assert receiver.requests == []
    settings = Settings.load(env={}, data_dir=tmp_path, demo=False, alert_interval_s=0)
    runtime = open_runtime(settings, simulate=False, start_threads=True)  # the runtime starts the worker
    try:
        wait_until(lambda: len(receiver.requests) == 2)
        assert [json.loads(r["body"])["type"] for r in receiver.requests] == ["dispatch.create", "dispatch.acknowledge"]
        assert all(r["valid"] for r in receiver.requests)
        wait_until(lambda: runtime.store.cursor().execute(
            "select count(*) = 2 from dispatch_webhook_deliveries where state = 'delivered'").fetchall()[0][0])
    finally:
        runtime.close()
        receiver.close()


# ---------------------------------------------------------------------------- order list


def test_order_list_scope_filters_and_keyset_pages(env):
    inside = [create(env)["id"] for _ in range(3)]
    outside = create(env, district=OUTSIDE)["id"]
    theirs = create(env, lead="huanbao", assist=())["id"]
    assert act(env, "commander", inside[0], action="cancel").status_code == 200

    def ids(who, query=""):
        seen, cursor = [], ""
        while True:
            body = call(env, who, "GET", f"/api/v1/dispatch-orders?limit=2{query}" + (f"&cursor={cursor}" if cursor else "")).get_json()
            seen += [r["id"] for r in body["rows"]]
            assert len(body["rows"]) <= 2
            cursor = body["next"]
            if not cursor:
                return seen

    everything = ids("commander")
    total = env["store"].cursor().execute("select count(*) from dispatch_orders").fetchall()[0][0]
    assert len(everything) == len(set(everything)) == total and everything.index(theirs) < everything.index(inside[0])
    leader = ids("leader")
    assert set(inside) <= set(leader) and outside not in leader
    chengguan = ids("chengguan")
    assert set(inside) <= set(chengguan) and theirs not in chengguan
    assert theirs in ids("commander", "&department=huanbao") and inside[1] not in ids("commander", "&department=huanbao")
    assert inside[0] in ids("commander", "&state=cancelled") and inside[0] not in ids("commander", "&state=open")
    row = next(r for r in call(env, "commander", "GET", "/api/v1/dispatch-orders?state=open&limit=1000").get_json()["rows"]
               if r["id"] == inside[1])
    assert row["case_count"] == 1 and [t["department"] for t in row["tasks"]] == ["chengguan", "shuiwu"]
    future = call(env, "commander", "GET", "/api/v1/dispatch-orders?since=2099-01-01").get_json()
    assert future == {"rows": [], "next": None}
    for bad in ("state=bogus", "limit=0", "cursor=@@", "since=yesterday"):
        assert call(env, "commander", "GET", f"/api/v1/dispatch-orders?{bad}").status_code == 400, bad
    assert env["client"].get("/api/v1/dispatch-orders").status_code == 401


# ---------------------------------------------------------------------------- effectiveness


def test_response_times_and_before_after(env):
    from dispatch.metrics import effectiveness
    from indicators.compute import compute
    from security.scope import Scope

    store, pack = env["store"], env["pack"]
    actor = service.actor_for(pack, "cmd", "commander", [])
    cheng = service.actor_for(pack, "cg", "department", ["department:chengguan"])
    t0 = service.utcnow().replace(microsecond=0) + dt.timedelta(days=400)  # a quiet stretch: only these orders
    minutes = dt.timedelta(minutes=1)
    plan = [(10, 70), (30, 130)]  # (acknowledged, resolved) minutes after creation; P1: acknowledge within 15
    orders = []
    for i, (ack, res) in enumerate(plan):
        start = t0 + i * 10 * minutes
        _, order = service.create_order(store, pack, actor, {
            "title": f"metrics {i}", "priority": 1, "lead_department": "chengguan", "assist_departments": [],
            "case_ids": fresh_cases(store, INSIDE, 2)}, now=start)
        for action, at in (("acknowledge", ack), ("start", ack + 1), ("resolve", res)):
            service.apply_action(store, pack, cheng, order["id"], {"action": action}, now=start + at * minutes)
        orders.append(order)
    done_at = t0 + 200 * minutes
    service.apply_action(store, pack, actor, orders[0]["id"], {"action": "verify"}, now=done_at)
    as_of = done_at + dt.timedelta(hours=3)
    report = effectiveness(store, pack, Scope.city(), t0, t0 + dt.timedelta(days=1), window_hours=24, as_of=as_of)
    (cg,) = report["departments"]
    assert cg["department"] == "chengguan" and cg["tasks"] == 2
    assert cg["acknowledge"] == {"count": 2, "median_minutes": 20.0, "p90_minutes": 28.0, "late": 1}
    assert cg["resolve"] == {"count": 2, "median_minutes": 100.0, "p90_minutes": 124.0, "late": 0}
    (closed,) = report["orders"]
    assert closed["order_id"] == orders[0]["id"] and closed["level"] and closed["unit_ids"]
    unit, level = closed["unit_ids"][0], closed["level"]
    level_index = pack.level(level).index
    # before: the same numbers compute() gives for the unit and window
    before = {r["indicator"]: r for r in compute(store, pack, Scope.city(), level, t0 - dt.timedelta(hours=24), t0,
                                                   ["open_backlog", "closure_rate"]) if r["unit_id"] == unit}
    assert closed["before"]["indicators"]["open_backlog"]["value"] == before["open_backlog"]["value"]
    assert closed["before"]["indicators"]["closure_rate"]["value"] == before["closure_rate"]["value"]
    # after: the open backlog at the end of the after window, counted independently in SQL; the
    # order's cases, closed by the verification, are not in it
    expected = store.cursor().execute(
        "select count(*) from cases where unit_ids[?] = ? and reported_at < ? and (closed_at is null or closed_at > ?)",
        [level_index, unit, as_of, as_of]).fetchall()[0][0]
    assert closed["after"]["indicators"]["open_backlog"]["value"] == expected
    assert closed["after"]["complete"] is False and closed["after"]["end"].startswith(as_of.isoformat())
    assert closed["change"]["open_backlog"] == expected - before["open_backlog"]["value"]
    linked = store.cursor().execute("select count(*) from cases where list_contains(?, case_id) and status = 'closed'",
                                    [list(orders[0]["case_ids"])]).fetchall()[0][0]
    assert linked == 2


def test_metrics_api_scope_and_errors(env):
    order = create(env, district=OUTSIDE)
    assert act(env, "chengguan", order["id"], action="acknowledge").status_code == 200
    commander = call(env, "commander", "GET", "/api/v1/dispatch-metrics?since=2020-01-01").get_json()
    assert {"departments", "orders", "since", "until"} <= set(commander)
    cg = next(d for d in commander["departments"] if d["department"] == "chengguan")
    assert cg["acknowledge"]["count"] >= 1
    # the leader of another district does not count the Haidian order
    leader = call(env, "leader", "GET", "/api/v1/dispatch-metrics?since=2020-01-01").get_json()
    leader_cg = next((d for d in leader["departments"] if d["department"] == "chengguan"), {"tasks": 0})
    assert leader_cg["tasks"] < cg["tasks"]
    for bad in ("since=2030-01-01&until=2020-01-01", "since=nope", "window_hours=0"):
        assert call(env, "commander", "GET", f"/api/v1/dispatch-metrics?{bad}").status_code == 400, bad


# ---------------------------------------------------------------------------- audit CSV


def test_audit_csv_export(env):
    create(env, who="=evil")
    response = call(env, "commander", "GET", "/api/v1/audit?format=csv&since=2020-01-01")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    as_json = call(env, "commander", "GET", "/api/v1/audit?since=2020-01-01&limit=5000").get_json()["rows"]
    assert [int(r["audit_id"]) for r in rows] == [r["audit_id"] for r in as_json]
    creates = [r for r in rows if r["action"] == "dispatch.create"]
    assert creates and all(r["target"].startswith("DO-") for r in creates)
    assert any(r["actor"] == "'=evil" for r in rows), "formula-looking cells are defused"
    assert not any(r["actor"].startswith("=") for r in rows)
    exported = env["store"].cursor().execute(
        "select count(*) from audit where action = 'audit.export' and actor = 'tok-commander'").fetchall()[0][0]
    assert exported >= 1
    assert call(env, "leader", "GET", "/api/v1/audit?format=csv").status_code == 403
    assert call(env, "commander", "GET", "/api/v1/audit?format=xml").status_code == 400


def test_openapi_lists_the_new_routes(env):
    paths = env["client"].get("/api/v1/openapi.json").get_json()["paths"]
    assert "get" in paths["/api/v1/dispatch-orders"] and "post" in paths["/api/v1/dispatch-orders"]
    assert "/api/v1/dispatch-metrics" in paths and "/api/v1/dispatch-webhook-deliveries" in paths
    formats = next(p for p in paths["/api/v1/audit"]["get"]["parameters"] if p["name"] == "format")
    assert formats["schema"]["enum"] == ["json", "csv"]
