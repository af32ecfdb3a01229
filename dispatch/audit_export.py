"""The audit trail as CSV (GET /api/v1/audit?format=csv, `python app.py audit export`).

    for chunk in audit_csv(store, since):     # header first, then rows oldest first, in pages
        out.write(chunk)

Cells that a spreadsheet would run as a formula (starting with = + - @, tab or CR) get a leading
apostrophe, so an actor name or a note typed by a user cannot execute when the file is opened.
"""
from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterator

from dispatch.service import audit_rows

COLUMNS = ("audit_id", "at_utc", "actor", "role", "action", "target", "detail", "origin")
PAGE = 5000


def _cell(value) -> str:
    text = "" if value is None else str(value)
    if text and text[0] in "=+-@\t\r":
        return "'" + text
    return text


def audit_csv(store, since: dt.datetime, page: int = PAGE) -> Iterator[str]:
    """CSV text of every audit row from `since` on, in chunks of one page (streamable)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    yield buffer.getvalue()
    after = 0
    while True:
        rows = audit_rows(store, since, after, page)
        if not rows:
            return
        buffer.seek(0)
        buffer.truncate()
        for row in rows:
            writer.writerow([_cell(row[c]) for c in COLUMNS])
        yield buffer.getvalue()
        after = rows[-1]["audit_id"]
        if len(rows) < page:
            return
