"""`python app.py web --workers N`: the console and the API in N gunicorn worker processes.

Why gunicorn with gthread workers: a real WSGI server with HTTP/1.1 keep-alive, a pre-forked worker
per core (Python's GIL makes processes the unit of parallelism), threads inside each worker for
requests that wait (the writer's answers, server-sent events), and an arbiter that replaces a
worker that dies or hangs. Workers are not preloaded: each builds its own app after the fork, with
its own link to the writer (no DuckDB handle, no threads inherited across fork).
"""
from __future__ import annotations

import logging
import os

from settings import Settings

log = logging.getLogger(__name__)
DEFAULT_THREADS = 256  # most wait: on the writer, or holding a server-sent-events stream (api/push.py)


def default_workers() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)


def run_web(settings: Settings, workers: int, writer: str | None = None, threads: int = DEFAULT_THREADS) -> None:
    from gunicorn.app.base import BaseApplication

    class Web(BaseApplication):
        def load_config(self):
            config = {
                "bind": f"{settings.host}:{settings.port}",
                "workers": workers,
                "worker_class": "gthread",
                "threads": threads,
                "keepalive": 30,           # consoles poll every few seconds: keep their connections
                "timeout": 120,            # a briefing PDF may take a while; a hung worker is replaced after this
                "graceful_timeout": 10,
                "backlog": 2048,
                "control_socket_disable": True,
                "accesslog": None,
                "errorlog": "-",
                "loglevel": settings.log_level.lower(),
                "proc_name": "citybrain-web",
            }
            for key, value in config.items():
                self.cfg.set(key, value)

        def load(self):
            from app import create_app
            from datasources.runtime import open_web_runtime

            runtime = open_web_runtime(settings, writer)
            runtime.push_limit = max(8, threads - 32)  # streams beyond this poll instead: threads stay for requests
            return create_app(runtime).server

    Web().run()
