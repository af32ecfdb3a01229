"""Listing dispatch orders for a caller: scope, filters and keyset pages (GET /api/v1/dispatch-orders).

    page = list_orders(store, scope, state="open", department="chengguan", since=None, limit=100)
    page = list_orders(store, scope, cursor=page["next"])          # the next page, same filters
"""
from __future__ import annotations

import base64
import datetime as dt
import json

from datasources import gateway
from dispatch.isotime import iso
from dispatch.states import ORDER_STATES
from security.scope import Scope

MAX_LIMIT = 1000


class ListError(ValueError):
    """A bad filter, limit or cursor (answered with 400)."""


def _cursor(row: dict) -> str:
    raw = json.dumps([row["created_at"].isoformat(), row["order_id"]]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode(cursor: str) -> tuple[dt.datetime, str]:
    try:
        created, order_id = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        return dt.datetime.fromisoformat(created), str(order_id)
    except Exception:
        raise ListError("bad cursor") from None


def list_orders(store, scope: Scope, *, state: str = "", department: str = "", since: dt.datetime | None = None,
                limit: int = 100, cursor: str = "") -> dict:
    """`{"rows": [order summaries with their tasks], "next": cursor | None}`, newest first.

    `state`: open (not verified/closed/cancelled) or an order state; `department`: orders with a
    task for it; `since`: changed at or after (naive UTC).
    """
    if state and state not in ("open", *ORDER_STATES):
        raise ListError(f"unknown state {state!r} (open, {', '.join(ORDER_STATES)})")
    if not 1 <= limit <= MAX_LIMIT:
        raise ListError(f"limit must be 1..{MAX_LIMIT}")
    after_created, after_id = _decode(cursor) if cursor else (None, "")
    rows = gateway.query_rows(store, "dispatch_orders_list", scope, state=state, department=department, since=since,
                              after_created=after_created, after_order_id=after_id, limit=limit + 1)
    more = len(rows) > limit
    rows = rows[:limit]
    out = []
    for row in rows:
        out.append({
            "id": row["order_id"], "version": row["version"], "state": row["state"], "title": row["title"],
            "priority": row["priority"], "lead_department": row["lead_department"], "created_by": row["created_by"],
            "created_at": iso(row["created_at"]), "updated_at": iso(row["updated_at"]), "due_at": iso(row["due_at"]),
            "verified_at": iso(row["verified_at"]), "closed_at": iso(row["closed_at"]),
            "cancelled_at": iso(row["cancelled_at"]), "case_count": row["case_count"],
            "tasks": [{**t, "due_at": iso(t["due_at"])} for t in (row["tasks"] or [])],
        })
    return {"rows": out, "next": _cursor(rows[-1]) if more else None}
