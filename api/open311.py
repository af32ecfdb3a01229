"""Open311 GeoReport v2 under /open311/v2/ (JSON only): existing 311 clients list and file cases.

    GET  services.json                 the city pack's categories as services
    GET  requests.json                 cases (filters: service_request_id, service_code, start_date,
                                       end_date, status, limit), newest first, at most `limit` (1000)
    GET  requests/{id}.json            one case as a one-element array (404 if unknown)
    POST requests.json                 file a case (public channel: no token; api_key is ignored)

A case is "closed" when its workflow status is closed, otherwise "open"; status_notes carries the
workflow status. Times are ISO 8601 with the city's offset. Errors use the GeoReport format
`[{"code": N, "description": reason}]`.

Reads are public, so they show what the city publishes (settings `open311_public_*`): by default
only requests filed through Open311 itself (hotline, grid-inspector and other internal channels stay
private; a case that is not public answers 404 like an unknown one), coordinates rounded to 3
decimals (about 100 m), no free-text description or address, never reporter fields.
POSTs are throttled per client address and overall (429 + Retry-After; the count runs in the
writer, shared by every web worker). A rejected POST is kept in quarantine (feed `cases`, origin
`open311`) with its fields and the reason, like any feed's rejected record.
"""
from __future__ import annotations

import datetime as dt
import json
import logging
import math
import uuid
import zoneinfo

import pandas as pd
from flask import Blueprint, jsonify, request
from werkzeug.exceptions import HTTPException

from datasources import gateway, geo, timedomain
from datasources.ingest import ingest_frame
from datasources.remote import WriterUnavailable
from datasources.timedomain import TimeDomain
from security import ratelimit
from security.scope import Scope

log = logging.getLogger(__name__)

PREFIX = "/open311/v2"
DEFAULT_LIMIT = 1000
MAX_LIMIT = 10_000
MAX_DESCRIPTION = 4000
STATUSES = ("open", "closed")
PUBLIC_DECIMALS = 3  # public coordinates: 0.001 degree, about 100 m
MAX_BODY_BYTES = 64 * 1024  # a POST body above this is refused (413) before it is read
ORIGIN = "open311"


class Open311Error(Exception):
    def __init__(self, code: int, description: str):
        super().__init__(description)
        self.code = code
        self.description = description


def _lang(pack, locale: str | None) -> str:
    """'en' or 'zh' from a locale such as en, en_US, zh-CN; the pack's default language otherwise."""
    prefix = (locale or "").strip().lower()[:2]
    return prefix if prefix in ("en", "zh") else (pack.default_lang if pack.default_lang in ("en", "zh") else "en")


def _names(frame: pd.DataFrame, key: str, lang: str) -> dict[str, str]:
    first, second = ("name_zh", "name_en") if lang == "zh" else ("name_en", "name_zh")
    names = {}
    for row in frame.to_dict("records"):
        name = row.get(first) if isinstance(row.get(first), str) and row.get(first) else row.get(second)
        names[row[key]] = name if isinstance(name, str) and name else row[key]
    return names


# ---------------------------------------------------------------------------- services


def services(pack, lang: str) -> list[dict]:
    """Every category of the pack as a GeoReport service."""
    departments = _names(pack.departments, "department_id", lang)
    names = _names(pack.categories, "category_id", lang)
    out = []
    for row in pack.categories.to_dict("records"):
        name = names[row["category_id"]]
        hours = row.get("time_limit_hours")
        limit = ""
        if isinstance(hours, (int, float)) and not math.isnan(hours):
            unit = "working hours" if row.get("calendar") == "working" else "hours"
            limit = f"; time limit {hours:g} {unit}"
        lead = departments.get(row.get("lead_department"), row.get("lead_department"))
        keywords = []
        for word in (row["category_id"], row.get("name_en"), row.get("name_zh")):
            if isinstance(word, str) and word and word not in keywords:
                keywords.append(word)
        out.append({
            "service_code": row["category_id"],
            "service_name": name,
            "description": f"{name} (handled by {lead}{limit})" if lead else f"{name}{limit}",
            "metadata": False,
            "type": "realtime",
            "keywords": ",".join(k.replace(",", " ") for k in keywords),
            "group": row.get("kind") or "",
        })
    return out


# ---------------------------------------------------------------------------- reading requests


def _iso(value, zone: zoneinfo.ZoneInfo) -> str | None:
    if value is None:
        return None
    return value.replace(tzinfo=dt.UTC).astimezone(zone).isoformat(timespec="seconds")


def _finite(value):
    return value if isinstance(value, (int, float)) and math.isfinite(value) else None


def _selection(text: str) -> tuple[list[str] | None, list[str]]:
    """A setting such as "open311", "*", "*,-noise" or "": (listed ids or None for any, excluded ids)."""
    items = [part.strip() for part in text.split(",") if part.strip()]
    excluded = [item[1:].strip() for item in items if item.startswith("-")]
    listed = [item for item in items if not item.startswith("-")]
    return (None if "*" in listed else listed), excluded


def publication(settings) -> dict:
    """What the city publishes over Open311, as the bound parameters of open311_requests.sql."""
    sources, hidden_sources = _selection(settings.open311_public_sources)
    categories, hidden_categories = _selection(settings.open311_public_categories)
    return {"sources": sources, "hidden_sources": hidden_sources, "categories": categories,
            "hidden_categories": hidden_categories, "public_text": bool(settings.open311_public_text),
            "decimals": PUBLIC_DECIMALS}


def find_requests(runtime, *, ids=(), codes=(), start=None, end=None, closed: bool | None = None,
                  limit: int = DEFAULT_LIMIT, lang: str = "en") -> list[dict]:
    """Published cases as GeoReport service requests (see the module doc), newest reported first."""
    pack = runtime.pack
    rows = gateway.query_rows(
        runtime.store, "open311_requests", Scope.city(), **publication(runtime.settings),
        ids=list(ids), codes=list(codes), start=start, end=end, closed=closed, limit=limit,
    )
    zone = zoneinfo.ZoneInfo(pack.timezone)
    categories = _names(pack.categories, "category_id", lang)
    departments = _names(pack.departments, "department_id", lang)
    return [
        {
            "service_request_id": row["case_id"],
            "status": "closed" if row["status"] == "closed" else "open",
            "status_notes": row["status"],
            "service_name": categories.get(row["category"], row["category"]),
            "service_code": row["category"],
            "description": row["description"],
            "agency_responsible": departments.get(row["department"], row["department"]),
            "service_notice": None,
            "requested_datetime": _iso(row["reported_at"], zone),
            "updated_datetime": _iso(row["updated_at"], zone),
            "expected_datetime": _iso(row["due_at"], zone),
            "address": row["address"],
            "address_id": None,
            "zipcode": None,
            "lat": _finite(row["lat"]),
            "long": _finite(row["lon"]),
            "media_url": None,
        }
        for row in rows
    ]


def _list(value: str | None) -> list[str]:
    return [part.strip() for part in (value or "").split(",") if part.strip()]


def query_filters(args, timezone: str, domain: TimeDomain = timedomain.DEFAULT) -> dict:
    """find_requests keyword arguments from GeoReport query parameters; Open311Error(400) if bad."""
    filters: dict = {"ids": _list(args.get("service_request_id")), "codes": _list(args.get("service_code"))}
    for param, key in (("start_date", "start"), ("end_date", "end")):
        if args.get(param):
            try:
                filters[key] = timedomain.parse_time(args[param], timezone, domain, param)
            except timedomain.BadTime as exc:
                raise Open311Error(400, str(exc)) from None
    statuses = {s.lower() for s in _list(args.get("status"))}
    unknown = statuses - set(STATUSES)
    if unknown:
        raise Open311Error(400, f"status must be open or closed, not {sorted(unknown)[0]!r}")
    if len(statuses) == 1:
        filters["closed"] = statuses == {"closed"}
    raw_limit = args.get("limit")
    if raw_limit:
        try:
            limit = int(raw_limit)
        except ValueError:
            raise Open311Error(400, f"limit must be a whole number, not {raw_limit!r}") from None
        filters["limit"] = max(1, min(limit, MAX_LIMIT))
    return filters


# ---------------------------------------------------------------------------- filing a request


def _number(fields: dict, name: str) -> float | None:
    raw = fields.get(name)
    if raw is None or str(raw).strip() == "":
        return None
    try:
        value = float(raw)
    except (TypeError, ValueError):
        raise Open311Error(400, f"{name} is not a number: {raw!r}") from None
    if not math.isfinite(value):
        raise Open311Error(400, f"{name} is not a finite number")
    return value


def _field(fields: dict, name: str) -> str | None:
    value = fields.get(name)
    if value is None:
        return None
    value = str(value).strip()
    return value or None


def new_case(pack, fields: dict, now: dt.datetime) -> dict:
    """A canonical case record from POST requests.json fields; Open311Error(400) if invalid."""
    code = _field(fields, "service_code")
    if not code:
        raise Open311Error(400, "service_code is required")
    if code not in set(pack.categories.category_id):
        raise Open311Error(400, f"service_code {code!r} not found")
    lat, lon = _number(fields, "lat"), _number(fields, "long")
    address = _field(fields, "address_string") or _field(fields, "address_id")
    if (lat is None) != (lon is None):
        raise Open311Error(400, "lat and long must be given together")
    if lat is None and not address:
        raise Open311Error(400, "a location is required: lat and long, or address_string")
    if lat is not None:
        if not (-90 <= lat <= 90 and -180 <= lon <= 180):
            raise Open311Error(400, "lat/long out of range")
        _, outside = geo.locate(pack, [lat], [lon])
        if bool(outside[0]):
            raise Open311Error(400, f"the location is outside {pack.name_en}")
    description = _field(fields, "description")
    if description and len(description) > MAX_DESCRIPTION:
        raise Open311Error(400, f"description longer than {MAX_DESCRIPTION} characters")
    name = " ".join(p for p in (_field(fields, "first_name"), _field(fields, "last_name")) if p)
    return {
        "case_id": f"O311-{uuid.uuid4().hex[:12]}",
        "source": "open311",
        "category": code,
        "description": description,
        "reported_at": now.replace(tzinfo=dt.UTC).isoformat(),
        "lat": lat,
        "lon": lon,
        "address": address,
        "status": "accepted",
        "reporter_name": name or _field(fields, "email"),
        "reporter_phone": _field(fields, "phone"),
    }


def quarantine_post(store, raw: str, reason: str) -> None:
    """Keep a rejected POST in quarantine (feed cases, origin open311) with its reason; the writer
    stores it, like every feed's rejected records."""
    store.apply("cases", "cases", None, [(raw, reason)], origin=ORIGIN)


def _raw(fields: dict) -> str:
    return json.dumps({k: v for k, v in fields.items() if k != "api_key"}, ensure_ascii=False, default=str,
                      sort_keys=True)


def file_request(runtime, fields: dict, now: dt.datetime | None = None) -> dict:
    """Validate and store a new case from an Open311 POST; the GeoReport answer element.
    A rejected request is quarantined with its reason before Open311Error(400) is raised."""
    now = now or dt.datetime.now(dt.UTC).replace(tzinfo=None)
    try:
        record = new_case(runtime.pack, fields, now)
    except Open311Error as exc:
        quarantine_post(runtime.store, _raw(fields), exc.description)
        raise
    # ingest_frame quarantines what it rejects itself (in the writer, with the case's fields)
    report = ingest_frame(runtime.store, runtime.pack, "cases", pd.DataFrame([record]), origin=ORIGIN, now=now)
    if report.errors:
        raise Open311Error(400, report.errors[0][1])
    case_id = record["case_id"]
    stored = find_requests(runtime, ids=[case_id], lang=_lang(runtime.pack, fields.get("locale")))
    expected = stored[0]["expected_datetime"] if stored else None
    notice = f"Received as case {case_id}" + (f"; expected to be handled by {expected}" if expected else "")
    return {"service_request_id": case_id, "service_notice": notice, "account_id": None}


def admit_post(runtime, address: str) -> int:
    """0 when one more POST from `address` fits the throttle (and is counted), else seconds to wait."""
    settings = runtime.settings
    return ratelimit.admit(runtime.store, "open311_post", address, settings.open311_posts_per_address_per_hour,
                          3600.0, settings.open311_posts_per_min, 60.0)


# ---------------------------------------------------------------------------- routes


def _error(code: int, description: str):
    return jsonify([{"code": code, "description": description}]), code


def _post_fields() -> dict:
    """Form fields, query parameters and a JSON object body, merged (JSON wins)."""
    fields = request.values.to_dict()
    body = request.get_json(silent=True) if request.is_json else None
    if isinstance(body, dict):
        fields.update(body)
    elif request.is_json and request.get_data():
        raise Open311Error(400, "a JSON body must be an object of request fields")
    return fields


def blueprint(runtime) -> Blueprint:
    bp = Blueprint("open311_v2", __name__, url_prefix=PREFIX)

    @bp.errorhandler(Open311Error)
    def open311_error(exc: Open311Error):
        return _error(exc.code, exc.description)

    @bp.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        return _error(exc.code or 400, exc.description or exc.name)

    @bp.get("/services.json")
    def list_services():
        return jsonify(services(runtime.pack, _lang(runtime.pack, request.args.get("locale"))))

    @bp.get("/requests.json")
    def list_requests():
        filters = query_filters(request.args, runtime.pack.timezone, runtime.store.time_domain)
        lang = _lang(runtime.pack, request.args.get("locale"))
        return jsonify(find_requests(runtime, lang=lang, **filters))

    @bp.get("/requests/<path:request_id>.json")  # ids are data: a "/" arrives decoded from %2F
    def one_request(request_id: str):
        rows = find_requests(runtime, ids=[request_id], lang=_lang(runtime.pack, request.args.get("locale")))
        if not rows:
            raise Open311Error(404, f"service request {request_id!r} not found")
        return jsonify(rows[:1])

    @bp.post("/requests.json")
    def post_request():
        # Public channel: no bearer token; an api_key parameter is accepted and ignored.
        wait = admit_post(runtime, request.remote_addr or "?")
        if wait:
            response, code = _error(429, f"too many service requests from here or in all; retry in {wait} s")
            response.headers["Retry-After"] = str(wait)
            return response, code
        request.max_content_length = MAX_BODY_BYTES  # larger bodies: 413, not read, not stored
        try:
            fields = _post_fields()
        except Open311Error as exc:
            quarantine_post(runtime.store, json.dumps({"body": request.get_data(as_text=True)}, ensure_ascii=False),
                            exc.description)
            raise
        try:
            answer = file_request(runtime, fields)
        except (Open311Error, WriterUnavailable):  # the latter: 503 + Retry-After (api/__init__.py)
            raise
        except Exception as exc:  # a client's input must never produce a 5xx
            log.exception("open311 POST failed")
            reason = f"cannot file the request: {type(exc).__name__}: {exc}"
            quarantine_post(runtime.store, _raw(fields), reason)
            raise Open311Error(400, reason) from None
        return jsonify([answer])

    return bp
