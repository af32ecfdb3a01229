"""Listing cases for a caller: scope, filters, keyset pages, and audited reveal of personal data."""
from __future__ import annotations

import base64
import datetime as dt
import json

from datasources import gateway
from datasources.citypack import CityPack
from datasources.ingest import STATUSES
from datasources.store import Store
from security.scope import Scope
from security.users import audit

PII_ROLES = frozenset({"commander", "admin"})  # may reveal reporters' names and phones, audited
MAX_LIMIT = 1000


class CaseQueryError(ValueError):
    pass


def _cursor(row: dict) -> str:
    raw = json.dumps([row["reported_at"].isoformat(), row["case_id"]]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[dt.datetime, str]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        reported, case_id = json.loads(base64.urlsafe_b64decode(padded))
        return dt.datetime.fromisoformat(reported), str(case_id)
    except Exception:
        raise CaseQueryError("bad cursor") from None


def list_cases(store: Store, pack: CityPack, scope: Scope, *, actor: str, role: str, unit: str = "", status: str = "",
               limit: int = 100, cursor: str = "", reveal: bool = False, reason: str = "", origin: str = "api") -> dict:
    """`{"rows": [...canonical case fields + unit.<level>], "next": cursor | None}` for the caller.

    `unit` is LEVEL:ID; `status` is open, closed or a workflow status. Revealing personal data
    needs a role in PII_ROLES and a reason, and writes an audit row naming the cases shown.
    """
    unit_level, unit_id = 0, ""
    if unit:
        level_id, _, unit_id = unit.partition(":")
        try:
            unit_level = pack.level(level_id).index
        except KeyError:
            raise CaseQueryError(f"unknown level {level_id!r}") from None
    if status and status not in ("open", "closed", *STATUSES):
        raise CaseQueryError(f"unknown status {status!r}")
    if not 1 <= limit <= MAX_LIMIT:
        raise CaseQueryError(f"limit must be 1..{MAX_LIMIT}")
    if reveal:
        if role not in PII_ROLES:
            raise PermissionError(f"role {role} may not reveal personal data")
        if not reason.strip():
            raise CaseQueryError("revealing personal data needs a reason")
        scope = Scope(scope.level_index, scope.unit_ids, scope.department, may_see_pii=True)
    after_reported, after_id = _decode_cursor(cursor) if cursor else (None, "")
    rows = gateway.query_rows(
        store, "cases_list", scope, unit_level=unit_level, unit_id=unit_id, status=status,
        after_reported=after_reported, after_id=after_id, limit=limit + 1,
    )
    more = len(rows) > limit
    rows = rows[:limit]
    if reveal and rows:
        audit(store, actor, role, "reveal_pii", target=",".join(r["case_id"] for r in rows), detail=reason, origin=origin)
    out = []
    for row in rows:
        units = row.pop("unit_ids") or []
        record = {k: (v.isoformat() + "Z" if isinstance(v, dt.datetime) else v) for k, v in row.items()}
        for level, value in zip(pack.levels, units):
            record[f"unit.{level.id}"] = value
        out.append(record)
    return {"rows": out, "next": _cursor(rows[-1]) if more else None}
