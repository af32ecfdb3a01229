"""The writer's side of the link (datasources/remote.py): one thread per client connection.

Every request runs on the connection thread's own DuckDB cursor (reads) or through the Store's
writer lock (writes), exactly as the same call in one process would. Errors go back as the
exception itself when it survives pickling, else as text; a failing request never takes the
service down.
"""
from __future__ import annotations

import datetime as dt
import importlib
import json
import logging
import os
import pickle
import threading
import time
from multiprocessing.connection import Listener
from pathlib import Path

from datasources import gateway
from datasources.remote import COMMANDS, _Marker, authkey, parse_address, socket_path
from datasources.store import wait_on

log = logging.getLogger(__name__)

# Modules whose @in_writer functions clients may call (imported at start so the registry is full).
COMMAND_MODULES = ("alerts.engine", "briefings.schedule", "briefings.store", "dispatch.service", "dispatch.webhooks",
                   "indicators.compute", "security.ratelimit", "security.tokens", "security.users", "views.feeds",
                   "views.overview", "views.queue", "views.units", "views.wall")
CLIENT_STALE_S = 30.0


class WriterService:
    """Serves reads, feed batches, commands and version long-polls to web workers and the CLI."""

    def __init__(self, runtime, address: str | None = None, publish_interval_s: float | None = None):
        """`publish_interval_s`: the data version goes out to clients at most this often (the last
        one always does), so views are computed at most once per interval for every web worker;
        None = every version at once (one process: the clients are CLI commands)."""
        self.runtime = runtime
        self.publish_interval_s = publish_interval_s
        self._published = threading.Condition()
        self._closed = threading.Event()
        self.announced: tuple[int, int] | None = None  # what clients are told (after the views are warm)
        self._hot: dict[tuple, tuple] = {}  # views asked for lately: warmed for each new version
        self._hot_lock = threading.Lock()
        self.store = runtime.store
        data_dir = runtime.settings.data_dir
        self.key = authkey(data_dir, create=True)
        self.address = parse_address(address) if address else str(socket_path(data_dir))
        self.started = time.time()
        self.clients: dict[tuple, dict] = {}
        self._clients_lock = threading.Lock()
        self._listener: Listener | None = None
        for module in COMMAND_MODULES:
            importlib.import_module(module)

    # -- lifecycle
    def start(self) -> None:
        if isinstance(self.address, str):
            path = Path(self.address)
            if path.exists():
                path.unlink()  # a socket left by a killed writer (the store's file lock proved we are alone)
            self._listener = Listener(self.address, family="AF_UNIX", authkey=self.key, backlog=256)
            os.chmod(self.address, 0o600)
        else:
            self._listener = Listener(self.address, family="AF_INET", authkey=self.key, backlog=256)
        if self.publish_interval_s is not None:
            self.store.view_versions = self.announced = (self.store.data_version, self.store.admin_version)
            threading.Thread(target=self._publish, name="writer-publish", daemon=True).start()
        threading.Thread(target=self._accept, name="writer-service", daemon=True).start()
        log.info("writer service on %s", self.address)

    def close(self) -> None:
        self._closed.set()
        if self.publish_interval_s is not None and getattr(self.store, "view_versions", None) is not None:
            del self.store.view_versions  # views follow the store's own versions again
        if self._listener is not None:
            try:
                self._listener.close()
            except OSError:
                pass

    def _publish(self) -> None:
        """Publish (data version, admin version) to clients: an admin change (a command, a user) at
        once, feed versions at most once per interval, the newest always (trailing edge)."""
        store, last = self.store, 0.0
        while not (self.runtime.stop.is_set() or self._closed.is_set()):
            data, admin = store.view_versions
            store.wait_for_change(data, admin, 5.0)
            if (store.data_version, store.admin_version) == (data, admin):
                continue
            if store.admin_version == admin:
                delay = self.publish_interval_s - (time.monotonic() - last)
                if delay > 0 and self._closed.wait(delay):
                    return
            new = (store.data_version, store.admin_version)
            store.view_versions = new  # views computed from here on are the new version's
            self._warm()
            with self._published:
                self.announced = new
                self._published.notify_all()
            last = time.monotonic()

    def _warm(self) -> None:
        """Compute the views clients asked for in the last minute for the new version before it is
        announced, so the consoles' requests that follow find them ready (no herd at each version).
        At most one interval of work; what is left is computed on demand."""
        deadline = time.monotonic() + max(0.2, self.publish_interval_s or 0)
        now = time.monotonic()
        with self._hot_lock:
            for key in [k for k, (_, _, _, seen) in self._hot.items() if now - seen > 60]:
                del self._hot[key]
            calls = sorted(self._hot.values(), key=lambda c: -c[3])
        for fn, args, kwargs, _ in calls:
            if time.monotonic() > deadline or self._closed.is_set():
                return
            try:
                fn(self.store, *args, **kwargs)
            except Exception:  # noqa: BLE001 - a failing view fails its own request, not the publisher
                log.debug("warming a view failed", exc_info=True)

    def _wait_published(self, version: int, admin: int, timeout: float) -> None:
        if self.publish_interval_s is None:
            self.store.wait_for_change(version, admin, timeout)
            return
        wait_on(self._published, lambda: self.announced[0] > version or self.announced[1] != admin, timeout)

    def _accept(self) -> None:
        while True:
            try:
                conn = self._listener.accept()
            except OSError:
                if self.runtime.stop.is_set():
                    return
                continue
            except Exception as exc:  # a client with the wrong key, or one that hung up mid-handshake
                log.warning("refused a writer client: %s", exc)
                continue
            threading.Thread(target=self._serve, args=(conn,), name="writer-client", daemon=True).start()

    def _serve(self, conn) -> None:
        try:
            while True:
                try:
                    op, payload = conn.recv()
                except (EOFError, OSError):
                    return
                try:
                    answer = ("ok", self.handle(op, payload))
                except BaseException as exc:  # noqa: BLE001 - every failure goes back to the caller
                    answer = ("error", _portable(exc))
                try:
                    conn.send(answer)
                except (pickle.PicklingError, TypeError, AttributeError) as exc:
                    conn.send(("error", RuntimeError(f"answer to {op} could not be sent: {exc}")))
        except (EOFError, OSError):
            return
        finally:
            conn.close()

    # -- requests
    def handle(self, op: str, payload: tuple):
        store = self.store
        if op == "query":
            name, bound = payload
            sql, _ = gateway.load_sql(name)
            return store.cursor().sql(sql, params=bound).to_arrow_table()
        if op == "wait":
            after, admin_after, timeout, hello = payload
            self._seen(hello, after)
            self._wait_published(after, admin_after, min(float(timeout), 30.0))
            return self.state(short=True)
        if op == "call":
            key, args, kwargs = payload
            hot_key = (key, args, tuple(sorted(kwargs.items())))  # markers still in place: hashable
            fn = COMMANDS.get(key)
            if fn is None:
                raise PermissionError(f"{key} is not a writer command")
            args = tuple(self._resolve(a) for a in args)
            kwargs = {k: self._resolve(v) for k, v in kwargs.items()}
            if getattr(fn, "is_view", False) and self.publish_interval_s is not None:
                try:
                    with self._hot_lock:
                        self._hot[hot_key] = (fn, args, kwargs, time.monotonic())
                except TypeError:  # unhashable arguments: not warmed
                    pass
            return fn(store, *args, **kwargs)
        if op == "apply":
            feed, kind, batch, quarantined, origin = payload
            return store.apply(feed, kind, batch, quarantined, origin=origin)
        if op == "write":
            sql, params = payload
            return store.execute_write(sql, params)
        if op == "mark_reprocessed":
            return store.mark_reprocessed(payload[0])
        if op == "fact_changes":
            return store.case_fact_changes(*payload)
        if op == "versions":  # after the caller's own write: published at once, wait for it
            if self.publish_interval_s is not None:
                wait_on(self._published, lambda: self.announced[1] >= self.store.admin_version, 2.0)
            return self.state(short=True)
        if op == "state":
            return self.state(short=False)
        if op == "health":
            return self.health()
        if op == "backup":
            return backup(self.store, self.runtime.pack.id, Path(payload[0]))
        raise ValueError(f"unknown writer request {op!r}")

    def _resolve(self, value):
        if isinstance(value, _Marker):
            return self.runtime.pack if value.name == "pack" else self.runtime.settings
        return value

    def _seen(self, hello: dict, version: int) -> None:
        with self._clients_lock:
            self.clients[(hello.get("host"), hello.get("pid"))] = {**hello, "version": version, "seen": time.time()}

    def state(self, short: bool) -> dict:
        store = self.store
        version, admin = self.announced or (store.data_version, store.admin_version)
        out = {"version": version, "reference_version": store.reference_version,
               "facts_epoch": store.facts_epoch, "admin_version": admin}
        if not short:
            out.update(pack_id=self.runtime.pack.id, path=str(store.path), case_index_days=store.case_index_days,
                       time_domain=(store.time_domain.min_year, store.time_domain.max_year),
                       columns=store._columns, pid=os.getpid())
        return out

    def health(self) -> dict:
        now = time.time()
        version = self.store.data_version
        with self._clients_lock:
            for key in [k for k, c in self.clients.items() if now - c["seen"] > CLIENT_STALE_S]:
                del self.clients[key]
            clients = [{"pid": c["pid"], "host": c["host"], "role": c["role"], "version": c["version"],
                        "versions_behind": max(0, version - c["version"]), "last_seen_s": round(now - c["seen"], 1)}
                       for c in self.clients.values()]
        backlog = getattr(self.runtime.bus, "backlog", None)
        writer = {"pid": os.getpid(), "uptime_s": round(now - self.started, 1), "data_version": version,
                  "last_commit_age_s": _last_commit_age(self.store), "threads": threading.active_count(),
                  "storage": self.store.storage_state()}
        if backlog is not None:
            try:
                writer["bus_backlog_entries"] = backlog()
            except Exception as exc:
                writer["bus_error"] = str(exc)
        return {"writer": writer, "clients": sorted(clients, key=lambda c: (c["role"], c["pid"]))}


def _last_commit_age(store) -> float | None:
    at = getattr(store, "last_commit_at", None)
    return None if at is None else round(time.time() - at, 1)


def _portable(exc: BaseException) -> BaseException:
    """The exception itself if it crosses a pickle round trip, else a RuntimeError with its text."""
    try:
        pickle.loads(pickle.dumps(exc))
        return exc
    except Exception:
        return RuntimeError(f"{type(exc).__name__}: {exc}")


# ---------------------------------------------------------------------------- backup


BACKUP_FILE = "citybrain.duckdb"


def backup(store, city_id: str, target: Path) -> dict:
    """A consistent copy of the store in `target` while it runs: under the writer lock (no batch
    or command lands meanwhile; reads go on), checkpoint (the WAL folds into the file), copy."""
    target = Path(target)
    target.mkdir(parents=True, exist_ok=True)
    if any(target.iterdir()):
        raise ValueError(f"backup folder {target} is not empty")
    started = time.monotonic()
    version = store.backup_to(target / BACKUP_FILE)
    manifest = {"at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), "data_version": version,
                "city": city_id, "bytes": (target / BACKUP_FILE).stat().st_size,
                "seconds": round(time.monotonic() - started, 3)}
    (target / "manifest.json").write_text(json.dumps(manifest, indent=2))
    return manifest
