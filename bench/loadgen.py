"""The load generator of bench_load.py: simulated console sessions replaying what Chromium sends.

Runs in worker processes (multiprocessing, spawn) so that it never competes with the server for
one interpreter: each process drives its share of the sessions on one asyncio loop with a small
hand-written HTTP/1.1 client (keep-alive, at most MAX_CONNECTIONS per session like a browser per
host, Content-Length and chunked bodies, gzip only where the bench must read the answer).

A session (one page kind, its own cookie jar):
- loads the page once: the document, /_dash-layout and /_dash-dependencies, then the page's
  initial callbacks in the clusters the browser sent them in, then the page's other GETs (geometry);
- fires, per dcc.Interval on the page, that interval's callbacks every period (the feed badges,
  the version poll; the wall's pulse and its faster version poll);
- when the server has `/events`, holds one stream of data versions as assets/push.js does, and
  while it is live leaves the version polls out (back to polling when it fails or is refused);
- when the data version it knows moves (from a poll's answer or the stream), fires the page's
  version-triggered callbacks with the new version (then the callbacks those set off) and records
  when they all came back: what the screen shows.
Per callback at most one request is in flight (a tick that finds its previous request still open
is skipped and counted: the load stays bounded when the server collapses), and a version move
during a version wave is rendered right after it. Only the standard library here: the worker
processes stay small.
"""
from __future__ import annotations

import asyncio
import gzip
import json
import os
import re
import time
import zlib

MAX_CONNECTIONS = 6  # Chromium's limit per host over HTTP/1.1
TIMEOUT_S = 10.0  # an answer slower than this is an error (and its connection is dropped)
VERSION_ID, VERSION_PROP = "data-version", "data"
_VERSION_IN_ANSWER = re.compile(rb'"data-version"\s*:\s*\{\s*"data"\s*:\s*(\d+)')


class HTTPError(Exception):
    """A failed exchange: kind is timeout, reset (connection refused, reset, closed) or protocol."""

    def __init__(self, kind: str, detail: str = ""):
        super().__init__(f"{kind}: {detail}")
        self.kind = kind


class Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        self.reader, self.writer = reader, writer
        self.used = False

    def close(self) -> None:
        try:
            self.writer.close()
        except Exception:
            pass


async def open_connection(host: str, port: int) -> Connection:
    reader, writer = await asyncio.open_connection(host, port, limit=1 << 20)
    return Connection(reader, writer)


def parse_head(head: bytes) -> tuple[int, dict, list[str]]:
    """Status, headers (lower-case names, last wins) and every Set-Cookie of a response head."""
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/"):
        raise HTTPError("protocol", lines[0][:80])
    headers, cookies = {}, []
    for line in lines[1:]:
        if not line:
            continue
        name, _, value = line.partition(":")
        name, value = name.strip().lower(), value.strip()
        if name == "set-cookie":
            cookies.append(value)
        headers[name] = value
    headers[":version"] = parts[0]
    return int(parts[1]), headers, cookies


async def read_chunked(reader: asyncio.StreamReader) -> bytes:
    body = bytearray()
    while True:
        size = int((await reader.readuntil(b"\r\n")).split(b";")[0].strip() or b"0", 16)
        if size == 0:
            while (await reader.readuntil(b"\r\n")) != b"\r\n":  # trailers
                pass
            return bytes(body)
        body += await reader.readexactly(size)
        await reader.readexactly(2)


async def exchange(conn: Connection, request: bytes, method: str) -> tuple[int, dict, list[str], bytes]:
    """One request/response on an open connection; raises HTTPError("reset") on a closed one."""
    try:
        conn.writer.write(request)
        head = await conn.reader.readuntil(b"\r\n\r\n")
        status, headers, cookies = parse_head(head)
        if method == "HEAD" or status in (204, 304) or 100 <= status < 200:
            body = b""
        elif "content-length" in headers:
            body = await conn.reader.readexactly(int(headers["content-length"]))
        elif "chunked" in headers.get("transfer-encoding", "").lower():
            body = await read_chunked(conn.reader)
        else:
            body = await conn.reader.read(-1)
            headers["connection"] = "close"
    except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, OSError) as exc:
        raise HTTPError("reset", f"{type(exc).__name__} {exc}") from None
    conn.used = True
    return status, headers, cookies, body


def decoded(headers: dict, body: bytes) -> bytes:
    encoding = headers.get("content-encoding", "").lower()
    if encoding == "gzip":
        return gzip.decompress(body)
    if encoding == "deflate":
        return zlib.decompress(body)
    return body


def version_in(answer: bytes) -> int | None:
    """The data version a version-poll answer sets (None when it answers no_update)."""
    found = _VERSION_IN_ANSWER.search(answer)
    return int(found.group(1)) if found else None


def set_value(entries, prop_id: str, prop: str, value) -> None:
    for entry in entries or ():
        if isinstance(entry, dict) and entry.get("id") == prop_id and entry.get("property") == prop:
            entry["value"] = value


# ---------------------------------------------------------------------------- a session


class Session:
    def __init__(self, gen: "Generator", spec: dict, page: dict):
        self.gen, self.spec, self.page = gen, spec, page
        self.kind = spec["kind"]
        self.jar: dict[str, str] = dict(spec.get("cookies") or {})
        self._cookie_line = b""
        self._refresh_cookie_line()
        self.idle: list[Connection] = []
        self.slots = asyncio.Semaphore(MAX_CONNECTIONS - (1 if gen.sse_path else 0))
        self.pending: set[str] = set()
        self.known = 0  # the data version the page holds
        self.rendered = 0  # the version its version-triggered callbacks last completed for
        self.wave_running = False
        self.loaded = False
        self.timeline: list[tuple[float, int]] = []  # (when the screen showed it, version)
        self.learned: list[tuple[float, int]] = []  # (when the page learned of it, version): poll or /events
        self.sse_events = 0
        self.sse_live = False
        self.initial_s: float | None = None

    # -- cookies
    def _refresh_cookie_line(self) -> None:
        line = "; ".join(f"{k}={v}" for k, v in self.jar.items())
        csrf = self.jar.get("_csrf_token")
        self._cookie_line = ((f"Cookie: {line}\r\n" if line else "") + (f"X-CSRFToken: {csrf}\r\n" if csrf else "")).encode()

    def _take_cookies(self, cookies: list[str]) -> None:
        changed = False
        for raw in cookies:
            pair = raw.split(";", 1)[0]
            name, _, value = pair.partition("=")
            name = name.strip()
            gone = not value or "expires=thu, 01 jan 1970" in raw.lower() or "max-age=0" in raw.lower()
            if gone:
                changed |= self.jar.pop(name, None) is not None
            elif self.jar.get(name) != value:
                self.jar[name] = value
                changed = True
        if changed:
            self._refresh_cookie_line()

    # -- HTTP
    def _request_bytes(self, method: str, path: str, body: bytes | None, accept: str) -> bytes:
        head = (f"{method} {path} HTTP/1.1\r\nHost: {self.gen.host_header}\r\nUser-Agent: citybrain-bench-load\r\n"
                f"Accept: {accept}\r\nAccept-Encoding: gzip, deflate\r\n").encode()
        if body is not None:
            head += b"Content-Type: application/json\r\nContent-Length: " + str(len(body)).encode() + b"\r\n"
        return head + self._cookie_line + b"\r\n" + (body or b"")

    async def http(self, method: str, path: str, body: bytes | None = None, accept: str = "application/json"):
        """(status, headers, body); raises HTTPError. Reuses an idle connection; a reused one that
        the server closed in between is retried once on a fresh one, as browsers do."""
        request = self._request_bytes(method, path, body, accept)
        async with self.slots:
            for attempt in (0, 1):
                # a retry goes to a fresh connection: the other idle ones may be closed as well
                conn = self.idle.pop() if self.idle and attempt == 0 else None
                fresh = conn is None
                try:
                    if conn is None:
                        try:
                            conn = await asyncio.wait_for(open_connection(self.gen.host, self.gen.port), TIMEOUT_S)
                        except asyncio.TimeoutError:
                            raise HTTPError("timeout", "connect") from None
                        except OSError as exc:
                            raise HTTPError("reset", f"connect {exc}") from None
                    async with asyncio.timeout(TIMEOUT_S):
                        status, headers, cookies, answer = await exchange(conn, request, method)
                except TimeoutError:
                    conn.close()
                    raise HTTPError("timeout", path) from None
                except HTTPError as exc:
                    if conn is not None:
                        conn.close()
                    if exc.kind == "reset" and not fresh and attempt == 0:
                        self.gen.stats["reconnects"] += 1
                        continue
                    raise
                if headers.get("connection", "").lower() == "close" or headers[":version"] == "HTTP/1.0":
                    conn.close()
                else:
                    self.idle.append(conn)
                self._take_cookies(cookies)
                return status, headers, answer
        raise HTTPError("reset", "unreachable")

    async def get(self, path: str, label: str) -> bool:
        started = time.monotonic()
        try:
            status, _, _ = await self.http("GET", path, accept="*/*")
        except HTTPError as exc:
            self.gen.record(label, started, None, exc.kind, str(exc))
            return False
        self.gen.record(label, started, time.monotonic(), None if 200 <= status < 300 else f"http_{status}")
        return 200 <= status < 300

    async def callback(self, template: dict, n_intervals: int | None = None) -> bool:
        """POST one Dash callback (the recorded body with this session's version and tick count)."""
        name, body = template["name"], template["body"]
        set_value(body.get("inputs"), VERSION_ID, VERSION_PROP, self.known)
        set_value(body.get("state"), VERSION_ID, VERSION_PROP, self.known)
        if n_intervals is not None and template.get("interval"):
            set_value(body.get("inputs"), template["interval"], "n_intervals", n_intervals)
        payload = json.dumps(body, separators=(",", ":")).encode()
        self.pending.add(name)
        started = time.monotonic()
        try:
            status, headers, answer = await self.http("POST", "/_dash-update-component", payload)
        except HTTPError as exc:
            self.gen.record(name, started, None, exc.kind, str(exc))
            return False
        finally:
            self.pending.discard(name)
        done = time.monotonic()
        ok = 200 <= status < 300
        self.gen.record(name, started, done, None if ok else f"http_{status}", None if ok else answer[:200].decode("utf-8", "replace"),
                        page=self.kind)
        if ok and template.get("poll"):
            version = version_in(decoded(headers, answer))
            if version is not None:
                self.see_version(version)
        return ok

    # -- behaviour
    def see_version(self, version: int) -> None:
        if version <= self.known:
            return
        self.known = version
        self.learned.append((time.monotonic(), version))
        if self.loaded:
            self.start_wave()

    def start_wave(self) -> None:
        if not self.wave_running and self.rendered < self.known:
            self.wave_running = True
            self.gen.spawn(self.version_wave())

    async def version_wave(self) -> None:
        try:
            while self.rendered < self.known and not self.gen.stopping:
                version = self.known
                ok = True
                for cluster in self.page["version"]:
                    ok = all(await asyncio.gather(*(self.callback(t) for t in cluster)))
                    if not ok:
                        break
                if not ok:
                    break  # the screen keeps the old values until the next version move
                self.rendered = version
                self.timeline.append((time.monotonic(), version))
        finally:
            self.wave_running = False

    async def load(self) -> None:
        started = time.monotonic()
        page = self.page
        await self.get(page["path"], "GET page")
        await asyncio.gather(self.get("/_dash-layout", "GET /_dash-layout"),
                             self.get("/_dash-dependencies", "GET /_dash-dependencies"))
        ok = True
        for cluster in page["initial"]:
            self.rendered = self.known
            results = await asyncio.gather(*(self.callback(t) for t in cluster))
            ok = ok and all(results)
        if ok:
            self.timeline.append((time.monotonic(), self.rendered))
        else:
            self.rendered = 0
        for path in page.get("gets", ()):
            await self.get(path, "GET " + path.split("?")[0])
        self.initial_s = time.monotonic() - started
        self.gen.initial_loads.append(self.initial_s)
        self.loaded = True
        self.start_wave()

    async def ticker(self, interval_id: str, spec: dict) -> None:
        period = spec["period_s"]
        n = 0
        next_at = time.monotonic() + period
        while not self.gen.stopping:
            delay = next_at - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            if self.gen.stopping:
                return
            n += 1
            for template in spec["callbacks"]:
                if self.sse_live and template.get("poll"):
                    continue  # the version comes from /events
                if template["name"] in self.pending:
                    self.gen.stats["skipped_ticks"] += 1
                    continue
                self.gen.spawn(self.callback(template, n))
            for path in spec.get("gets", ()):
                self.gen.spawn(self.get(path, "GET " + path.split("?")[0]))
            next_at += period
            now = time.monotonic()
            if next_at < now:  # the loop fell behind: skip the missed ticks, as a browser tab would
                next_at = now + period

    async def events(self) -> None:
        """Server-sent data versions (`/events`), as assets/push.js follows them: each event's data is
        the version; while the stream is live the version polls are off; when it fails or is refused
        the polls come back and a new stream is tried later (5 s, doubling up to 60 s)."""
        retry_s = 5.0
        while not self.gen.stopping:
            conn, refused = None, True
            started = time.monotonic()
            try:
                conn = await asyncio.wait_for(open_connection(self.gen.host, self.gen.port), TIMEOUT_S)
                conn.writer.write(self._request_bytes("GET", self.gen.sse_path, None, "text/event-stream"))
                head = await asyncio.wait_for(conn.reader.readuntil(b"\r\n\r\n"), TIMEOUT_S)
                status, headers, _ = parse_head(head)
                if status != 200:
                    raise HTTPError(f"http_{status}", "events")
                self.gen.record("GET /events", started, time.monotonic(), None)
                chunked = "chunked" in headers.get("transfer-encoding", "").lower()
                buffer = b""
                while not self.gen.stopping:
                    if chunked:
                        size = int((await conn.reader.readuntil(b"\r\n")).split(b";")[0].strip() or b"0", 16)
                        if size == 0:
                            break
                        buffer += await conn.reader.readexactly(size)
                        await conn.reader.readexactly(2)
                    else:
                        data = await conn.reader.read(65536)
                        if not data:
                            break
                        buffer += data
                    while b"\n" in buffer:
                        line, buffer = buffer.split(b"\n", 1)
                        if not line.startswith(b"data:"):
                            continue
                        try:
                            version = int(line[5:].strip())
                        except ValueError:
                            continue
                        refused, retry_s = False, 5.0
                        self.sse_live = True
                        self.sse_events += 1
                        self.see_version(version)
            except (HTTPError, OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, asyncio.TimeoutError,
                    ValueError) as exc:
                if refused:
                    kind = exc.kind if isinstance(exc, HTTPError) else (
                        "timeout" if isinstance(exc, asyncio.TimeoutError) else "reset")
                    self.gen.record("GET /events", started, None, kind, str(exc))
            finally:
                if conn is not None:
                    conn.close()
            self.sse_live = False
            if not self.gen.stopping:
                self.gen.stats["sse_reconnects"] += 1
                await asyncio.sleep(retry_s if refused else 3.0)  # the stream's `retry: 3000`
                if refused:
                    retry_s = min(retry_s * 2, 60.0)

    async def run(self) -> None:
        delay = self.spec["start_at"] - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        self.gen.stats["started"] += 1
        await self.load()
        if self.gen.sse_path:  # push.js connects once the shell is on the page
            self.gen.streams.add(asyncio.get_running_loop().create_task(self.events()))  # the loop holds tasks weakly
        tickers = [asyncio.get_running_loop().create_task(self.ticker(i, spec)) for i, spec in self.page["ticks"].items()]
        await asyncio.gather(*tickers, return_exceptions=True)

    def close(self) -> None:
        for conn in self.idle:
            conn.close()
        self.idle.clear()


# ---------------------------------------------------------------------------- a worker process


class Generator:
    def __init__(self, config: dict, progress, stop_event):
        self.config = config
        self.host, self.port = config["host"], config["port"]
        self.host_header = f"{self.host}:{self.port}"
        self.sse_path = config.get("sse_path")
        self.steady = (config["steady_start"], config["steady_end"])
        self.progress, self.stop_event = progress, stop_event
        self.stopping = False
        self.samples: dict[str, list[float]] = {}
        self.page_samples: dict[str, list[float]] = {}  # "page-kind callback" -> ms
        self.errors: dict[str, dict[str, int]] = {}
        self.error_examples: list[str] = []
        self.stats = {"requests": 0, "errors": 0, "skipped_ticks": 0, "reconnects": 0, "sse_reconnects": 0, "started": 0}
        self.window_counts = [0, 0]  # requests, errors since the last progress report
        self.initial_loads: list[float] = []
        self.loop_lag: list[float] = []
        self.inflight: set[asyncio.Task] = set()
        self.streams: set[asyncio.Task] = set()

    def spawn(self, coro) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self.inflight.add(task)
        task.add_done_callback(self.inflight.discard)

    def record(self, name: str, started: float, done: float | None, error: str | None, detail: str | None = None,
               page: str | None = None) -> None:
        self.window_counts[0] += 1
        if error:
            self.window_counts[1] += 1
        if not self.steady[0] <= started <= self.steady[1]:
            return
        self.stats["requests"] += 1
        if error:
            self.stats["errors"] += 1
            if len(self.error_examples) < 20:
                self.error_examples.append(f"{name}: {error} after {time.monotonic() - started:.2f} s: {detail or ''}"[:300])
            by_kind = self.errors.setdefault(name, {})
            by_kind[error] = by_kind.get(error, 0) + 1
        else:
            self.samples.setdefault(name, []).append((done - started) * 1000)
            if page:
                self.page_samples.setdefault(f"{page} {name}", []).append((done - started) * 1000)

    async def watch(self) -> None:
        """Progress to the parent every 2 s; the parent's stop event ends the run early."""
        while not self.stopping:
            await asyncio.sleep(2.0)
            self.progress.put(("progress", self.config["worker"], time.monotonic(), *self.window_counts, self.stats["started"]))
            self.window_counts = [0, 0]
            if self.stop_event.is_set() or time.monotonic() >= self.config["end_at"]:
                self.stopping = True

    async def measure_lag(self) -> None:
        while not self.stopping:
            before = time.monotonic()
            await asyncio.sleep(0.1)
            now = time.monotonic()
            if self.steady[0] <= now <= self.steady[1]:
                self.loop_lag.append((now - before - 0.1) * 1000)

    async def cpu_window(self) -> dict:
        def cpu() -> float:
            t = os.times()
            return t.user + t.system

        await asyncio.sleep(max(0.0, self.steady[0] - time.monotonic()))
        start_cpu, start_wall = cpu(), time.monotonic()
        while time.monotonic() < self.steady[1] and not self.stopping:
            await asyncio.sleep(0.2)
        return {"cpu_s": cpu() - start_cpu, "wall_s": time.monotonic() - start_wall}

    async def main(self) -> dict:
        pages = self.config["pages"]
        sessions = [Session(self, spec, pages[spec["page"]]) for spec in self.config["sessions"]]
        watcher = asyncio.get_running_loop().create_task(self.watch())
        lag = asyncio.get_running_loop().create_task(self.measure_lag())
        cpu_task = asyncio.get_running_loop().create_task(self.cpu_window())
        runs = [asyncio.get_running_loop().create_task(s.run()) for s in sessions]
        await watcher
        cpu = await cpu_task
        # requests in flight finish (or time out) before the sessions close
        await asyncio.wait(runs, timeout=TIMEOUT_S + 2)
        if self.inflight:
            await asyncio.wait(list(self.inflight), timeout=TIMEOUT_S + 2)
        for task in [*runs, *self.inflight, *self.streams]:
            task.cancel()
        await asyncio.gather(*runs, *self.inflight, *self.streams, return_exceptions=True)
        lag.cancel()
        for s in sessions:
            s.close()
        return {
            "worker": self.config["worker"],
            "samples": self.samples,
            "page_samples": self.page_samples,
            "errors": self.errors,
            "error_examples": self.error_examples,
            "stats": self.stats,
            "cpu": cpu,
            "loop_lag_ms": self.loop_lag,
            "initial_load_s": self.initial_loads,
            "sessions": [{"id": s.spec["id"], "kind": s.kind, "timeline": s.timeline, "learned": s.learned, "sse_events": s.sse_events,
                          "loaded": s.loaded} for s in sessions],
        }


def worker_main(config: dict, progress, stop_event) -> None:
    """Entry point of one generator process: runs its sessions, puts ("result", payload) on `progress`."""
    try:
        payload = asyncio.run(Generator(config, progress, stop_event).main())
        progress.put(("result", config["worker"], payload))
    except BaseException as exc:  # the parent must hear about it rather than wait
        progress.put(("failed", config["worker"], f"{type(exc).__name__}: {exc}"))
        raise
