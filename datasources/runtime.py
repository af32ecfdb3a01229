"""Wiring for one process: settings -> city pack -> store (the one writer) -> simulator, Redis.

The Dash app, the HTTP API and the CLI all get their parts from a Runtime; nothing opens the
DuckDB file anywhere else.
"""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field

import pyarrow as pa

from datasources.bus import make_bus
from datasources.citypack import SERVICE_COLUMNS, CityPack, load_pack
from datasources.ingest import ingest_frame
from datasources.simulator import Simulator, run_forever
from datasources.store import Store
from datasources.timedomain import TimeDomain
from settings import Settings

log = logging.getLogger(__name__)
VERSION_CHANNEL = "citybrain:data_version"


@dataclass
class Runtime:
    settings: Settings
    pack: CityPack
    store: Store
    simulator: Simulator | None = None
    bus: object | None = None  # datasources.bus.FeedBus: publish feeds here; the writer thread applies them
    stop: threading.Event = field(default_factory=threading.Event)
    threads: list[threading.Thread] = field(default_factory=list)
    notifier: object | None = None  # dispatch.notify.Notifier: live dispatch events (subscribe())
    webhooks: object | None = None  # dispatch.webhooks.WebhookWorker: sends department webhooks
    principals: object | None = None  # security.principals.PrincipalCache (made on first use)

    def close(self) -> None:
        self.stop.set()
        if self.webhooks is not None:
            self.webhooks.wake()
        for thread in self.threads:
            thread.join(timeout=10)
        if self.notifier is not None:
            self.notifier.close()
        self.store.close()


def reference_tables(pack: CityPack) -> dict[str, pa.Table]:
    units = [
        {
            "level": level.id, "level_index": level.index, "unit_id": row.unit_id, "name_zh": row.name_zh,
            "name_en": row.name_en, "parent_id": row.parent_id, "path": list(row.path),
        }
        for level in pack.levels
        for row in level.units.itertuples()
    ]
    categories = pack.categories.copy()
    return {
        "units": pa.Table.from_pylist(
            units,
            schema=pa.schema([("level", pa.string()), ("level_index", pa.int32()), ("unit_id", pa.string()),
                              ("name_zh", pa.string()), ("name_en", pa.string()), ("parent_id", pa.string()),
                              ("path", pa.list_(pa.string()))]),
        ),
        "departments": pa.Table.from_pandas(pack.departments[["department_id", "name_zh", "name_en"]], preserve_index=False),
        "categories": pa.Table.from_pandas(
            categories[["category_id", "name_zh", "name_en", "kind", "lead_department", "assist_departments",
                        "time_limit_hours", "calendar"]],
            preserve_index=False,
        ),
        "services": pa.Table.from_pandas(
            pack.services[SERVICE_COLUMNS], preserve_index=False,
            schema=pa.schema([("service_code", pa.string()), ("name_zh", pa.string()), ("name_en", pa.string()),
                              ("time_limit_minutes", pa.float64())])),
    }


def sync_pack(store: Store, pack: CityPack) -> None:
    """Units, departments, categories and services mirror the pack; its devices and halls are fed in."""
    store.replace_reference(reference_tables(pack))
    if not pack.devices.empty:
        ingest_frame(store, pack, "devices", pack.devices, origin="citypack")
    if not pack.halls.empty:
        ingest_frame(store, pack, "halls", pack.halls, origin="citypack")


def _redis_publisher(url: str):
    import redis

    client = redis.Redis.from_url(url)

    def publish(version: int) -> None:
        client.set(VERSION_CHANNEL, version)
        client.publish(VERSION_CHANNEL, version)

    return publish


def open_runtime(settings: Settings, *, simulate: bool | None = None, start_threads: bool = True) -> Runtime:
    pack = load_pack(settings.city)
    store = Store(settings.db_path)
    store.case_index_days = settings.case_index_days
    store.time_domain = TimeDomain.from_settings(settings)
    sync_pack(store, pack)
    runtime = Runtime(settings, pack, store)
    if start_threads:  # the writer: dispatch commands a crash interrupted get their cases to follow
        from dispatch.service import repair_case_follow

        repaired = repair_case_follow(store)
        if repaired:
            log.warning("applied %d pending case follow-up(s) of dispatch orders left by a crash", repaired)
    if settings.redis_url:
        store.on_commit(_redis_publisher(settings.redis_url))
    # Feeds arrive on the bus (Redis Streams with REDIS_URL, else in-process); this process is the writer.
    runtime.bus = make_bus(settings)
    if start_threads:
        thread = threading.Thread(target=runtime.bus.consume, args=(store, pack, runtime.stop), name="feed-bus", daemon=True)
        thread.start()
        runtime.threads.append(thread)
    _start_dispatch_events(runtime, start_threads)
    simulate = settings.simulate if simulate is None else simulate
    if simulate:
        simulator = Simulator(store, pack)
        empty = store.cursor().execute("select count(*) = 0 from cases").fetchall()[0][0]
        if empty and settings.history_days > 0:
            log.info("empty store: simulating %d days of history", settings.history_days)
            simulator.backfill(settings.history_days)
        else:
            simulator.resume()
        runtime.simulator = simulator
        if start_threads:
            thread = threading.Thread(
                target=run_forever, args=(simulator, settings.simulate_interval_s, runtime.stop), name="simulator", daemon=True
            )
            thread.start()
            runtime.threads.append(thread)
    if start_threads and settings.alert_interval_s > 0:
        thread = threading.Thread(target=_run_alerts, args=(runtime,), name="alerts", daemon=True)
        thread.start()
        runtime.threads.append(thread)
    return runtime


def open_web_runtime(settings: Settings, writer: str | None = None) -> Runtime:
    """A web process's runtime: the city pack (read-only) and the store through the writer's link
    (datasources/remote.py) at `writer` (default: the socket in the data folder). No threads of
    the writer's run here: no simulator, no alerts, no feed bus."""
    from datasources.remote import RemoteStore, authkey, parse_address, socket_path

    pack = load_pack(settings.city)
    key = authkey(settings.data_dir)
    if key is None:
        raise RuntimeError(f"no writer key in {settings.data_dir} (start the writer first, or copy its writer.key)")
    address = parse_address(writer) if writer else str(socket_path(settings.data_dir))
    store = RemoteStore(address, key, role="web", pack_id=pack.id, connect_timeout=120)
    return Runtime(settings, pack, store)


def _start_dispatch_events(runtime: Runtime, start_threads: bool) -> None:
    """Dispatch events go to pub/sub (Redis with REDIS_URL, else in-process) and wake the webhook
    worker, which sends the department webhooks queued by each command from its own thread."""
    from dispatch.notify import attach, make_notifier
    from dispatch.webhooks import WebhookWorker

    settings = runtime.settings
    runtime.notifier = make_notifier(settings.redis_url)
    attach(runtime.store, runtime.notifier.publish)
    runtime.webhooks = WebhookWorker(runtime.store, max_attempts=settings.webhook_max_attempts,
                                     backoff_s=settings.webhook_backoff_s, backoff_max_s=settings.webhook_backoff_max_s,
                                     timeout_s=settings.webhook_timeout_s)
    attach(runtime.store, runtime.webhooks.wake)
    if start_threads:
        thread = threading.Thread(target=runtime.webhooks.run, args=(runtime.stop,), name="webhooks", daemon=True)
        thread.start()
        runtime.threads.append(thread)


def _run_alerts(runtime: Runtime) -> None:
    """At start and every alert_interval_s: scheduled briefings, dispatch escalation, early warning.

    Failures are logged, never allowed to take the server down.
    """
    from alerts.engine import evaluate
    from briefings.schedule import run_due
    from dispatch.service import escalate_due

    jobs = (("scheduled briefings", lambda: run_due(runtime.store, runtime.pack)),  # first: catch up after downtime
            ("escalation", lambda: escalate_due(runtime.store, runtime.pack)),
            ("alert evaluation", lambda: evaluate(runtime.store, runtime.pack, runtime.settings)))
    while True:
        for name, job in jobs:
            try:
                job()
            except Exception:
                log.exception("%s failed", name)
        if runtime.stop.wait(runtime.settings.alert_interval_s):
            return
