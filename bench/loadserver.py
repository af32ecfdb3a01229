"""The console under test for bench_load.py: `serve` started as a user starts it, signed-in users,
the case producer, the /healthz poller and CPU accounting of the server's process tree.
"""
from __future__ import annotations

import datetime as dt
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
SERVER_ENV = {"CITYBRAIN_HISTORY_DAYS": "3", "CITYBRAIN_DEMO": "1", "CITYBRAIN_LOG_LEVEL": "WARNING"}
ROLES = {"commander", "district_leader", "department", "briefing", "wall", "admin"}
PUSH_EVERY_S, HEALTH_EVERY_S = 2.0, 0.5


class Server:
    """A running `serve`: its process, address, mode, push token, demo passwords and signed-in cookies."""

    # (not a dataclass: bench/run.py loads this file without registering it in sys.modules)
    def __init__(self, proc: subprocess.Popen, url: str, port: int, data_dir: Path, log: Path, mode: str, token: str,
                 passwords: dict[str, str]):
        self.proc, self.url, self.port, self.data_dir, self.log = proc, url, port, data_dir, log
        self.mode, self.token, self.passwords = mode, token, passwords
        self.cookies: dict[str, dict] = {}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def issue_source_token(data_dir: Path) -> str:
    """A push token, made before `serve` holds the DuckDB file (`users token` cannot while it runs)."""
    from datasources.store import Store
    from security.tokens import issue_token
    from settings import Settings

    store = Store(Settings.load(env={}, data_dir=data_dir).db_path)
    try:
        return issue_token(store, "bench-source", "source")
    finally:
        store.close()


def http_get(url: str, path: str, timeout: float = 5.0) -> tuple[int, bytes]:
    host, port = url.split("//")[1].split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=timeout)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def start_server(workers: int, data_dir: Path, log_path: Path) -> Server:
    token = issue_source_token(data_dir)
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    env.update(SERVER_ENV)
    mode = "single" if workers == 1 else f"workers={workers}"
    for flags in (["--workers", str(workers)], []):
        port = free_port()
        log = open(log_path, "w")
        cmd = [sys.executable, str(ROOT / "app.py"), "serve", "--port", str(port), "--data-dir", str(data_dir), *flags]
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                break
            try:
                if http_get(url, "/healthz", 2)[0] == 200:
                    break
            except OSError:
                pass
            time.sleep(0.5)
        log.close()
        text = log_path.read_text(errors="replace")
        if proc.poll() is not None:
            if flags and "unrecognized arguments" in text and "--workers" in text:
                print("  serve rejects --workers (not built yet): running it without, mode single", flush=True)
                mode = "single"
                continue
            raise RuntimeError(f"serve exited with {proc.returncode}: {text[-2000:]}")
        if time.monotonic() >= deadline:
            stop_server_proc(proc)
            raise TimeoutError(f"serve did not answer /healthz: {text[-2000:]}")
        break
    time.sleep(1.0)  # the demo users are printed before the server answers; let the log flush
    passwords = {}
    for name, role, password in re.findall(r"^\s+(\S+)\s+(\S+)\s+(\S+)\s*$", log_path.read_text(errors="replace"), re.M):
        if role in ROLES:
            passwords[name] = password
    if "commander" not in passwords:
        raise RuntimeError("no demo users in the server's output (CITYBRAIN_DEMO=1?)")
    return Server(proc, url, port, data_dir, log_path, mode, token, passwords)


def stop_server_proc(proc: subprocess.Popen) -> None:
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)  # serve and the processes it started (its own session)
    except ProcessLookupError:
        return
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


def server_cpu_s(pid: int) -> float:
    """CPU seconds (user + system) of the server process and every process below it."""
    tick = os.sysconf("SC_CLK_TCK")
    parents, cpu = {}, {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        parents[int(entry)] = int(fields[1])
        cpu[int(entry)] = (int(fields[11]) + int(fields[12])) / tick
    tree, frontier = {pid}, [pid]
    while frontier:
        parent = frontier.pop()
        for child, ppid in parents.items():
            if ppid == parent and child not in tree:
                tree.add(child)
                frontier.append(child)
    return sum(cpu.get(p, 0.0) for p in tree)


def machine_busy() -> tuple[float, float]:
    """(busy, total) jiffies of the whole machine."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values)


def login(url: str, name: str, password: str) -> dict[str, str]:
    """Sign in through /login as the browser does; the session's cookies."""
    host, port = url.split("//")[1].split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=60)
    jar: dict[str, str] = {}

    def take(response):
        for raw in response.headers.get_all("Set-Cookie") or []:
            key, _, value = raw.split(";", 1)[0].partition("=")
            jar[key.strip()] = value

    try:
        conn.request("GET", "/login?lang=zh")
        response = conn.getresponse()
        page = response.read().decode()
        take(response)
        csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
        form = urlencode({"csrf": csrf, "next": "/", "lang": "zh", "name": name, "password": password})
        conn.request("POST", "/login", form, {"Content-Type": "application/x-www-form-urlencoded",
                                              "Cookie": "; ".join(f"{k}={v}" for k, v in jar.items())})
        response = conn.getresponse()
        response.read()
        take(response)
    finally:
        conn.close()
    if response.status not in (302, 303) or "_csrf_token" not in jar:
        raise RuntimeError(f"login {name}: HTTP {response.status}")
    return jar


# ---------------------------------------------------------------------------- producer and /healthz


class Producer(threading.Thread):
    """One new case every PUSH_EVERY_S through POST /api/v1/cases, on schedule even when the server is
    slow to answer (each push on its own connection, a few in flight at most); after each answer, the
    data version /healthz reports (the version holding the case, or a later one)."""

    def __init__(self, server: Server, points: list[tuple[float, float]], category: str, run_id: str, until: float):
        super().__init__(daemon=True)
        self.server, self.points, self.category, self.run_id, self.until = server, points, category, run_id, until
        self.events: list[dict] = []
        self.stop = threading.Event()

    def push(self, conn: http.client.HTTPConnection, i: int) -> tuple[int, dict]:
        lat, lon = self.points[i % len(self.points)]
        record = {"case_id": f"BENCH-{self.run_id}-{i}", "source": "hotline", "category": self.category,
                  "description": "bench_load", "reported_at": dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat(),
                  "lat": lat, "lon": lon, "priority": 3, "status": "registered"}
        conn.request("POST", "/api/v1/cases", json.dumps([record]),
                     {"Authorization": f"Bearer {self.server.token}", "Content-Type": "application/json"})
        response = conn.getresponse()
        return response.status, json.loads(response.read() or b"{}")

    def push_and_read_version(self, i: int) -> None:
        event = {"i": i, "sent": time.monotonic()}
        conn = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=10)
        try:
            event["status"], answer = self.push(conn, i)
            event["done"] = time.monotonic()
            version = answer.get("data_version") or answer.get("version")
            if version is None:
                conn.request("GET", "/healthz")
                version = json.loads(conn.getresponse().read())["data_version"]
            event["version"] = int(version)
        except (OSError, http.client.HTTPException, ValueError, KeyError) as exc:
            event["error"] = f"{type(exc).__name__}: {exc}"
        finally:
            conn.close()
        self.events.append(event)

    def run(self) -> None:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=8) as pool:
            i, next_at = 0, time.monotonic()
            while not self.stop.is_set() and time.monotonic() < self.until:
                self.stop.wait(max(0.0, next_at - time.monotonic()))
                if self.stop.is_set():
                    break
                next_at += PUSH_EVERY_S
                i += 1
                pool.submit(self.push_and_read_version, i)


class HealthPoller(threading.Thread):
    """GET /healthz every HEALTH_EVERY_S: (when, data version or None, seconds)."""

    def __init__(self, server: Server, until: float):
        super().__init__(daemon=True)
        self.server, self.until = server, until
        self.samples: list[tuple[float, int | None, float]] = []
        self.stop = threading.Event()

    def run(self) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=10)
        next_at = time.monotonic()
        while not self.stop.is_set() and time.monotonic() < self.until:
            self.stop.wait(max(0.0, next_at - time.monotonic()))
            next_at = max(next_at + HEALTH_EVERY_S, time.monotonic())
            started = time.monotonic()
            try:
                conn.request("GET", "/healthz")
                response = conn.getresponse()
                version = json.loads(response.read())["data_version"]
                self.samples.append((time.monotonic(), int(version), time.monotonic() - started))
            except (OSError, http.client.HTTPException, ValueError, KeyError):
                self.samples.append((time.monotonic(), None, time.monotonic() - started))
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=10)
        conn.close()


def probe_events(url: str) -> str | None:
    """`/events` if the server streams data versions (text/event-stream), else None (poll)."""
    host, port = url.split("//")[1].split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=3)
    try:
        conn.request("GET", "/events", headers={"Accept": "text/event-stream"})
        response = conn.getresponse()
        if response.status == 200 and response.getheader("Content-Type", "").startswith("text/event-stream"):
            return "/events"
        return None
    except (OSError, http.client.HTTPException):
        return None
    finally:
        conn.close()


def wait_calm(server: Server, timeout: float = 90.0) -> bool:
    """Until /healthz answers within a second again (a collapsed server works off its queue)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and server.proc.poll() is None:
        started = time.monotonic()
        try:
            if http_get(server.url, "/healthz", 5)[0] == 200 and time.monotonic() - started < 1.0:
                return True
        except OSError:
            pass
        time.sleep(1.0)
    return False


def cpu_snapshot(server: Server) -> dict:
    busy, total = machine_busy()
    return {"wall_s": time.monotonic(), "own_cpu_s": time.process_time(), "server_cpu_s": server_cpu_s(server.proc.pid),
            "machine_busy": busy, "machine_total": total}
