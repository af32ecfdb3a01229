"""Plain HTTP routes beside the Dash console: health, static geometry, the vendored deck.gl bundle."""
from __future__ import annotations

import gzip
import hashlib
import json
import logging
import os
import secrets
import time
from pathlib import Path

import pydeck
from flask import Flask, Response, abort, jsonify, request
from werkzeug.exceptions import HTTPException

from api import open311, v1
from datasources.health import feed_health_for
from datasources.remote import WriterUnavailable

log = logging.getLogger(__name__)
DECK_BUNDLE = Path(pydeck.__file__).parent / "nbextension" / "static" / "index.js"


def _compressed(body: bytes, content_type: str, etag: str, max_age: int) -> Response:
    if request.if_none_match and etag in request.if_none_match:
        return Response(status=304, headers={"ETag": f'"{etag}"'})
    headers = {"Cache-Control": f"public, max-age={max_age}", "ETag": f'"{etag}"', "Vary": "Accept-Encoding"}
    if "gzip" in request.headers.get("Accept-Encoding", ""):
        body = gzip.compress(body, 6)
        headers["Content-Encoding"] = "gzip"
    return Response(body, content_type=content_type, headers=headers)


def unexpected_error(exc: Exception):
    """What no route handled: HTTP errors as they are; a file Dash does not serve is 404 and a
    callback it does not know 400 (both a client's doing); anything else is logged with a reference
    and answered 500 with that reference only (no paths, no internals)."""
    if isinstance(exc, HTTPException):
        return exc
    if request.path.startswith("/_dash-component-suites/"):
        return jsonify({"error": "no such file"}), 404
    if request.path == "/_dash-update-component" and isinstance(exc, KeyError):
        return jsonify({"error": "no such callback (the page is older than the server: reload it)"}), 400
    reference = secrets.token_hex(4)
    log.exception("unexpected error %s on %s %s", reference, request.method, request.path)
    return jsonify({"error": f"internal error, logged as {reference}"}), 500


def register_routes(server: Flask, runtime) -> None:
    server.register_blueprint(v1.blueprint(runtime))  # /api/v1: push API, OpenAPI
    server.register_error_handler(WriterUnavailable, v1.writer_unavailable)  # console callbacks, Open311
    server.register_error_handler(Exception, unexpected_error)
    server.register_blueprint(open311.blueprint(runtime))  # /open311/v2: GeoReport v2

    @server.get("/briefings/<int:briefing_id>.<kind>")
    def briefing_file(briefing_id: int, kind: str):
        """A frozen briefing's PDF or HTML, for callers whose scope covers the briefing's scope."""
        from api.auth import principal
        from briefings import load_briefing
        from briefings.access import may_brief
        from security.users import scope_for

        who = principal()
        row = load_briefing(runtime.store, briefing_id) if kind in ("pdf", "html") else None
        if who is None or row is None or not may_brief(runtime.pack, who.role, scope_for(runtime.pack, who.role, who.scopes),
                                                       row["scope"]):
            abort(404)
        if kind == "pdf":
            return Response(row["pdf"], content_type="application/pdf",
                            headers={"Content-Disposition": f'inline; filename="briefing-{briefing_id}.pdf"'})
        return Response(row["html"], content_type="text/html; charset=utf-8")

    # Unknown API paths answer JSON 404, not the console's HTML page (Dash's catch-all route).
    @server.route("/api/<path:rest>", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
    @server.route("/open311/<path:rest>", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
    def unknown_api_path(rest: str):
        return jsonify({"error": f"no such endpoint: {request.method} {request.path}"}), 404
    geometry_cache: dict[tuple[str, str], tuple[bytes, str]] = {}
    bundle: dict[str, tuple[bytes, str]] = {}

    @server.get("/healthz")
    def healthz():
        settings = runtime.settings
        store = runtime.store
        me = {"pid": os.getpid(), "data_version": store.data_version}
        try:
            feeds = feed_health_for(store, settings)
        except WriterUnavailable as exc:
            return jsonify({"status": "down", "data_version": store.data_version, "city": runtime.pack.id,
                            "error": f"the store's writer is unavailable: {exc}", "process": me}), 503
        states = {f["state"] for f in feeds.values()}
        status = "ok" if states <= {"ok"} else "degraded"
        body = {"status": status, "data_version": store.data_version, "city": runtime.pack.id, "feeds": feeds,
                "process": me}
        if getattr(store, "remote", False):  # a web worker: the writer and every process it serves, with lag
            me.update(role="web", writer_connected=store.connected,
                      last_writer_contact_s=round(time.monotonic() - store.last_contact, 1))
            try:
                body["processes"] = store.health()
            except WriterUnavailable as exc:
                body["processes"] = {"writer": None, "error": str(exc)}
                body["status"] = "degraded"
        else:
            me.update(role="single process (writer and web)")
            body["storage"] = store.storage_state()
        storage = body.get("storage") or ((body.get("processes") or {}).get("writer") or {}).get("storage")
        if storage is not None and not storage["ok"]:  # e.g. disk full: reads work, writes answer 503
            body["storage"] = storage
            body["status"] = "degraded"
        backlog = getattr(runtime.bus, "backlog", None)
        if backlog is not None:
            try:  # stream entries not yet applied by the writer: its lag behind the feeds
                body["bus"] = {"kind": type(runtime.bus).__name__, "backlog_entries": backlog()}
            except Exception as exc:  # Redis down: say so, never fail the health check itself
                body["bus"] = {"kind": type(runtime.bus).__name__, "error": str(exc)}
                body["status"] = "degraded"
        return jsonify(body)

    @server.get("/vendor/deckgl.js")
    def deck_bundle():
        # deck.gl as shipped inside pydeck's wheel: no CDN, same origin.
        if "js" not in bundle:
            body = DECK_BUNDLE.read_bytes()
            bundle["js"] = (body, hashlib.sha1(body).hexdigest()[:16])
        body, etag = bundle["js"]
        return _compressed(body, "application/javascript", etag, 86400)

    @server.get("/geo/<level_id>.geojson")
    def geometry(level_id: str):
        """Display geometry of one level (optionally only one parent's children), cached by the browser."""
        parent = request.args.get("parent", "")
        key = (level_id, parent)
        if key not in geometry_cache:
            try:
                level = runtime.pack.level(level_id)
            except KeyError:
                abort(404, description=f"unknown level {level_id}")
            data = level.display
            if parent:
                data = {"type": "FeatureCollection",
                        "features": [f for f in data["features"] if f["properties"]["parent_id"] == parent]}
            body = json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()
            geometry_cache[key] = (body, hashlib.sha1(body).hexdigest()[:16])
        body, etag = geometry_cache[key]
        return _compressed(body, "application/geo+json", etag, 3600)
