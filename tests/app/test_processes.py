"""Production shape: `serve --workers 2` (a writer process + gunicorn with two web workers), driven
from outside as an administrator and API clients would: CLI writes while it runs, both workers on the
same version, backup while ingesting, restore, and kill -9 of a web worker and of the writer during a
burst of dispatch commands without losing anything acknowledged."""
import datetime as dt
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid

import duckdb
import pytest

from tests.conftest import ROOT, free_port, serve_console


@pytest.fixture(scope="module")
def prod(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("prod")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    env.update({"PORT": str(port), "CITYBRAIN_DATA_DIR": str(data_dir), "CITYBRAIN_HISTORY_DAYS": "1",
                "CITYBRAIN_SIMULATE_INTERVAL_S": "1", "CITYBRAIN_DEMO": "1", "CITYBRAIN_LOG_LEVEL": "WARNING",
                "CITYBRAIN_ALERT_INTERVAL_S": "0"})
    with serve_console(data_dir, env, timeout=240, args=["--workers", "2"]) as url:
        yield {"url": url, "data_dir": data_dir, "env": env}


def cli(prod, *args, stdin: str | None = None, data_dir=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "app.py"), *args, "--data-dir", str(data_dir or prod["data_dir"])],
                          cwd=ROOT, env=prod["env"], input=stdin, capture_output=True, text=True, timeout=120)


def http(url, method="GET", body=None, token=None, timeout=30):
    """(status, json or None, headers); never raises for an HTTP status."""
    data = None if body is None else json.dumps(body).encode()
    headers = {"Content-Type": "application/json", "Connection": "close"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read() or b"null"), dict(response.headers)
    except urllib.error.HTTPError as exc:
        raw = exc.read()
        try:
            payload = json.loads(raw)
        except ValueError:
            payload = None
        return exc.code, payload, dict(exc.headers)


def indicators_path() -> str:
    end = dt.datetime.now(dt.UTC).replace(microsecond=0, tzinfo=None)
    return (f"/api/v1/indicators?level=district&indicators=cases_reported&start={(end - dt.timedelta(days=1)).isoformat()}Z"
            f"&end={end.isoformat()}Z")


def token_for(prod, name):
    done = cli(prod, "users", "token", name)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()[-1]


def web_pids(prod, want=2, timeout=20) -> dict[int, int]:
    """pid -> data version of each web worker answering /healthz (new connections until `want` seen)."""
    seen: dict[int, int] = {}
    deadline = time.monotonic() + timeout
    while len(seen) < want and time.monotonic() < deadline:
        status, body, _ = http(prod["url"] + "/healthz")
        if status == 200 and body["process"].get("role") == "web":
            seen[body["process"]["pid"]] = body["data_version"]
    return seen


def test_the_processes_report_themselves(prod):
    status, body, _ = http(prod["url"] + "/healthz")
    assert status == 200
    processes = body["processes"]
    assert processes["writer"]["pid"] != body["process"]["pid"]
    webs = [c for c in processes["clients"] if c["role"] == "web"]
    assert len(webs) == 2 and all(c["versions_behind"] <= 1 for c in webs)


def test_cli_writes_while_the_console_runs(prod, tmp_path):
    added = cli(prod, "users", "add", "ops-admin", "--role", "commander", "--password-stdin", stdin="a long password\n")
    assert added.returncode == 0 and "saved" in added.stdout, added.stderr
    token = token_for(prod, "ops-admin")
    status, body, _ = http(prod["url"] + indicators_path(), token=token)
    assert status == 200 and body["rows"]

    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    csv = tmp_path / "cases.csv"
    csv.write_text("case_id,source,category,reported_at,lat,lon,status\n" + "".join(
        f"CLI-{i},hotline,noise,{(now - dt.timedelta(minutes=i)).isoformat()},39.92,116.45,registered\n" for i in range(5))
        + "CLI-BAD,hotline,noise,yesterday-ish,39.92,116.45,registered\n")
    ingested = cli(prod, "ingest", "cases", str(csv))
    assert ingested.returncode == 0, ingested.stderr
    summary = json.loads(ingested.stdout.strip().splitlines()[-1])
    assert (summary["accepted"], summary["quarantined"]) == (5, 1)
    status, body, _ = http(prod["url"] + "/api/v1/cases?status=open&limit=500", token=token)
    assert status == 200 and {f"CLI-{i}" for i in range(5)} <= {r["case_id"] for r in body["rows"]}

    reprocessed = cli(prod, "quarantine", "reprocess", "cases")  # the bad time is still bad: kept, not lost
    assert reprocessed.returncode == 0, reprocessed.stderr
    assert json.loads(reprocessed.stdout.strip().splitlines()[-1])["quarantined"] >= 1
    pdf = tmp_path / "brief.pdf"
    briefed = cli(prod, "brief", "--template", "daily", "--scope", "district:110105", "--start",
                  (now - dt.timedelta(days=1)).isoformat(), "--end", now.isoformat(), "--out", str(pdf), "--lang", "en")
    assert briefed.returncode == 0 and pdf.read_bytes().startswith(b"%PDF"), briefed.stderr

    scheduled = cli(prod, "schedules", "add", "morning", "--cron", "30 7 * * *", "--template", "daily")
    assert scheduled.returncode == 0, scheduled.stderr
    assert "morning" in cli(prod, "schedules", "list").stdout
    hooked = cli(prod, "webhooks", "add", "chengguan", "http://127.0.0.1:9/hook")
    assert hooked.returncode == 0 and hooked.stdout.strip(), hooked.stderr

    # revoking applies at once in every web worker (the principal caches follow the admin version)
    revoked = cli(prod, "users", "revoke", "ops-admin")
    assert revoked.returncode == 0 and "revoked" in revoked.stdout
    time.sleep(0.3)
    codes = {http(prod["url"] + indicators_path(), token=token)[0] for _ in range(12)}
    assert codes == {401}


def test_the_access_matrix_holds_in_every_process(prod):
    added = cli(prod, "users", "add", "lead-chaoyang", "--role", "district_leader", "--scope", "district:110105",
                "--password-stdin", stdin="another long password\n")
    assert added.returncode == 0, added.stderr
    token = token_for(prod, "lead-chaoyang")
    seen_pids = set()
    for _ in range(16):  # new connections: both workers answer some of them
        status, body, _ = http(prod["url"] + indicators_path(), token=token)
        assert status == 200 and {r["unit_id"] for r in body["rows"]} == {"110105"}
        status, body, _ = http(prod["url"] + "/api/v1/cases?unit=district:110108&limit=5", token=token)
        assert status in (403, 404) or body["rows"] == [], (status, body)
        status, body, _ = http(prod["url"] + "/api/v1/cases?limit=20", token=token)
        assert status == 200 and body["rows"]
        assert {r["unit.district"] for r in body["rows"]} == {"110105"}
        assert all("*" in (r["reporter_phone"] or "*") for r in body["rows"])  # masked
        seen_pids.add(http(prod["url"] + "/healthz")[1]["process"]["pid"])
    assert len(seen_pids) == 2


def test_a_changed_or_disabled_user_s_token_follows_at_once_everywhere(prod):
    def add(role, *scope):
        done = cli(prod, "users", "add", "shift-lead", "--role", role, *scope, "--password-stdin", stdin="yet another password\n")
        assert done.returncode == 0, done.stderr

    add("commander")
    token = token_for(prod, "shift-lead")
    status, body, _ = http(prod["url"] + indicators_path(), token=token)
    assert status == 200 and len({r["unit_id"] for r in body["rows"]}) > 1
    add("district_leader", "--scope", "district:110105")  # demoted: the same token reads one district now
    time.sleep(0.3)
    for _ in range(8):
        status, body, _ = http(prod["url"] + indicators_path(), token=token)
        assert status == 200 and {r["unit_id"] for r in body["rows"]} == {"110105"}
    disabled = cli(prod, "users", "disable", "shift-lead")
    assert disabled.returncode == 0, disabled.stderr
    time.sleep(0.3)
    assert {http(prod["url"] + indicators_path(), token=token)[0] for _ in range(8)} == {401}


def test_both_web_workers_follow_the_data_version_within_2s(prod):
    token = token_for(prod, "commander")
    now = dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()
    status, body, _ = http(prod["url"] + "/api/v1/cases", "POST", [
        {"case_id": f"VER-{uuid.uuid4().hex[:8]}", "source": "app", "category": "noise", "reported_at": now,
         "lat": 39.92, "lon": 116.45}], token=token)
    assert status == 200 and body["accepted"] == 1
    pushed_at = time.monotonic()
    writer_version = http(prod["url"] + "/healthz")[1]["processes"]["writer"]["data_version"]
    while True:
        pids = web_pids(prod)
        if len(pids) == 2 and min(pids.values()) >= writer_version:
            break
        assert time.monotonic() - pushed_at < 2.0, (pids, writer_version)
        time.sleep(0.05)


def test_backup_while_ingesting_restores_to_a_consistent_store(prod, tmp_path):
    token = token_for(prod, "commander")
    stop = threading.Event()
    pushed = []

    def producer():
        while not stop.is_set():
            batch = [{"case_id": f"BK-{uuid.uuid4().hex[:10]}", "source": "app", "category": "noise",
                      "reported_at": dt.datetime.now(dt.UTC).isoformat(), "lat": 39.9, "lon": 116.4} for _ in range(20)]
            if http(prod["url"] + "/api/v1/cases", "POST", batch, token=token)[0] == 200:
                pushed.append(len(batch))

    thread = threading.Thread(target=producer)
    thread.start()
    try:
        time.sleep(1.0)
        target = tmp_path / "backup"
        done = cli(prod, "backup", str(target))
        time.sleep(0.5)
    finally:
        stop.set()
        thread.join()
    assert done.returncode == 0, done.stderr
    manifest = json.loads(done.stdout.strip().splitlines()[-1])
    assert pushed and manifest["data_version"] > 0
    # consistent: the copy is exactly the store at its version (every commit's cases, nothing later)
    with duckdb.connect(str(target / "citybrain.duckdb"), read_only=True) as con:
        assert con.execute("select max(version) from commits").fetchall()[0][0] == manifest["data_version"]
        assert con.execute("select count(*) from cases where version > ?", [manifest["data_version"]]).fetchall()[0][0] == 0
        counts = con.execute("select count(*), count(*) filter (where case_id like 'BK-%') from cases").fetchall()[0]
    assert counts[1] % 20 == 0  # batches land whole or not at all
    # restore into another data folder (no writer there) and open it as the writer would
    restore_dir = tmp_path / "restored"
    restored = cli(prod, "restore", str(target), data_dir=restore_dir)
    assert restored.returncode == 0, restored.stderr
    from datasources.store import Store

    store = Store(restore_dir / "citybrain.duckdb")
    try:
        assert store.data_version == manifest["data_version"]
        assert store.cursor().execute("select count(*), count(*) filter (where case_id like 'BK-%') from cases").fetchall()[0] == counts
    finally:
        store.close()
    # restoring over a folder whose writer runs is refused
    refused = cli(prod, "restore", str(target))
    assert refused.returncode != 0 and "running" in refused.stderr


def test_kill_9_of_a_web_worker_and_of_the_writer_loses_nothing_acknowledged(prod):
    url, token = prod["url"], token_for(prod, "commander")
    status, body, _ = http(url + "/api/v1/cases?status=open&limit=40", token=token)
    assert status == 200 and len(body["rows"]) >= 10
    case_ids = [r["case_id"] for r in body["rows"]][:10]
    health = http(url + "/healthz")[1]
    writer_pid = health["processes"]["writer"]["pid"]
    victim = health["process"]["pid"]
    acknowledged: dict[str, str] = {}  # command_id -> order id, only for 201s
    outcomes: list[int] = []
    stop = threading.Event()

    def commander(n):
        i = 0
        while not stop.is_set():
            command_id = f"burst-{n}-{i}"
            body = {"title": f"burst {n}-{i}", "case_ids": [case_ids[(n + i) % len(case_ids)]], "command_id": command_id}
            for _attempt in range(60):  # a client retries with the same command_id until it gets an answer
                try:
                    status, answer, headers = http(url + "/api/v1/dispatch-orders", "POST", body, token=token, timeout=20)
                except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
                    time.sleep(0.25)
                    continue
                outcomes.append(status)
                if status == 201:
                    acknowledged[command_id] = answer["id"]
                    break
                assert status == 503 and "Retry-After" in headers, (status, answer)
                time.sleep(0.25)
            i += 1

    threads = [threading.Thread(target=commander, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    try:
        time.sleep(2)
        os.kill(victim, signal.SIGKILL)
        time.sleep(2)
        os.kill(writer_pid, signal.SIGKILL)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:  # the supervisor starts the writer again
            status, body, _ = http(url + "/healthz")
            if status == 200 and body["processes"]["writer"]["pid"] != writer_pid:
                break
            time.sleep(0.5)
        time.sleep(3)
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=120)
    assert len(acknowledged) >= 8, outcomes
    assert set(outcomes) <= {201, 503}, outcomes  # never a 400 or 500 for the writer being away
    health = http(url + "/healthz")[1]
    assert health["processes"]["writer"]["pid"] != writer_pid
    assert victim not in web_pids(prod)
    # every acknowledged order is there, once
    for command_id, order_id in acknowledged.items():
        status, order, _ = http(f"{url}/api/v1/dispatch-orders/{order_id}", token=token)
        assert status == 200 and order["title"].startswith("burst"), (command_id, status)
    status, listing, _ = http(url + "/api/v1/dispatch-orders?limit=500", token=token)
    assert status == 200
    titles = [o["title"] for o in listing["rows"] if o["title"].startswith("burst ")]
    assert len(titles) == len(set(titles))  # a retried command_id never made a second order
    assert {f"burst {c.split('-', 1)[1]}" for c in acknowledged} <= set(titles)
