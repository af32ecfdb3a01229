"""Shared fixtures: real Redis, real DuckDB files, the two city packs, a served console."""
from __future__ import annotations

import contextlib
import io
import logging
import os
import shutil
import socket
import subprocess
import sys
import time
import traceback
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
SHARED_DATA = (ROOT.parent / "shared" / "data").resolve()
BEIJING = ROOT / "citypacks" / "beijing"
NYC = ROOT / "citypacks" / "nyc"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_http(url: str, timeout: float = 90, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except Exception:
            time.sleep(0.3)
    raise TimeoutError(url)


def run_threads(target, count: int) -> None:
    """target(i) for i in range(count), each in its own thread, all started before any is joined."""
    import threading

    threads = [threading.Thread(target=target, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def _open_duckdb_files() -> set[str]:
    """DuckDB files (and their WALs) this process holds open (Linux /proc; empty elsewhere)."""
    found = set()
    try:
        fds = os.listdir("/proc/self/fd")
    except OSError:
        return found
    for fd in fds:
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.endswith((".duckdb", ".duckdb.wal")):
            found.add(target)
    return found


def run_cli(*argv, stdin: str = "", env: dict | None = None) -> subprocess.CompletedProcess:
    """`python app.py ARGV...` run in this process through cli.main (no Python start per call):
    stdout/stderr captured, sys.stdin read from `stdin`, `env` set in os.environ for the call only
    (Settings.load reads os.environ; a value None unsets the variable). The result looks like subprocess.run's: a SystemExit (argparse)
    becomes its exit code, an uncaught exception exit code 1 with its traceback on stderr, as a
    process would. A command must close every DuckDB file it opened (a long-lived caller, such as a
    console running admin commands, would otherwise keep it locked)."""
    import cli

    argv = [str(arg) for arg in argv]
    out, err = io.StringIO(), io.StringIO()
    saved_env = {name: os.environ.get(name) for name in (env or {})}
    saved_stdin, sys.stdin = sys.stdin, io.StringIO(stdin)
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level  # cli.main calls logging.basicConfig
    open_before = _open_duckdb_files()
    try:
        for name, value in (env or {}).items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = str(value)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = cli.main(argv) or 0  # app.py: sys.exit(main())
            except SystemExit as exc:
                if exc.code is None or isinstance(exc.code, int):
                    code = exc.code or 0
                else:
                    print(exc.code, file=sys.stderr)
                    code = 1
            except Exception:  # as the interpreter would: traceback on stderr, exit code 1
                traceback.print_exc()
                code = 1
    finally:
        sys.stdin = saved_stdin
        root.handlers[:] = saved_handlers
        root.setLevel(saved_level)
        for name, value in saved_env.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    left_open = _open_duckdb_files() - open_before
    assert not left_open, f"`app.py {' '.join(argv)}` left DuckDB files open: {sorted(left_open)}"
    return subprocess.CompletedProcess(argv, code, out.getvalue(), err.getvalue())


@contextmanager
def serve_console(data_dir: Path, env: dict, timeout: float = 120, args=()):
    """`python app.py serve [args]` with `env` (PORT among it) and its log in data_dir/server.log,
    until /healthz answers; yields the base URL and stops the server after."""
    log = open(data_dir / "server.log", "w")
    proc = subprocess.Popen([sys.executable, str(ROOT / "app.py"), "serve", *args], cwd=ROOT, env=env, stdout=log,
                            stderr=log)
    try:
        url = f"http://127.0.0.1:{env['PORT']}"
        wait_http(f"{url}/healthz", timeout=timeout, proc=proc)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def new_page(browser, origin: str, width: int = 1440, height: int = 900, locale: str | None = None):
    """A page in its own context that records requests leaving `origin` (citybrain_external) and
    console errors and uncaught exceptions (citybrain_errors)."""
    context = browser.new_context(viewport={"width": width, "height": height},
                                  **({"locale": locale} if locale else {}))
    page = context.new_page()
    page.citybrain_external = []
    page.citybrain_errors = []
    page.on("request", lambda r: r.url.startswith((origin, "data:", "blob:")) or page.citybrain_external.append(r.url))
    page.on("console", lambda m: m.type == "error" and page.citybrain_errors.append(m.text))
    page.on("pageerror", lambda e: page.citybrain_errors.append(str(e)))
    return page


@pytest.fixture(scope="session")
def shared_data() -> Path:
    assert SHARED_DATA.is_dir(), f"tests read real data from {SHARED_DATA}"
    return SHARED_DATA


@pytest.fixture(scope="session")
def beijing():
    from datasources.citypack import load_pack

    return load_pack(BEIJING)


@pytest.fixture(scope="session")
def nyc(shared_data):
    from datasources.citypack import load_pack

    return load_pack(NYC)


@pytest.fixture
def store(tmp_path):
    from datasources.store import Store

    store = Store(tmp_path / "test.duckdb")
    yield store
    store.close()


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory):
    """A real redis-server on a free loopback port, AOF on, in a temp dir; stopped at the end."""
    binary = shutil.which("redis-server")
    assert binary, "redis-server is installed by `make test` (Debian package redis-server)"
    port = free_port()
    workdir = tmp_path_factory.mktemp("redis")
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(workdir), "--appendonly", "yes",
         "--appendfsync", "everysec", "--save", "", "--protected-mode", "yes"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    import redis

    client = redis.Redis(port=port)
    deadline = time.monotonic() + 20
    while True:
        try:
            client.ping()
            break
        except redis.ConnectionError:
            if time.monotonic() > deadline:
                proc.kill()
                raise
            time.sleep(0.1)
    yield f"redis://127.0.0.1:{port}/0"
    proc.terminate()
    proc.wait(timeout=10)


@pytest.fixture(scope="session")
def served_console(tmp_path_factory, redis_server):
    """`python app.py serve` as a user runs it (simulator on, 3 days of history), on a free port."""
    port = free_port()
    data_dir = tmp_path_factory.mktemp("served")
    env = {**os.environ, "PORT": str(port), "CITYBRAIN_DATA_DIR": str(data_dir), "CITYBRAIN_HISTORY_DAYS": "3",
           "CITYBRAIN_SIMULATE_INTERVAL_S": "1", "REDIS_URL": redis_server, "CITYBRAIN_DEMO": "1", "CITYBRAIN_LOG_LEVEL": "WARNING"}
    with serve_console(data_dir, env) as url:
        yield {"url": url, "data_dir": data_dir, "redis_url": redis_server, "log": data_dir / "server.log"}


CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--enable-unsafe-swiftshader",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"]


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    executable = shutil.which("chromium") or "/usr/bin/chromium"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def console_runtime(tmp_path_factory):
    """The Beijing demo city in a fresh store with one simulated day of history (no threads)."""
    from datasources.runtime import open_runtime
    from settings import Settings

    # demo mode: requests without a login read as the wall role (city-wide, no personal data)
    settings = Settings.load(env={}, data_dir=tmp_path_factory.mktemp("console"), history_days=1, demo=True)
    runtime = open_runtime(settings, simulate=True, start_threads=False)
    yield runtime
    runtime.close()


@pytest.fixture(scope="session")
def console_client(console_runtime):
    from app import create_app

    app = create_app(console_runtime)
    return app.server.test_client()
