"""The writer's link: how processes that do not own the DuckDB file read and write through it.

DuckDB lets one process open the file (a second one gets a lock error, even read-only), so in
production (`serve --workers N`, `writer` + `web`) one writer process owns it and serves everyone
else over a local socket (multiprocessing.connection: a Unix socket in the data folder, or TCP for
web tiers on other machines; HMAC-authenticated with the key in `<data_dir>/writer.key`):

- reads: `gateway.query` sends the SQL file's *name* and the bound parameters; the writer runs it
  on a cursor of its own and answers with the Arrow table (no SQL text travels);
- feed batches: `RemoteStore.apply` sends the validated Arrow batch and quarantined rows;
- commands: domain functions marked `@in_writer` (dispatch commands, alert state, logins' audit,
  indicator computation that needs the writer's in-memory case index, ...) run in the writer when
  called with a RemoteStore, with the same `command_id` idempotency as in one process;
- versions: each client holds one long-poll (`wait`) that returns as soon as the data version moves,
  and doubles as its heartbeat (the writer lists its clients in /healthz with their lag).

A CLI command finds a running writer by its socket and works through it (admin while it runs); with
no writer it opens the file itself. `RemoteStore` quacks like `datasources.store.Store` for every
method the web tier and the CLI use; `cursor()` and `write_transaction()` are refused (a function
needing them belongs to the writer: mark it `@in_writer`).
"""
from __future__ import annotations

import functools
import hashlib
import logging
import os
import queue
import secrets
import socket
import threading
import time
from multiprocessing.connection import Client
from pathlib import Path

from datasources.errors import StorageUnavailable, WriterUnavailable  # noqa: F401 - both raised to callers from here
from datasources.store import VersionFollower
from datasources.timedomain import DEFAULT, TimeDomain

log = logging.getLogger(__name__)

COMMANDS: dict[str, object] = {}  # "module:qualname" -> the undecorated function, filled at import
_IDEMPOTENT = frozenset({"state", "versions", "query", "health", "fact_changes"})


class RemoteError(RuntimeError):
    """The writer failed a request with an error that could not be sent back as itself."""


class _Marker:
    """Stands for the writer's own city pack / settings in a shipped call (not pickled over)."""

    def __init__(self, name: str):
        self.name = name

    def __reduce__(self):
        return (_marker, (self.name,))


def _marker(name: str) -> _Marker:
    return MARKERS[name]


MARKERS = {"pack": _Marker("pack"), "settings": _Marker("settings")}


def register(fn, key: str) -> str:
    """Let clients call `fn(store, ...)` in the writer under `key` (views/cache.py `view`)."""
    COMMANDS[key] = fn
    return key


def in_writer(fn):
    """Run `fn(store, ...)` where the data lives: locally with a Store, in the writer with a RemoteStore.

    Arguments and the result travel pickled; a CityPack or Settings argument is replaced by the
    writer's own (checked to be the same city when the client connects). Exceptions come back as
    themselves (DispatchError keeps its status), so callers do not know the difference.
    """
    key = f"{fn.__module__}:{fn.__qualname__}"
    COMMANDS[key] = fn

    @functools.wraps(fn)
    def wrapper(store, *args, **kwargs):
        if getattr(store, "remote", False):
            return store.call(key, args, kwargs)
        return fn(store, *args, **kwargs)

    wrapper.local = fn
    return wrapper


# ---------------------------------------------------------------------------- addresses and keys


def socket_path(data_dir: Path) -> Path:
    """The writer's Unix socket: in the data folder, or under /tmp when that path is too long."""
    path = Path(data_dir).resolve() / "writer.sock"
    if len(str(path)) < 100:
        return path
    digest = hashlib.sha1(str(path).encode()).hexdigest()[:16]
    return Path("/tmp") / f"citybrain-{digest}.sock"


def authkey(data_dir: Path, create: bool = False) -> bytes | None:
    """The shared key of the writer and its clients (`<data_dir>/writer.key`, 0600)."""
    path = Path(data_dir) / "writer.key"
    if not path.exists():
        if not create:
            return None
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(secrets.token_bytes(32))
    return path.read_bytes()


def parse_address(text: str) -> tuple[str, int] | str:
    """`unix:/path`, a path, or `tcp://host:port` / `host:port`."""
    if text.startswith("unix:"):
        return text[5:]
    if text.startswith("tcp://"):
        text = text[6:]
    if ":" in text and not text.startswith("/"):
        host, port = text.rsplit(":", 1)
        return host, int(port)
    return text


def local_writer(data_dir: Path) -> "RemoteStore | None":
    """A RemoteStore on the writer running on this data folder, or None when no writer answers."""
    key = authkey(data_dir)
    path = socket_path(data_dir)
    if key is None or not path.exists():
        return None
    try:
        return RemoteStore(str(path), key, subscribe=False, connect_timeout=1.0)  # a socket left by a killed writer: quick
    except WriterUnavailable:
        return None


# ---------------------------------------------------------------------------- the client


class RemoteStore(VersionFollower):
    """The store as seen from a process that does not own the file (a web worker, the CLI)."""

    remote = True

    def __init__(self, address, key: bytes, *, subscribe: bool = True, role: str = "client",
                 pack_id: str | None = None, connect_timeout: float = 5.0):
        self.address = address
        self._key = key
        self._pool: queue.LifoQueue = queue.LifoQueue()
        self._closed = threading.Event()
        self.role = role
        self.connected = True
        self._version_changed = threading.Condition()
        self._listeners: list = []
        state = self._request("state", (), timeout=connect_timeout)
        if pack_id is not None and state["pack_id"] != pack_id:
            raise RemoteError(f"the writer serves city {state['pack_id']!r}, not {pack_id!r}")
        self.pack_id = state["pack_id"]
        self.path = Path(state["path"])
        self._version = state["version"]
        self.reference_version = state["reference_version"]
        self._facts_epoch = state["facts_epoch"]
        self.admin_version = state["admin_version"]
        self.case_index_days = state["case_index_days"]
        self.time_domain = TimeDomain(*state.get("time_domain", (DEFAULT.min_year, DEFAULT.max_year)))
        self._columns = state["columns"]
        self.writer_pid = state["pid"]
        self.last_contact = time.monotonic()
        if subscribe:
            threading.Thread(target=self._follow_versions, name="writer-versions", daemon=True).start()

    # -- transport
    def _connect(self, timeout: float = 5.0):
        deadline = time.monotonic() + timeout
        family = "AF_UNIX" if isinstance(self.address, str) else "AF_INET"
        while True:
            try:
                return Client(self.address, family=family, authkey=self._key)
            except (OSError, EOFError) as exc:
                if time.monotonic() >= deadline:
                    raise WriterUnavailable(f"the writer at {self.address} is not reachable: {exc}") from None
                time.sleep(0.1)

    def _request(self, op: str, payload: tuple, timeout: float = 5.0):
        """One request on a pooled connection. A connection found dead before the request left is
        replaced (nothing ran); a read is retried once on any transport error; a write that may
        have run is not (WriterUnavailable: the caller answers 503 and the client retries with its
        command_id)."""
        for attempt in (0, 1):
            try:
                conn = self._pool.get_nowait()
            except queue.Empty:
                conn = self._connect(timeout)
            try:
                conn.send((op, payload))
            except (OSError, EOFError):
                conn.close()
                self._drain()
                if attempt:
                    raise WriterUnavailable(f"the writer went away before {op}") from None
                continue
            try:
                status, value = conn.recv()
            except (OSError, EOFError) as exc:
                conn.close()
                self._drain()
                self.connected = False
                if op in _IDEMPOTENT and not attempt:
                    continue
                raise WriterUnavailable(f"the writer went away during {op}: {exc}") from None
            except Exception:  # an answer that cannot be unpickled here: the connection itself is fine
                self._pool.put(conn)
                raise
            self._pool.put(conn)
            break
        self.connected = True
        self.last_contact = time.monotonic()
        if status == "ok":
            return value
        if isinstance(value, BaseException):
            raise value
        raise RemoteError(str(value))

    def _drain(self) -> None:
        """Close every pooled connection (after one died, the others are likely dead too)."""
        while True:
            try:
                self._pool.get_nowait().close()
            except queue.Empty:
                return

    def _follow_versions(self) -> None:
        """One long-poll at a time: returns at once when the version moves, else after 10 s."""
        conn = None
        hello = {"pid": os.getpid(), "role": self.role, "host": socket.gethostname()}
        while not self._closed.is_set():
            try:
                if conn is None:
                    conn = self._connect(timeout=2.0)
                conn.send(("wait", (self._version, self.admin_version, 10.0, hello)))
                status, value = conn.recv()
                if status != "ok":
                    raise RemoteError(str(value))
                self.connected = True
                self.last_contact = time.monotonic()
                self._moved(value)
            except Exception as exc:  # writer restarting: say so (healthz) and try again shortly
                if conn is not None:
                    conn.close()
                    conn = None
                if self.connected:
                    log.warning("lost the writer (%s); retrying", exc)
                self.connected = False
                self._closed.wait(0.5)

    def _moved(self, state: dict) -> None:
        version = state["version"]
        self.reference_version = state["reference_version"]
        self._facts_epoch = state["facts_epoch"]
        self.admin_version = max(self.admin_version, state["admin_version"])
        if version != self._version:
            self._move_to(version)

    def close(self) -> None:
        self._closed.set()
        self._drain()

    # -- the Store interface (data_version, wait_for_version: VersionFollower)
    @property
    def facts_epoch(self) -> int:
        return self._facts_epoch

    def table_columns(self, table: str) -> list[str]:
        return [name for name, _ in self._columns[table] if name != "version"]

    def read_named(self, name: str, bound: dict):
        return self._request("query", (name, bound))

    def execute_write(self, sql: str, params=None) -> list[tuple]:
        try:
            return self._request("write", (sql, params))
        finally:
            self.admin_version = max(self.admin_version, self._request("versions", ())["admin_version"])  # ours, at once

    def call(self, key: str, args: tuple, kwargs: dict):
        try:
            return self._call(key, args, kwargs)
        finally:
            try:
                self.admin_version = max(self.admin_version, self._request("versions", ())["admin_version"])
            except WriterUnavailable:
                pass

    def call_view(self, key: str, args: tuple, kwargs: dict):
        """A read-only call (a view): no write of ours to wait for, so no admin-version refresh."""
        return self._call(key, args, kwargs)

    def apply(self, feed, kind, batch, quarantined=(), origin=None):
        return self._request("apply", (feed, kind, batch, list(quarantined), origin), timeout=10.0)

    def mark_reprocessed(self, quarantine_ids) -> None:
        self._request("mark_reprocessed", (list(quarantine_ids),))

    def case_fact_changes(self, after: int, epoch: int):
        return self._request("fact_changes", (after, epoch))

    def _call(self, key: str, args: tuple, kwargs: dict):
        from datasources.citypack import CityPack
        from settings import Settings

        def swap(value):
            if isinstance(value, CityPack):
                return MARKERS["pack"]
            if isinstance(value, Settings):
                return MARKERS["settings"]
            return value

        return self._request("call", (key, tuple(swap(a) for a in args), {k: swap(v) for k, v in kwargs.items()}))

    def health(self) -> dict:
        return self._request("health", (), timeout=2.0)

    def backup(self, target: str) -> dict:
        return self._request("backup", (target,), timeout=600.0)

    def cursor(self):
        raise RuntimeError("no DuckDB cursor outside the writer: run this function in the writer (@in_writer)")

    def write_transaction(self):
        raise RuntimeError("write transactions run in the writer: mark the calling function @in_writer")

    def replace_reference(self, tables):
        raise RuntimeError("reference data is synced by the writer from its own city pack")
