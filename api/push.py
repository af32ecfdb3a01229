"""Server push of the data version: `GET /events` (server-sent events).

Each open console holds one stream; a new version is sent the moment the store (or, in a web
worker, the writer's link) reports it; a comment line every 15 s keeps proxies from closing it.
A stream occupies a server thread while open, so each process accepts at most `push_limit`
streams and answers 503 beyond that: the browser then falls back to polling (assets/push.js).
The gate in front of it (api/auth.py) admits only signed-in users (or the demo's guest wall).
"""
from __future__ import annotations

import threading

from flask import Flask, Response, jsonify

KEEPALIVE_S = 15.0
DEFAULT_LIMIT = 1000


def install(server: Flask, runtime) -> None:
    lock = threading.Lock()
    open_streams = [0]

    @server.get("/events")
    def events():
        limit = getattr(runtime, "push_limit", DEFAULT_LIMIT)
        with lock:
            if open_streams[0] >= limit:
                response = jsonify({"error": "too many open streams here: poll /_dash-update-component instead"})
                response.status_code = 503
                response.headers["Retry-After"] = "30"
                return response
            open_streams[0] += 1
        store = runtime.store

        def stream():
            try:
                yield "retry: 3000\n\n"
                sent = None
                while True:
                    version = store.data_version
                    if version != sent:
                        sent = version
                        yield f"data: {version}\n\n"
                    else:
                        yield ": keep-alive\n\n"
                    store.wait_for_version(sent, KEEPALIVE_S)
            finally:
                with lock:
                    open_streams[0] -= 1

        return Response(stream(), mimetype="text/event-stream",
                        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

    server.extensions["citybrain_push_streams"] = open_streams
