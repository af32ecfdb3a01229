"""Production shape: `serve --workers 2` (a writer process + gunicorn with two web workers), driven
from outside as an administrator and API clients would: CLI writes while it runs, both workers on the
same version, backup while ingesting, restore, and kill -9 of a web worker and of the writer during a
burst of dispatch commands without losing anything acknowledged."""
import datetime as dt
import json
import re
import os
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from http.client import HTTPConnection
from http.cookies import SimpleCookie

import duckdb
import pytest

from tests.conftest import free_port, run_cli, run_threads, serve_console


@pytest.fixture(scope="module")
def prod(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("prod")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    env.update({"PORT": str(port), "CITYBRAIN_DATA_DIR": str(data_dir), "CITYBRAIN_HISTORY_DAYS": "1",
                "CITYBRAIN_SIMULATE_INTERVAL_S": "1", "CITYBRAIN_DEMO": "1", "CITYBRAIN_LOG_LEVEL": "WARNING",
                "CITYBRAIN_ALERT_INTERVAL_S": "0",
                # the lockout test sends 40 guesses: let them reach the lockout, not the login rate limits
                "CITYBRAIN_LOGIN_ATTEMPTS_PER_MIN": "1000", "CITYBRAIN_LOGIN_ATTEMPTS_PER_ACCOUNT_PER_MIN": "1000"})
    with serve_console(data_dir, env, timeout=240, args=["--workers", "2"]) as url:
        yield {"url": url, "data_dir": data_dir, "env": env}


def cli(prod, *args, stdin: str | None = None, data_dir=None) -> subprocess.CompletedProcess:
    """`python app.py ARGS --data-dir DIR` with the console's environment, run in this process (the
    test process is not the console's: the command reaches the running writer through its socket)."""
    env = {**{name: None for name in os.environ if name not in prod["env"]}, **prod["env"]}
    return run_cli(*args, "--data-dir", data_dir or prod["data_dir"], stdin=stdin or "", env=env)


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


def _request(prod, method, path, cookie=None, form=None, source="127.0.0.1"):
    """(status, body text, session cookie set or None) on a new connection from `source` (a loopback address)."""
    parsed = urllib.parse.urlparse(prod["url"])
    conn = HTTPConnection(parsed.hostname, parsed.port, timeout=90, source_address=(source, 0))
    headers = {"Connection": "close"}
    if cookie:
        headers["Cookie"] = f"citybrain_session={cookie}"
    body = None
    if form is not None:
        body = urllib.parse.urlencode(form)
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    try:
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        jar = SimpleCookie()
        for header in response.headers.get_all("Set-Cookie") or []:
            jar.load(header)
        session = jar["citybrain_session"].value if "citybrain_session" in jar else None
        return response.status, response.read().decode(), session
    finally:
        conn.close()


def web_login(prod, name, password, source="127.0.0.1"):
    """(status, session cookie) of a login through the form, as a browser does it."""
    _, page, cookie = _request(prod, "GET", "/login?lang=en", source=source)
    csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    status, _, session = _request(prod, "POST", "/login", cookie, {"name": name, "password": password, "csrf": csrf,
                                                                  "next": "/", "lang": "en"}, source=source)
    return status, session or cookie


def who(prod, cookie) -> dict:
    """The principal a session cookie stands for (demo mode: a refused session reads as the guest)."""
    status, body, _ = _request(prod, "GET", "/account/session", cookie)
    assert status == 200, (status, body[:200])
    return json.loads(body)


def within_1s(check, tries=8):
    """Seconds until `check()` holds for `tries` requests in a row (new connections: both workers)."""
    started = time.monotonic()
    while not all(check() for _ in range(tries)):
        assert time.monotonic() - started < 1.0, "not in every web worker within a second"
    return time.monotonic() - started


def admin(prod, *args, stdin: str = "") -> subprocess.CompletedProcess:
    """`cli()` run in this process (cli.main: the same command through the running writer's socket,
    without a Python start per call)."""
    return run_cli(*args, "--data-dir", prod["data_dir"], stdin=stdin)


def admin_token(prod, name):
    done = admin(prod, "users", "token", name)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()[-1]


def add_user_admin(prod, name, role="commander", password="night shift password"):
    done = admin(prod, "users", "add", name, "--role", role, "--password-stdin", stdin=password + "\n")
    assert done.returncode == 0, done.stderr


def test_parallel_guesses_from_four_addresses_lock_the_account_in_every_worker(prod):
    # 12 guesses, not 40: each costs an argon2 verification (~0.2 CPU-s); 40 are in test_login_security.py
    add_user_admin(prod, "guarded")
    statuses = []

    def guess(i):
        statuses.append(web_login(prod, "guarded", f"wrong guess {i}", source=f"127.0.0.{1 + i % 4}")[0])

    run_threads(guess, 12)
    assert statuses == [401] * 12
    locked = next(u for u in map(json.loads, admin(prod, "users", "list").stdout.splitlines()) if u["name"] == "guarded")
    assert locked["locked_until"] is not None
    for source in ("127.0.0.1", "127.0.0.5"):  # the right password from a fresh address too: refused, generic
        _, page, cookie = _request(prod, "GET", "/login?lang=en", source=source)
        csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
        answers = [_request(prod, "POST", "/login", cookie, {"name": name, "password": "night shift password",
                                                            "csrf": csrf, "lang": "en"}, source=source)
                   for name in ("guarded", "no-such-user")]
        assert [status for status, _, _ in answers] == [401, 401]
        messages = [re.search(r'role="alert">([^<]*)<', body).group(1) for _, body, _ in answers]
        assert messages[0] == messages[1] and "lock" not in messages[0].lower()
    token = admin_token(prod, "commander")
    since = (dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)).replace(tzinfo=None).isoformat()
    status, body, _ = http(prod["url"] + f"/api/v1/audit?since={since}&limit=500", token=token)
    failed = [r for r in body["rows"] if r["action"] == "login_failed" and r["actor"] == "guarded"]
    assert status == 200 and len(failed) == 14 and {r["origin"] for r in failed} >= {f"127.0.0.{i}" for i in range(1, 6)}


def test_role_change_and_disable_reach_tokens_and_sessions_within_a_second(prod):
    add_user_admin(prod, "night-commander")
    token = admin_token(prod, "night-commander")
    status, cookie = web_login(prod, "night-commander", "night shift password")
    assert status == 302 and who(prod, cookie)["role"] == "commander"
    assert http(prod["url"] + "/api/v1/audit", token=token)[0] == 200
    demoted = admin(prod, "users", "role", "night-commander", "district_leader", "--scope", "district:110105")
    assert demoted.returncode == 0 and "district_leader" in demoted.stdout, demoted.stderr
    took = [within_1s(lambda: http(prod["url"] + "/api/v1/audit", token=token)[0] == 403)]  # commander-only now
    took.append(within_1s(lambda: who(prod, cookie)["scopes"] == ["district:110105"]))
    assert who(prod, cookie)["role"] == "district_leader"
    assert admin(prod, "users", "disable", "night-commander").returncode == 0
    took.append(within_1s(lambda: http(prod["url"] + indicators_path(), token=token)[0] == 401))
    took.append(within_1s(lambda: who(prod, cookie)["guest"]))
    print(f"refused after {max(took):.3f} s at most")


def test_logout_and_password_change_end_sessions_in_every_worker(prod):
    add_user_admin(prod, "day-commander")
    _, laptop = web_login(prod, "day-commander", "night shift password")
    _, phone = web_login(prod, "day-commander", "night shift password")
    assert who(prod, laptop)["name"] == who(prod, phone)["name"] == "day-commander"
    status, page, _ = _request(prod, "GET", "/account/password?lang=en", laptop)
    csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    status, _, laptop_after = _request(prod, "POST", "/account/password", laptop, {
        "csrf": csrf, "current_password": "night shift password", "new_password": "a fresh day password"})
    assert status == 200 and laptop_after
    within_1s(lambda: who(prod, phone)["guest"])  # the other session ended
    assert who(prod, laptop_after)["name"] == "day-commander"  # the changing one goes on
    assert web_login(prod, "day-commander", "night shift password")[0] == 401
    status, _ = web_login(prod, "day-commander", "a fresh day password")
    assert status == 302
    assert _request(prod, "GET", "/logout", laptop_after)[0] == 302
    within_1s(lambda: who(prod, laptop_after)["guest"])  # replaying the old cookie after logout


def test_users_revoke_a_token_or_a_user_while_running(prod):
    add_user_admin(prod, "relief-commander")
    first, second = admin_token(prod, "relief-commander"), admin_token(prod, "relief-commander")
    _, cookie = web_login(prod, "relief-commander", "night shift password")
    revoked = admin(prod, "users", "revoke", first)
    assert revoked.returncode == 0 and "revoked 1 token(s) of relief-commander" in revoked.stdout, revoked.stderr
    assert first not in revoked.stdout + revoked.stderr
    within_1s(lambda: http(prod["url"] + indicators_path(), token=first)[0] == 401)
    assert {http(prod["url"] + indicators_path(), token=second)[0] for _ in range(6)} == {200}
    assert who(prod, cookie)["name"] == "relief-commander"
    revoked = admin(prod, "users", "revoke", "relief-commander")
    assert revoked.returncode == 0 and "sessions ended" in revoked.stdout, revoked.stderr
    within_1s(lambda: http(prod["url"] + indicators_path(), token=second)[0] == 401)
    within_1s(lambda: who(prod, cookie)["guest"])
    assert admin(prod, "users", "revoke", "nobody-by-that-name").returncode == 2


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
