"""How dispatch writes a time: naive UTC to ISO 8601 with a `Z`, to the second (orders, events,
webhook payloads, lists and metrics all answer in this one shape)."""
from __future__ import annotations

import datetime as dt


def iso(value: dt.datetime | None) -> str | None:
    return None if value is None else value.replace(microsecond=0).isoformat() + "Z"
