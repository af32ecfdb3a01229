"""The HTTP push API under /api/v1: feed producers post canonical records (CONTRACT §4, §5).

    POST /api/v1/cases                 JSON array of case records
    POST /api/v1/sensor-readings       JSON array of sensor readings
    POST /api/v1/service-transactions  JSON array of service transactions
    GET  /api/v1/indicators            indicator values per unit (any valid token; its scope applies)
    GET  /api/v1/spots                 hot and blind spots per department (idem)
    GET  /api/v1/openapi.json          OpenAPI 3.1 description of everything under /api/v1

Pushes need `Authorization: Bearer TOKEN` (security/tokens.py) of a role that may push. Records
go through the same validation as file imports (datasources.ingest.ingest_frame): each one is
applied or quarantined with a reason, reported back by its position in the array. A malformed
body is a 4xx with `{"error": reason}`, never a 5xx.
"""
from __future__ import annotations

import json
import logging

import pandas as pd
from flask import Blueprint, Response, jsonify, request
from werkzeug.exceptions import HTTPException

from datasources.ingest import CANONICAL, empty_counts, frame_of_records, ingest_frame
from datasources.remote import WriterUnavailable
from security.principals import cache_for
from security.scope import Scope
from security.tokens import PUSH_ROLES, TokenInfo

log = logging.getLogger(__name__)

PREFIX = "/api/v1"
MAX_BYTES = 10 * 1024 * 1024
MAX_RECORDS = 50_000
# URL path -> ingest feed
PUSH_FEEDS = {"cases": "cases", "sensor-readings": "sensors", "service-transactions": "services"}


class BadBody(Exception):
    """The request body as a whole cannot be used (not a per-record problem)."""

    def __init__(self, status: int, reason: str):
        super().__init__(reason)
        self.status = status
        self.reason = reason


# ---------------------------------------------------------------------------- domain helpers


def parse_records(raw: bytes) -> list[dict]:
    """A JSON array of objects from a request body, or BadBody."""
    if len(raw) > MAX_BYTES:
        raise BadBody(413, f"body larger than {MAX_BYTES} bytes")
    if not raw.strip():
        raise BadBody(400, "empty body: expected a JSON array of records")

    def no_constants(name):
        raise ValueError(f"{name} is not valid JSON")

    try:
        data = json.loads(raw, parse_constant=no_constants)
    except RecursionError:
        raise BadBody(400, "JSON nested too deeply") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadBody(400, f"body is not valid JSON: {exc}") from None
    if not isinstance(data, list):
        raise BadBody(400, f"expected a JSON array of records, got a JSON {type(data).__name__}")
    if len(data) > MAX_RECORDS:
        raise BadBody(413, f"more than {MAX_RECORDS} records in one request")
    not_objects = [i for i, item in enumerate(data) if not isinstance(item, dict)]
    if not_objects:
        raise BadBody(400, f"every array element must be a JSON object (record); element {not_objects[0]} is not")
    return data


def records_frame(records: list[dict], feed: str) -> pd.DataFrame:
    """One row per record, keys as columns; values cleaned so validation sees plain scalars."""
    frame = frame_of_records(records)
    if feed == "services" and "ticket_at" not in frame.columns:
        # This endpoint takes transactions only: without ticket_at the ingest would read hall snapshots.
        frame["ticket_at"] = None
    return frame


def push_records(runtime, feed: str, records: list[dict], origin: str) -> dict:
    """Validate and apply pushed records; counts plus one error (index, reason) per quarantined record."""
    summary = {"received": len(records), **empty_counts(feed), "errors": []}
    if not records:
        return summary
    report = ingest_frame(runtime.store, runtime.pack, feed, records_frame(records, feed), origin=origin)
    summary.update(report.result.as_dict())
    summary["data_version"] = report.result.version  # the version holding these records (or a later one)
    summary["errors"] = [{"index": index, "reason": reason} for index, reason in sorted(report.errors)]
    return summary


# ---------------------------------------------------------------------------- OpenAPI

_TYPES = {
    "reported_at": "date-time", "due_at": "date-time", "closed_at": "date-time", "observed_at": "date-time",
    "ticket_at": "date-time", "called_at": "date-time", "done_at": "date-time",
}
_NUMBERS = {"lat", "lon", "value"}
_INTEGERS = {"priority": (1, 4), "satisfaction": (1, 5)}


def _record_schema(fields: list[str], required: list[str], description: str) -> dict:
    properties = {}
    for name in fields:
        if name in _TYPES:
            prop = {"type": ["string", "null"], "format": _TYPES[name],
                    "description": "ISO 8601; without an offset the city's time zone"}
        elif name in _NUMBERS:
            prop = {"type": ["number", "null"]}
        elif name in _INTEGERS:
            low, high = _INTEGERS[name]
            prop = {"type": ["integer", "null"], "minimum": low, "maximum": high}
        else:
            prop = {"type": ["string", "null"]}
        properties[name] = prop
    return {"type": "object", "description": description, "properties": properties, "required": required,
            "additionalProperties": True}


def openapi_document(pack) -> dict:
    services = [f for f in CANONICAL["services"] if f not in ("observed_at", "waiting", "wait_minutes")]
    schemas = {
        "Case": _record_schema(
            CANONICAL["cases"], ["case_id"],
            "A case (CONTRACT §4). New cases need reported_at and category (an id or name of the city pack); "
            "status is a workflow status (accepted, registered, dispatched, handled, verified, closed, returned, "
            "extended, reworked) or 'open'; missing due_at = reported_at + the category's time limit. Extra "
            "'unit.<level>' properties give unit ids instead of coordinates. A known case_id updates the case; "
            "null values never erase stored ones.",
        ),
        "SensorReading": _record_schema(CANONICAL["sensors"], ["device_id", "observed_at", "metric", "value"],
                                        "One sensor reading (FIWARE-style metric names, e.g. pm25, noise)."),
        "ServiceTransaction": _record_schema(
            services, ["hall_id", "ticket_at"],
            "One service-hall transaction; transaction_id is derived from hall, service, ticket time and channel "
            "when missing.",
        ),
        "PushResult": {
            "type": "object",
            "required": ["accepted", "updated", "quarantined", "errors"],
            "properties": {
                "received": {"type": "integer", "description": "records in the request"},
                "accepted": {"type": "integer", "description": "new records stored"},
                "updated": {"type": "integer", "description": "stored records changed"},
                "quarantined": {"type": "integer", "description": "records rejected (kept in quarantine)"},
                "outside": {"type": "integer", "description": "of the new records: with coordinates but in no "
                                                              "unit of the city's first level (cases, devices, halls)"},
                "unlocated": {"type": "integer", "description": "of the new records: no usable place, neither "
                                                                "coordinates nor a unit (cases, devices, halls)"},
                "errors": {
                    "type": "array",
                    "items": {"type": "object", "required": ["index", "reason"],
                              "properties": {"index": {"type": "integer", "description": "position in the array"},
                                             "reason": {"type": "string"}}},
                },
            },
            "description": "Records neither counted nor in errors were identical to what is stored (or "
                           "superseded by a later record with the same key in the same request).",
        },
        "IndicatorRows": {
            "type": "object",
            "required": ["rows", "next"],
            "properties": {
                "rows": {"type": "array", "items": {
                    "type": "object",
                    "required": ["indicator", "level", "unit_id", "value", "numerator", "denominator"],
                    "properties": {
                        "indicator": {"type": "string"}, "level": {"type": "string"}, "unit_id": {"type": "string"},
                        "value": {"type": ["number", "null"], "description": "null: a ratio with a zero denominator or no data"},
                        "numerator": {"type": ["number", "null"], "description": "null where not a ratio"},
                        "denominator": {"type": ["number", "null"], "description": "null where not a ratio"},
                    }}},
                "next": {"type": ["string", "null"]},
            },
        },
        "Error": {"type": "object", "required": ["error"], "properties": {"error": {"type": "string"}}},
    }

    def error(description):
        return {"description": description,
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}

    window = [  # the query parameters of a window [start, end)
        {"name": "start", "in": "query", "required": True, "schema": {"type": "string"},
         "description": "ISO date/datetime; without an offset in the city's time zone; inside the time domain "
                        "(settings time_min_year..time_max_year), else 400"},
        {"name": "end", "in": "query", "required": True, "schema": {"type": "string"},
         "description": "ISO date/datetime, exclusive; the as-of time; inside the time domain, else 400"},
    ]

    def push(path: str, schema: str, summary: str) -> dict:
        result = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/PushResult"}}}}
        return {
            "post": {
                "operationId": "push_" + path.replace("-", "_"),
                "summary": summary,
                "tags": ["push"],
                "security": [{"bearerAuth": []}],
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": {
                        "type": "array", "maxItems": MAX_RECORDS, "items": {"$ref": f"#/components/schemas/{schema}"},
                    }}},
                },
                "responses": {
                    "200": {"description": "Applied; per-record errors for quarantined records", **result},
                    "422": {"description": "Every record was rejected", **result},
                    "400": error("Malformed body (not JSON, not an array of objects)"),
                    "401": error("Missing, unknown or revoked bearer token"),
                    "403": error(f"The token's role may not push (allowed: {', '.join(sorted(PUSH_ROLES))})"),
                    "413": error(f"Body larger than {MAX_BYTES} bytes or more than {MAX_RECORDS} records"),
                },
            }
        }

    return {
        "openapi": "3.1.0",
        "info": {
            "title": "CityBrain API",
            "version": "1",
            "description": f"City command center API ({pack.name_en}). Times are ISO 8601; values without an "
                           f"offset are read in the city's time zone ({pack.timezone}).",
        },
        "servers": [{"url": "/"}],
        "paths": {
            **_dispatch_openapi_paths(error),
            f"{PREFIX}/cases": {**push("cases", "Case", "Push case records"), "get": {
                "operationId": "list_cases",
                "summary": "Cases in the caller's scope, newest first; reporter data masked unless revealed",
                "tags": ["cases"],
                "security": [{"bearerAuth": []}],
                "parameters": [
                    {"name": "unit", "in": "query", "schema": {"type": "string"}, "description": "LEVEL:ID, percent-encoded like any query value (ids may hold spaces, '/', '&', '#', ...)"},
                    {"name": "status", "in": "query", "schema": {"type": "string"},
                     "description": "open, closed or a workflow status"},
                    {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 1000}},
                    {"name": "cursor", "in": "query", "schema": {"type": "string"}, "description": "`next` of the previous page"},
                    {"name": "reveal", "in": "query", "schema": {"type": "boolean"},
                     "description": "show reporters' names and phones (commander, admin; audited; needs reason)"},
                    {"name": "reason", "in": "query", "schema": {"type": "string"}},
                ],
                "responses": {
                    "200": {"description": "`{\"rows\": [canonical case fields + unit.<level>], \"next\": cursor | null}`"},
                    "400": error("Bad unit, status, limit or cursor"),
                    "401": error("Missing, unknown or revoked bearer token"),
                    "403": error("The token may not read, or may not reveal personal data"),
                },
            }},
            f"{PREFIX}/sensor-readings": push("sensor-readings", "SensorReading", "Push sensor readings"),
            f"{PREFIX}/service-transactions": push("service-transactions", "ServiceTransaction",
                                                   "Push service-hall transactions"),
            f"{PREFIX}/indicators": {
                "get": {
                    "operationId": "indicators",
                    "summary": "Indicator values per unit of a level for a window [start, end) (as-of = end)",
                    "tags": ["indicators"],
                    "security": [{"bearerAuth": []}],
                    "parameters": [
                        {"name": "level", "in": "query", "required": True, "schema": {"type": "string"},
                         "description": "city, department or a level of the city pack"},
                        *window,
                        {"name": "indicators", "in": "query", "required": False, "schema": {"type": "string"},
                         "description": "comma-separated indicator ids (default: all)"},
                        {"name": "compare", "in": "query", "required": False, "schema": {"type": "string"},
                         "description": "1: add prev_value, prev_change, prev_change_rel, prev_direction (环比), "
                                        "yoy_value, yoy_change, yoy_change_rel, yoy_direction (同比), rank, rank_of"},
                    ],
                    "responses": {
                        "200": {"description": "One row per (indicator, unit) in the caller's scope",
                                "content": {"application/json": {"schema": {
                                    "$ref": "#/components/schemas/IndicatorRows"}}}},
                        "400": error("Bad level, indicator or time"),
                        "401": error("Missing, unknown or revoked bearer token"),
                    },
                }
            },
            f"{PREFIX}/spots": {
                "get": {
                    "operationId": "spots",
                    "summary": "Hot spots (demand rose most against the previous periods) and blind spots "
                               "(demand with slow or no handling) per department, for a window [start, end)",
                    "tags": ["indicators"],
                    "security": [{"bearerAuth": []}],
                    "parameters": [
                        *window,
                        {"name": "level", "in": "query", "required": False, "schema": {"type": "string"},
                         "description": "a level of the city pack (default: the one below the caller's scope)"},
                    ],
                    "responses": {
                        "200": {"description": "level, since, start, end, options, hot, blind, hot_by_department, "
                                               "blind_by_department; every spot carries its numbers",
                                "content": {"application/json": {"schema": {"type": "object"}}}},
                        "400": error("Bad level or time"),
                        "401": error("Missing, unknown or revoked bearer token"),
                    },
                }
            },
            f"{PREFIX}/openapi.json": {
                "get": {
                    "operationId": "openapi",
                    "summary": "This document",
                    "tags": ["meta"],
                    "security": [],
                    "responses": {"200": {"description": "OpenAPI 3.1 document",
                                          "content": {"application/json": {"schema": {"type": "object"}}}}},
                }
            },
        },
        "components": {
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer",
                                               "description": "`python app.py users token NAME`"}},
            "schemas": schemas,
        },
    }


def with_unavailable(document: dict) -> dict:
    """Every operation but the document itself may answer 503 + Retry-After: the store's writer is
    restarting or unreachable, or its disk refuses writes (nothing the caller did; try again)."""
    answer = {"description": "The store's writer is unavailable or its disk refuses writes; nothing was "
                             "stored by this request: retry after the Retry-After header's seconds",
              "headers": {"Retry-After": {"schema": {"type": "integer"}}},
              "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    for path, methods in document["paths"].items():
        for operation in methods.values():
            if isinstance(operation, dict) and "responses" in operation and not path.endswith("/openapi.json"):
                operation["responses"].setdefault("503", answer)
    return document


# ---------------------------------------------------------------------------- routes


def writer_unavailable(exc: WriterUnavailable) -> Response:
    """503 + Retry-After: the writer is restarting or unreachable; nothing was done wrong by the caller."""
    return _error(503, f"the store's writer is unavailable, retry shortly: {exc}", {"Retry-After": str(exc.retry_after_s)})


def _error(status: int, reason: str, headers: dict | None = None) -> Response:
    response = jsonify({"error": reason})
    response.status_code = status
    response.headers.update(headers or {})
    return response


def _bearer(runtime, push: bool = True) -> tuple[TokenInfo | None, Response | None]:
    """The caller's token, or the 401/403 answer (403 only when `push` and the role may not push)."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    info = cache_for(runtime).token(token.strip()) if scheme.lower() == "bearer" else None
    if info is None:
        return None, _error(401, "a valid bearer token is required (Authorization: Bearer TOKEN)",
                            {"WWW-Authenticate": 'Bearer realm="citybrain"'})
    if push and not info.may_push:
        return None, _error(403, f"role {info.role!r} may not push records")
    return info, None


def token_scope(pack, token: TokenInfo) -> Scope:
    """The Scope a token's holder reads with: the same rules as console users (security.users).

    Feed sources push only: they read nothing. Personal data is never shown through read endpoints.
    """
    from security.users import scope_for

    if token.role == "source":
        raise PermissionError("a feed source token may push records but not read")
    return scope_for(pack, token.role, token.scopes)


def _reader(runtime):
    """(token, Scope, None) for a caller who may read, else (None, None, the 401/403 answer)."""
    token, denied = _bearer(runtime, push=False)
    if denied is not None:
        return None, None, denied
    try:
        return token, token_scope(runtime.pack, token), None
    except PermissionError as exc:
        return None, None, _error(403, str(exc))
    except (ValueError, KeyError) as exc:
        return None, None, _error(403, f"the token's role and scopes do not grant a read scope: {exc}")


def _read_body() -> bytes:
    if request.content_length is not None and request.content_length > MAX_BYTES:
        raise BadBody(413, f"body larger than {MAX_BYTES} bytes")
    return request.stream.read(MAX_BYTES + 1)


def blueprint(runtime) -> Blueprint:
    bp = Blueprint("api_v1", __name__, url_prefix=PREFIX)

    bp.register_error_handler(WriterUnavailable, writer_unavailable)

    @bp.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        return _error(exc.code or 400, exc.description or exc.name)

    def make_push(path: str, feed: str):
        def handler():
            token, denied = _bearer(runtime)
            if denied is not None:
                return denied
            try:
                records = parse_records(_read_body())
                summary = push_records(runtime, feed, records, origin=f"api:{token.name}")
            except BadBody as exc:
                return _error(exc.status, exc.reason)
            except WriterUnavailable as exc:  # not the client's fault: try again shortly
                return _error(503, str(exc), {"Retry-After": str(exc.retry_after_s)})
            except Exception as exc:  # never a 5xx for what a client sent: report and log
                log.exception("push to %s by %s failed", path, token.name)
                return _error(400, f"cannot process the records: {type(exc).__name__}: {exc}")
            rejected_all = summary["received"] > 0 and summary["quarantined"] == summary["received"]
            return jsonify(summary), 422 if rejected_all else 200

        handler.__name__ = "push_" + path.replace("-", "_")
        bp.add_url_rule(f"/{path}", view_func=handler, methods=["POST"])

    for path, feed in PUSH_FEEDS.items():
        make_push(path, feed)

    @bp.get("/cases")
    def list_cases_route():
        from security.cases import CaseQueryError, list_cases

        token, scope, denied = _reader(runtime)
        if denied is not None:
            return denied
        args = request.args
        try:
            limit = int(args.get("limit", "100"))
            page = list_cases(runtime.store, runtime.pack, scope, actor=token.name, role=token.role,
                              unit=args.get("unit", ""), status=args.get("status", ""), limit=limit,
                              cursor=args.get("cursor", ""), reveal=args.get("reveal", "").lower() in ("1", "true"),
                              reason=args.get("reason", ""), origin="api")
        except PermissionError as exc:
            return _error(403, str(exc))
        except (CaseQueryError, ValueError) as exc:
            return _error(400, str(exc))
        return jsonify(page)

    @bp.get("/indicators")
    def indicators():
        token, scope, denied = _reader(runtime)
        if denied is not None:
            return denied
        from indicators.compare import compare
        from indicators.compute import IndicatorError, compute, parse_time

        args = request.args
        missing = [name for name in ("level", "start", "end") if not args.get(name)]
        if missing:
            return _error(400, f"missing query parameter(s): {', '.join(missing)}")
        try:
            start, end = (parse_time(args[name], runtime.pack.timezone, runtime.store.time_domain, name)
                          for name in ("start", "end"))
            values = compare if args.get("compare", "") in ("1", "true", "yes") else compute
            rows = values(runtime.store, runtime.pack, scope, args["level"], start, end, args.get("indicators") or None)
        except (IndicatorError, ValueError) as exc:
            return _error(400, str(exc))
        return jsonify({"rows": rows, "next": None})

    @bp.get("/spots")
    def spots():
        token, scope, denied = _reader(runtime)
        if denied is not None:
            return denied
        from indicators.compute import IndicatorError, parse_time
        from indicators.spots import SpotsError, spots as find_spots

        args = request.args
        missing = [name for name in ("start", "end") if not args.get(name)]
        if missing:
            return _error(400, f"missing query parameter(s): {', '.join(missing)}")
        try:
            start, end = (parse_time(args[name], runtime.pack.timezone, runtime.store.time_domain, name)
                          for name in ("start", "end"))
            found = find_spots(runtime.store, runtime.pack, scope, start, end, args.get("level") or None)
        except (IndicatorError, SpotsError) as exc:
            return _error(400, str(exc))
        return Response(json.dumps(found, ensure_ascii=False, default=str), mimetype="application/json")

    _dispatch_routes(bp, runtime)

    @bp.get("/openapi.json")
    def openapi():
        return jsonify(with_unavailable(openapi_document(runtime.pack)))

    return bp


# ---------------------------------------------------------------------------- dispatch orders and audit (issue 6)

_TIME = {"type": ["string", "null"], "format": "date-time"}
_DISPATCH_ACTIONS = ["acknowledge", "start", "progress", "resolve", "verify", "close", "return", "reassign", "extend",
                     "approve_extension", "cancel"]
_ORDER_SCHEMA = {
    "type": "object",
    "required": ["id", "version", "state", "tasks"],
    "properties": {
        "id": {"type": "string"},
        "version": {"type": "integer", "description": "send as expected_version with the next action"},
        "state": {"type": "string", "enum": ["issued", "acknowledged", "in_progress", "resolved", "verified", "closed",
                                             "cancelled"]},
        "title": {"type": "string"}, "priority": {"type": "integer", "minimum": 1, "maximum": 4},
        "lead_department": {"type": "string"}, "assist_departments": {"type": "array", "items": {"type": "string"}},
        "instructions": {"type": "string"}, "case_ids": {"type": "array", "items": {"type": "string"}},
        "created_by": {"type": "string"}, "created_at": _TIME, "updated_at": _TIME, "due_at": _TIME,
        "verified_at": _TIME, "closed_at": _TIME, "cancelled_at": _TIME,
        "tasks": {"type": "array", "items": {
            "type": "object", "required": ["department", "state", "due_at"],
            "properties": {
                "department": {"type": "string"}, "role": {"type": "string", "enum": ["lead", "assist"]},
                "state": {"type": "string", "enum": ["issued", "acknowledged", "in_progress", "resolved", "returned",
                                                     "reassigned", "cancelled"]},
                "due_at": _TIME, "ack_due_at": _TIME, "acknowledged_at": _TIME, "resolved_at": _TIME,
                "escalation_level": {"type": "integer", "description": "0 none, 1 department head, 2 commander"},
                "escalated_at": _TIME, "requested_due_at": _TIME,
            }}},
        "events": {"type": "array", "items": {"type": "object"}, "description": "history (GET only)"},
    },
}


def _dispatch_openapi_paths(error) -> dict:
    order = {"content": {"application/json": {"schema": _ORDER_SCHEMA}}}
    order_id = {"name": "order_id", "in": "path", "required": True, "schema": {"type": "string"}}
    create_body = {"type": "object", "required": ["title", "case_ids"], "properties": {
        "title": {"type": "string", "maxLength": 200},
        "case_ids": {"type": "array", "minItems": 1, "items": {"type": "string"}},
        "lead_department": {"type": "string", "description": "default: the cases' categories' lead department"},
        "assist_departments": {"type": "array", "items": {"type": "string"},
                               "description": "default: the categories' assisting departments"},
        "priority": {"type": "integer", "minimum": 1, "maximum": 4, "description": "1 most urgent; default 3"},
        "instructions": {"type": "string"},
        "due_at": {"type": "string", "format": "date-time",
                   "description": "default: earliest of the categories' time limits and the priority's SLA"},
        "command_id": {"type": "string", "description": "idempotency key: a repeat returns the first result"},
    }}
    action_body = {"type": "object", "required": ["action"], "properties": {
        "action": {"type": "string", "enum": _DISPATCH_ACTIONS},
        "department": {"type": "string", "description": "the task's department (default: the caller's, or the lead)"},
        "note": {"type": "string"},
        "expected_version": {"type": "integer", "description": "409 when the order moved past it"},
        "command_id": {"type": "string", "description": "idempotency key: a repeat returns the first result"},
        "to_department": {"type": "string", "description": "reassign: the new department"},
        "due_at": {"type": "string", "format": "date-time", "description": "extend: the new deadline"},
        "hours": {"type": "number", "description": "extend: hours added to the deadline"},
    }}
    denied = error("The role or scope may not (the reason says why)")
    unauth = error("Missing, unknown or revoked bearer token")
    rows = {"content": {"application/json": {"schema": {
        "type": "object", "required": ["rows", "next"],
        "properties": {"rows": {"type": "array", "items": {"type": "object"}}, "next": {"type": ["string", "null"]}}}}}}
    query = lambda name, description, **schema: {"name": name, "in": "query", "description": description,  # noqa: E731
                                                  "schema": schema or {"type": "string"}}
    since = query("since", "ISO 8601; without an offset the city's time zone; inside the time domain, else 400",
                  type="string", format="date-time")
    paging = [query("limit", "rows per page (default 100)", type="integer", minimum=1, maximum=1000),
              query("cursor", "`next` of the previous page")]
    return {
        f"{PREFIX}/dispatch-orders": {"get": {
            "operationId": "list_dispatch_orders",
            "summary": "Dispatch orders in the caller's scope (a department: orders with a task for it), newest first",
            "tags": ["dispatch"], "security": [{"bearerAuth": []}],
            "parameters": [
                query("state", "open (not verified, closed or cancelled) or an order state"),
                query("department", "orders with a task (current or past) for this department"),
                {**since, "description": "orders changed (updated_at) at or after this time"}, *paging],
            "responses": {"200": {"description": "`{\"rows\": [order summaries with tasks and case_count], "
                                                 "\"next\": cursor | null}`", **rows},
                          "400": error("Bad state, since, limit or cursor"), "401": unauth, "403": denied},
        }, "post": {
            "operationId": "create_dispatch_order", "summary": "Create a joint dispatch order (commander, district leader)",
            "tags": ["dispatch"], "security": [{"bearerAuth": []}],
            "requestBody": {"required": True, "content": {"application/json": {"schema": create_body}}},
            "responses": {"201": {"description": "Created (or the first result of a repeated command_id)", **order},
                          "400": error("Bad body, unknown case or department"), "401": unauth, "403": denied},
        }},
        f"{PREFIX}/dispatch-orders/{{order_id}}": {"get": {
            "operationId": "get_dispatch_order", "summary": "One dispatch order with its tasks and history",
            "tags": ["dispatch"], "security": [{"bearerAuth": []}], "parameters": [order_id],
            "responses": {"200": {"description": "The order", **order}, "401": unauth,
                          "404": error("Unknown or outside the caller's scope")},
        }},
        f"{PREFIX}/dispatch-orders/{{order_id}}/actions": {"post": {
            "operationId": "act_on_dispatch_order", "summary": "Apply one action to an order or one of its tasks",
            "tags": ["dispatch"], "security": [{"bearerAuth": []}], "parameters": [order_id],
            "requestBody": {"required": True, "content": {"application/json": {"schema": action_body}}},
            "responses": {"200": {"description": "The order after the action", **order},
                          "400": error("Bad body"), "401": unauth, "403": denied,
                          "404": error("Unknown or outside the caller's scope"),
                          "409": error("expected_version is stale (the order changed), or the order's or "
                                       "task's state refuses the action now")},
        }},
        f"{PREFIX}/dispatch-metrics": {"get": {
            "operationId": "dispatch_metrics",
            "summary": "Effectiveness: per department time to acknowledge and to resolve (count, median, p90 in "
                       "minutes, late) for orders created in [since, until); for orders completed in it, the "
                       "area's open_backlog, overdue_open and closure_rate before launch and after completion",
            "tags": ["dispatch"], "security": [{"bearerAuth": []}],
            "parameters": [{**since, "description": "default: until - 30 days"},
                           query("until", "exclusive; default now", type="string", format="date-time"),
                           query("window_hours", "length of the before and after windows (default 168)",
                                 type="number", exclusiveMinimum=0)],
            "responses": {"200": {"description": "`{\"departments\": [...], \"orders\": [...], ...}`",
                                  "content": {"application/json": {"schema": {"type": "object", "required": [
                                      "departments", "orders"]}}}},
                          "400": error("Bad since, until or window_hours"), "401": unauth, "403": denied},
        }},
        f"{PREFIX}/dispatch-webhook-deliveries": {"get": {
            "operationId": "dispatch_webhook_deliveries",
            "summary": "Department webhook delivery log with every attempt (admin, commander; a department: its own)",
            "tags": ["dispatch"], "security": [{"bearerAuth": []}],
            "parameters": [query("department", "one department"),
                           query("state", "pending, delivered, failed or cancelled"),
                           {**since, "description": "deliveries created at or after this time"}, *paging],
            "responses": {"200": {"description": "`{\"rows\": [deliveries, each with attempts_log], \"next\"}`",
                                  **rows},
                          "400": error("Bad state, since, limit or cursor"), "401": unauth,
                          "403": error("The role may not read deliveries")},
        }},
        f"{PREFIX}/audit": {"get": {
            "operationId": "audit", "summary": "Audit trail (commands, reads of personal data, logins); admin, commander",
            "tags": ["audit"], "security": [{"bearerAuth": []}],
            "parameters": [
                {"name": "since", "in": "query", "schema": {"type": "string", "format": "date-time"},
                 "description": "ISO 8601; without an offset the city's time zone"},
                {"name": "cursor", "in": "query", "schema": {"type": "string"}, "description": "`next` of the previous page"},
                {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 5000}},
                {"name": "format", "in": "query", "schema": {"type": "string", "enum": ["json", "csv"]},
                 "description": "csv: every row from `since` on as one CSV download (the export is audited)"},
            ],
            "responses": {"200": {"description": "`{\"rows\": [audit rows], \"next\": cursor | null}`, or text/csv",
                                  "content": {"application/json": {"schema": {
                                      "type": "object", "required": ["rows", "next"],
                                      "properties": {"rows": {"type": "array", "items": {"type": "object"}},
                                                     "next": {"type": ["string", "null"]}}}}}},
                          "400": error("Bad since, cursor or limit"), "401": unauth,
                          "403": error("Only admin and commander read the audit trail")},
        }},
    }


def _dispatch_routes(bp: Blueprint, runtime) -> None:
    from dispatch import service
    from dispatch.states import Actor

    def caller():
        token, denied = _bearer(runtime, push=False)
        if denied is not None:
            return None, None, denied
        try:
            scope = token_scope(runtime.pack, token)
        except PermissionError as exc:
            return None, None, _error(403, str(exc))
        except (ValueError, KeyError) as exc:
            return None, None, _error(403, f"the token's role and scopes do not grant a scope: {exc}")
        return token, Actor.from_scope(token.name, token.role, scope), None

    def json_object() -> dict:
        raw = _read_body()
        if len(raw) > MAX_BYTES:
            raise BadBody(413, f"body larger than {MAX_BYTES} bytes")
        try:
            data = json.loads(raw or b"null")
        except (ValueError, UnicodeDecodeError, RecursionError) as exc:
            raise BadBody(400, f"body is not valid JSON: {exc}") from None
        if not isinstance(data, dict):
            raise BadBody(400, "expected a JSON object")
        return data

    def run(fn):
        try:
            status, result = fn()
        except BadBody as exc:
            return _error(exc.status, exc.reason)
        except service.DispatchError as exc:
            return _error(exc.status, exc.reason)
        except WriterUnavailable as exc:  # the client retries with its command_id: done at most once
            return writer_unavailable(exc)
        except Exception:
            log.exception("dispatch command failed")
            return _error(500, "internal error (logged)")
        return jsonify(result), status

    @bp.post("/dispatch-orders")
    def create_dispatch_order():
        _, actor, denied = caller()
        if denied is not None:
            return denied
        return run(lambda: service.create_order(runtime.store, runtime.pack, actor, json_object(), origin="api"))

    @bp.get("/dispatch-orders/<order_id>")
    def get_dispatch_order(order_id):
        _, actor, denied = caller()
        if denied is not None:
            return denied
        return run(lambda: (200, service.get_order(runtime.store, service.actor_scope(actor), order_id)))

    @bp.post("/dispatch-orders/<order_id>/actions")
    def act_on_dispatch_order(order_id):
        _, actor, denied = caller()
        if denied is not None:
            return denied
        return run(lambda: service.apply_action(runtime.store, runtime.pack, actor, order_id, json_object(),
                                                origin="api"))

    @bp.get("/audit")
    def audit_trail():
        from indicators.compute import IndicatorError, parse_time

        token, denied = _bearer(runtime, push=False)
        if denied is not None:
            return denied
        if token.role not in ("admin", "commander"):
            return _error(403, f"role {token.role!r} may not read the audit trail (admin, commander only)")
        args = request.args
        try:
            since = parse_time(args["since"], runtime.pack.timezone, runtime.store.time_domain, "since") \
                if args.get("since") else runtime.store.time_domain.lower
            after = int(args.get("cursor") or 0)
            limit = int(args.get("limit") or 1000)
            if not 1 <= limit <= 5000:
                raise ValueError("limit must be 1..5000")
        except (IndicatorError, ValueError) as exc:
            return _error(400, str(exc))
        if args.get("format", "json") == "csv":
            from security.users import audit

            from dispatch.audit_export import audit_csv

            audit(runtime.store, token.name, token.role, "audit.export", detail=f"since {since.isoformat()}Z",
                  origin="api")
            name = f"audit-since-{since:%Y%m%dT%H%M%S}Z.csv"
            return Response(audit_csv(runtime.store, since), mimetype="text/csv",
                            headers={"Content-Disposition": f'attachment; filename="{name}"'})
        if args.get("format", "json") != "json":
            return _error(400, "format must be json or csv")
        rows = service.audit_rows(runtime.store, since, after, limit)
        return jsonify({"rows": rows, "next": str(rows[-1]["audit_id"]) if len(rows) == limit else None})

    def time_arg(name: str, default=None):
        from indicators.compute import parse_time

        value = request.args.get(name)
        return parse_time(value, runtime.pack.timezone, runtime.store.time_domain, name) if value else default

    @bp.get("/dispatch-orders")
    def list_dispatch_orders():
        from dispatch.listing import list_orders

        _, actor, denied = caller()
        if denied is not None:
            return denied
        args = request.args
        try:
            page = list_orders(runtime.store, service.actor_scope(actor), state=args.get("state", ""),
                               department=args.get("department", ""), since=time_arg("since"),
                               limit=int(args.get("limit") or 100), cursor=args.get("cursor", ""))
        except ValueError as exc:  # IndicatorError (a bad time) and ListError are ValueErrors
            return _error(400, str(exc))
        return jsonify(page)

    @bp.get("/dispatch-metrics")
    def dispatch_metrics():
        import datetime as dt

        from datasources.store import utcnow
        from dispatch.metrics import effectiveness

        _, actor, denied = caller()
        if denied is not None:
            return denied
        try:
            until = time_arg("until", utcnow())
            since = time_arg("since", until - dt.timedelta(days=30))
            report = effectiveness(runtime.store, runtime.pack, service.actor_scope(actor), since, until,
                                   window_hours=float(request.args.get("window_hours") or 168))
        except ValueError as exc:
            return _error(400, str(exc))
        return jsonify(report)

    @bp.get("/dispatch-webhook-deliveries")
    def dispatch_webhook_deliveries():
        from dispatch.webhooks import delivery_log

        token, actor, denied = caller()
        if denied is not None:
            return denied
        if token.role not in ("admin", "commander", "department"):
            return _error(403, f"role {token.role!r} may not read webhook deliveries (admin, commander, "
                               "a department for its own)")
        args = request.args
        try:
            page = delivery_log(runtime.store, service.actor_scope(actor), department=args.get("department", ""),
                                state=args.get("state", ""), since=time_arg("since"),
                                limit=int(args.get("limit") or 100), cursor=args.get("cursor", ""))
        except ValueError as exc:
            return _error(400, str(exc))
        return jsonify(page)
