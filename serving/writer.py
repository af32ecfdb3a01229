"""`python app.py writer`: the process that owns the store and serves everyone else."""
from __future__ import annotations

import logging
import signal
import threading

from settings import Settings

log = logging.getLogger(__name__)


def announce_demo(runtime) -> None:
    """Demo mode: print a user per role with a fresh password, seed a few joint orders on a first start."""
    from dispatch.demo import seed_orders
    from security.users import demo_users

    print("Demo users (new passwords at every start; not created outside demo mode):", flush=True)
    for name, role, password in demo_users(runtime.store, runtime.pack):
        print(f"  {name:20} {role:16} {password}", flush=True)
    seeded = seed_orders(runtime.store, runtime.pack)  # a first start: a few joint orders to look at
    if seeded:
        print(f"Demo dispatch orders: {', '.join(seeded)}", flush=True)


def run_writer(settings: Settings, simulate: bool, listen: str | None = None, ready=None) -> None:
    """Open the store (the file lock makes this the only writer), start the feeds, the simulator,
    alerts, escalation, schedules and webhooks, and serve reads and commands until SIGTERM/SIGINT."""
    from datasources.runtime import open_runtime
    from datasources.writer_service import WriterService

    runtime = open_runtime(settings, simulate=simulate)
    service = WriterService(runtime, listen, publish_interval_s=settings.view_interval_s)
    stopped = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stopped.set())
    try:
        if settings.demo:
            announce_demo(runtime)
        service.start()
        print(f"CityBrain writer on {service.address} (city: {runtime.pack.name_en}, data: {settings.db_path}, "
              f"version {runtime.store.data_version})", flush=True)
        if ready is not None:
            ready(service)
        while not stopped.wait(1.0):
            pass
    finally:
        service.close()
        runtime.close()
