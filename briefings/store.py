"""Stored briefings (table `briefings`, migration 008): the snapshot, its HTML and its PDF.

A stored briefing never changes: `regenerate` re-renders the stored snapshot and returns the
same PDF bytes as when it was frozen (tests/app/test_briefings.py checks byte equality).
"""
from __future__ import annotations

import json

from datasources import gateway
from security.scope import Scope

from briefings.build import Brief
from briefings.render import render_html, render_pdf


def freeze(store, brief: Brief, html: str | None = None, pdf: bytes | None = None) -> tuple[int, bytes]:
    """Render (unless given) and store a brief; returns (briefing id, PDF bytes)."""
    html = html if html is not None else render_html(brief.snapshot)
    pdf = pdf if pdf is not None else render_pdf(brief.snapshot, html)
    rows = store.execute_write(
        'insert into briefings (template, scope, "start", "end", lang, created_at, snapshot, html, pdf) '
        "values (?, ?, ?, ?, ?, ?, ?, ?, ?) returning id",
        [brief.template, brief.scope, brief.start, brief.end, brief.lang, brief.created_at,
         json.dumps(brief.snapshot, ensure_ascii=False, sort_keys=True), html, pdf],
    )
    return rows[0][0], pdf


def load_briefing(store, briefing_id: int) -> dict | None:
    """A stored briefing: id, template, scope, start, end, lang, created_at, snapshot (dict), html, pdf."""
    rows = gateway.query_rows(store, "briefing_by_id", Scope.city(), briefing_id=briefing_id)
    if not rows:
        return None
    row = rows[0]
    row["snapshot"] = json.loads(row["snapshot"])
    return row


def list_briefings(store, limit: int = 100) -> list[dict]:
    return gateway.query_rows(store, "briefings_list", Scope.city(), limit=limit)


def regenerate(store, briefing_id: int) -> bytes:
    """The PDF re-rendered from the stored snapshot (identical to the stored PDF)."""
    row = load_briefing(store, briefing_id)
    if row is None:
        raise KeyError(f"no briefing {briefing_id}")
    return render_pdf(row["snapshot"])
