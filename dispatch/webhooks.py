"""Outbound webhooks per department: configuration, a transactional outbox, a delivery worker.

    secret = add_webhook(store, pack, "chengguan", "https://ops.example/hook")   # or secret=...
    enqueue(cur, event)                    # dispatch/service.py: inside the command's transaction
    worker = WebhookWorker(store, max_attempts=8, backoff_s=2)
    worker.run(stop_event)                 # a background thread of the writer process
    page = delivery_log(store, Scope.city(), department="chengguan")

Every dispatch event concerning a department with an enabled webhook becomes a delivery row in
the same transaction as the command (nothing is lost between commit and HTTP call, and a restart
resumes pending rows). The worker POSTs the stored JSON body with

    Content-Type: application/json
    X-CityBrain-Event: dispatch.<action>          X-CityBrain-Event-Id: <order_id>@<version>
    X-CityBrain-Delivery: <delivery id>           X-CityBrain-Timestamp: <unix seconds>
    X-CityBrain-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>." + body)>

Binding the timestamp into the signature lets a receiver refuse replays (check it is recent).
A 2xx answer delivers; anything else (status, timeout, refused connection) is retried after
backoff_s * 2^(attempt-1) seconds (at most backoff_max_s) up to max_attempts, then the delivery
is `failed`. Every attempt is logged. Delivery is at least once: receivers de-duplicate on the
event id. Deliveries of one department are sent in order of their next attempt, not strictly in
event order after a failure: the event carries the order's version for that.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import logging
import secrets
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

from datasources import gateway
from datasources.remote import in_writer
from datasources.store import Store, utcnow
from dispatch.isotime import iso
from security.scope import Scope

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-CityBrain-Signature"
TIMESTAMP_HEADER = "X-CityBrain-Timestamp"
MAX_ERROR = 500
BATCH = 50


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The signature header value: `sha256=` + hex HMAC-SHA256 of `<timestamp>.<body>`."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify(secret: str, timestamp: str, body: bytes, signature: str) -> bool:
    """What a receiver does (constant-time compare); for receivers written in Python and tests."""
    return hmac.compare_digest(sign(secret, timestamp, body), signature or "")


# ---------------------------------------------------------------------------- configuration


def _check_url(url: str) -> str:
    url = (url or "").strip()
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"webhook URL must be http(s)://host/...: {url!r}")
    return url


def add_webhook(store: Store, pack, department: str, url: str, secret: str | None = None,
                enabled: bool = True) -> str:
    """Add or replace the department's webhook; returns its secret (generated when not given)."""
    if department not in set(pack.departments.department_id):
        raise ValueError(f"unknown department {department!r}")
    url = _check_url(url)
    secret = secret if secret else secrets.token_hex(32)
    if len(secret) < 16:
        raise ValueError("a webhook secret has at least 16 characters")
    now = utcnow()
    store.execute_write(
        "insert into dispatch_webhooks values ($dept, $url, $secret, $enabled, $now, $now) "
        "on conflict (department) do update set url = excluded.url, secret = excluded.secret, "
        "enabled = excluded.enabled, updated_at = excluded.updated_at",
        {"dept": department, "url": url, "secret": secret, "enabled": enabled, "now": now},
    )
    return secret


def set_enabled(store: Store, department: str, enabled: bool) -> bool:
    """Enable or pause a webhook (a paused one queues nothing new; its pending rows wait)."""
    rows = store.execute_write(
        "update dispatch_webhooks set enabled = $enabled, updated_at = $now where department = $dept returning department",
        {"enabled": enabled, "now": utcnow(), "dept": department},
    )
    return bool(rows)


@in_writer
def remove_webhook(store: Store, department: str) -> int:
    """Remove the department's webhook; its pending deliveries are cancelled (kept in the log)."""
    with store.write_transaction() as cur:
        cur.execute(
            "update dispatch_webhook_deliveries set state = 'cancelled', last_error = 'webhook removed' "
            "where department = ? and state = 'pending'", [department])
        return len(cur.execute("delete from dispatch_webhooks where department = ? returning department",
                               [department]).fetchall())


def list_webhooks(store: Store) -> list[dict]:
    return gateway.query_rows(store, "webhooks_list", Scope.city())


def redeliver(store: Store, delivery_id: int) -> bool:
    """Put a failed or cancelled delivery back in the queue (attempt now, attempts continue counting)."""
    rows = store.execute_write(
        "update dispatch_webhook_deliveries set state = 'pending', next_attempt_at = $now "
        "where delivery_id = $id and state in ('failed', 'cancelled') returning delivery_id",
        {"now": utcnow(), "id": delivery_id},
    )
    return bool(rows)


# ---------------------------------------------------------------------------- the outbox


def enqueue(cur, event: dict) -> None:
    """Queue `event` for every concerned department with an enabled webhook, with the cursor of the
    command's transaction: the configuration read and the deliveries written are one snapshot, and
    the deliveries commit (or not) with the command. Due at once by the wall clock (a command's
    injected clock, as in tests of escalation, must not postpone real deliveries)."""
    departments = event.get("departments") or []
    if not departments:
        return
    sql, _ = gateway.load_sql("webhooks_enabled")
    enabled = [row[0] for row in cur.execute(sql, {"departments": list(departments)}).fetchall()]
    now = utcnow()
    rows = []
    for department in enabled:
        body = json.dumps({**event, "department": department}, ensure_ascii=False, separators=(",", ":"))
        rows.append([event["event_id"], event["type"], event["order_id"], department, body, now, now])
    if rows:
        cur.executemany(
            "insert into dispatch_webhook_deliveries (event_id, event_type, order_id, department, payload, state, "
            "attempts, next_attempt_at, created_at) values (?, ?, ?, ?, ?, 'pending', 0, ?, ?)",
            rows,
        )


# ---------------------------------------------------------------------------- the worker


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):  # a redirected POST would lose its body or signature
        return None


def post(url: str, body: bytes, headers: dict, timeout_s: float) -> tuple[int | None, str | None]:
    """(HTTP status or None, error text or None) of one POST; never raises."""
    opener = urllib.request.build_opener(_NoRedirect)
    request = urllib.request.Request(url, data=body, method="POST", headers=headers)
    try:
        with opener.open(request, timeout=timeout_s) as response:
            response.read(65536)
            return response.status, None
    except urllib.error.HTTPError as exc:
        return exc.code, f"HTTP {exc.code} {exc.reason}"
    except Exception as exc:  # refused, timeout, DNS, TLS...
        reason = getattr(exc, "reason", None) or exc
        return None, f"{type(exc).__name__}: {reason}"[:MAX_ERROR]


class WebhookWorker:
    """Sends due deliveries from the outbox; `wake()` (after a command) makes it look at once."""

    def __init__(self, store: Store, *, max_attempts: int = 8, backoff_s: float = 2.0, backoff_max_s: float = 600.0,
                 timeout_s: float = 5.0, idle_s: float = 5.0, clock=utcnow):
        self.store = store
        self.max_attempts = max(1, int(max_attempts))
        self.backoff_s, self.backoff_max_s = float(backoff_s), float(backoff_max_s)
        self.timeout_s, self.idle_s = float(timeout_s), float(idle_s)
        self.clock = clock
        self._wake = threading.Event()

    def wake(self, _event: dict | None = None) -> None:
        self._wake.set()

    def delay(self, attempt: int) -> float:
        """Seconds to wait after failed attempt number `attempt` (1-based)."""
        return min(self.backoff_s * 2 ** (attempt - 1), self.backoff_max_s)

    def run_once(self) -> int:
        """Attempt every delivery due now; returns how many were attempted."""
        done = 0
        while True:
            due = gateway.query_rows(self.store, "webhook_deliveries_due", Scope.city(), as_of=self.clock(), limit=BATCH)
            for row in due:
                self._attempt(row)
            done += len(due)
            if len(due) < BATCH:
                return done

    def _attempt(self, row: dict) -> None:
        body = row["payload"].encode()
        timestamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": "CityBrain-Webhook/1",
            "X-CityBrain-Event": row["event_type"],
            "X-CityBrain-Event-Id": row["event_id"],
            "X-CityBrain-Delivery": str(row["delivery_id"]),
            TIMESTAMP_HEADER: timestamp,
            SIGNATURE_HEADER: sign(row["secret"], timestamp, body),
        }
        started = time.perf_counter()
        status, error = post(row["url"], body, headers, self.timeout_s)
        duration_ms = (time.perf_counter() - started) * 1000
        attempt = row["attempts"] + 1
        now = self.clock()
        ok = status is not None and 200 <= status < 300
        if ok:
            state, next_at = "delivered", now
        elif attempt >= self.max_attempts:
            state, next_at = "failed", now
        else:
            state, next_at = "pending", now + dt.timedelta(seconds=self.delay(attempt))
        with self.store.write_transaction() as cur:
            cur.execute("insert into dispatch_webhook_attempts values (?, ?, ?, ?, ?, ?, ?)",
                        [row["delivery_id"], attempt, now, row["url"], status, error, duration_ms])
            cur.execute(
                "update dispatch_webhook_deliveries set attempts = $attempt, state = $state, next_attempt_at = $next, "
                "last_status = $status, last_error = $error, delivered_at = $delivered "
                "where delivery_id = $id and state = 'pending'",
                {"attempt": attempt, "state": state, "next": next_at, "status": status, "error": error,
                 "delivered": now if ok else None, "id": row["delivery_id"]},
            )
        if not ok:
            log.warning("webhook %s delivery %s attempt %d: %s (%s)", row["department"], row["delivery_id"], attempt,
                        error, state)

    def _wait_s(self) -> float:
        rows = gateway.query_rows(self.store, "webhook_next_due", Scope.city())
        next_at = rows[0]["next_attempt_at"] if rows else None
        if next_at is None:
            return self.idle_s
        return max(0.0, min(self.idle_s, (next_at - self.clock()).total_seconds()))

    def run(self, stop: threading.Event) -> None:
        """Deliver until `stop` is set; errors are logged and retried, never raised."""
        while not stop.is_set():
            self._wake.clear()
            try:
                self.run_once()
                wait = self._wait_s()
            except Exception:
                log.exception("webhook delivery round failed")
                wait = self.idle_s
            if wait > 0:
                self._wake.wait(wait)
            if stop.is_set():
                return


# ---------------------------------------------------------------------------- the delivery log

MAX_LIMIT = 1000


def delivery_log(store: Store, scope: Scope, *, department: str = "", state: str = "", since: dt.datetime | None = None,
                 limit: int = 100, cursor: str = "") -> dict:
    """`{"rows": [delivery + its "attempts"], "next": cursor | None}`, newest first; a department
    scope sees its own department only."""
    if state and state not in ("pending", "delivered", "failed", "cancelled"):
        raise ValueError(f"unknown delivery state {state!r} (pending, delivered, failed, cancelled)")
    if not 1 <= limit <= MAX_LIMIT:
        raise ValueError(f"limit must be 1..{MAX_LIMIT}")
    try:
        after = int(cursor) if cursor else 0
    except ValueError:
        raise ValueError("bad cursor") from None
    rows = gateway.query_rows(store, "webhook_deliveries_list", scope, department=department, state=state,
                              since=since, after_delivery_id=after, limit=limit + 1)
    more = len(rows) > limit
    rows = rows[:limit]
    attempts: dict[int, list[dict]] = {}
    if rows:
        for a in gateway.query_rows(store, "webhook_attempts", scope, delivery_ids=[r["delivery_id"] for r in rows]):
            attempts.setdefault(a.pop("delivery_id"), []).append(a)
    out = []
    for row in rows:
        row["attempts_log"] = attempts.get(row["delivery_id"], [])
        out.append(_jsonable(row))
    return {"rows": out, "next": str(rows[-1]["delivery_id"]) if more else None}


def _jsonable(value):
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    return iso(value) if isinstance(value, dt.datetime) else value
