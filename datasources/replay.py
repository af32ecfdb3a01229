"""Replay a real file through the live path at N x speed, so the wall shows real data moving.

    python app.py simulate --replay pm25_hourly.parquet --mapping mappings/nyc_pm25.toml \
        --feed sensors --speed 60 --city citypacks/nyc

Records are mapped to canonical form here, then published in time order to the feed bus (Redis
Streams when REDIS_URL is set) or pushed to a running console's HTTP API (--push-url, --token);
validation and location happen in the writer, as for any live feed. By default times are
re-timed onto the wall clock (t' = start + (t - t0) / speed) so feeds look live; --keep-times
publishes the original times (in UTC).
"""
from __future__ import annotations

import datetime as dt
import json
import logging
import threading
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from datasources.citypack import CityPack
from datasources.ingest import CANONICAL, read_file, parse_times
from datasources.mapping import Mapping

log = logging.getLogger(__name__)

ORDER_COLUMN = {"cases": "reported_at", "sensors": "observed_at", "services": "ticket_at", "devices": None, "halls": None}
TIME_COLUMNS = ("reported_at", "due_at", "closed_at", "observed_at", "ticket_at", "called_at", "done_at")
PUSH_PATHS = {"cases": "cases", "sensors": "sensor-readings", "services": "service-transactions"}


def load_replay(path: Path, feed: str, mapping: Mapping, pack: CityPack) -> pd.DataFrame:
    """Canonical records of `path`, times as naive UTC, sorted by the feed's time column."""
    frame = mapping.prepare(read_file(path)).reset_index(drop=True)
    canonical = mapping.apply(frame, CANONICAL[feed])
    tz = mapping.timezone or pack.timezone
    for column in TIME_COLUMNS:
        if column in canonical:
            parsed, _bad = parse_times(canonical[column], mapping.formats.get(column), tz)
            # unparseable times stay as given, so the writer quarantines them with their reason
            canonical[column] = parsed.astype(object).where(parsed.notna(), canonical[column])
    order = ORDER_COLUMN.get(feed)
    if feed == "services" and "ticket_at" not in canonical:
        order = "observed_at"
    if order and order in canonical:
        key = pd.to_datetime(canonical[order], errors="coerce")
        canonical = canonical.assign(_order=key).sort_values("_order", kind="stable", na_position="first")
    else:
        canonical = canonical.assign(_order=pd.NaT)
    return canonical.reset_index(drop=True)


def _records(chunk: pd.DataFrame, shift: Callable[[pd.Timestamp], pd.Timestamp] | None) -> list[dict]:
    chunk = chunk.drop(columns="_order")
    for column in TIME_COLUMNS:
        if column in chunk:
            values = pd.to_datetime(chunk[column], errors="coerce")
            if shift is not None:
                values = values.map(lambda t: shift(t) if pd.notna(t) else t)
            as_text = values.map(lambda t: t.strftime("%Y-%m-%dT%H:%M:%S.%fZ") if pd.notna(t) else None)
            chunk[column] = as_text.where(values.notna(), chunk[column].astype(object))
    chunk = chunk.astype(object).where(chunk.notna(), None)
    return [{k: (v.item() if isinstance(v, np.generic) else v) for k, v in row.items()} for row in chunk.to_dict("records")]


def replay(frame: pd.DataFrame, feed: str, publish: Callable[[str, list[dict]], None], speed: float = 60.0,
           retime: bool = True, stop: threading.Event | None = None, clock=time.monotonic, sleep=time.sleep,
           now: Callable[[], dt.datetime] | None = None, chunk_records: int = 5000) -> int:
    """Publish `frame` (from load_replay) in time order at `speed` x; returns records published."""
    if speed <= 0:
        raise ValueError("speed must be positive")
    now = now or (lambda: dt.datetime.now(dt.UTC).replace(tzinfo=None))
    order = frame["_order"]
    t0 = order.dropna().min() if order.notna().any() else None
    wall0, clock0 = pd.Timestamp(now()), clock()
    shift = None
    if retime and t0 is not None:
        shift = lambda t: wall0 + (t - t0) / speed  # noqa: E731
    published = 0
    start = 0
    # records without a time (or a feed without one) go first, at once
    untimed = int(order.isna().sum())
    if untimed:
        publish(feed, _records(frame.iloc[:untimed], shift))
        published += untimed
        start = untimed
    offsets = ((order.iloc[start:] - t0).dt.total_seconds() / speed).to_numpy() if t0 is not None else np.array([])
    i = 0
    while i < len(offsets):
        if stop is not None and stop.is_set():
            break
        elapsed = clock() - clock0
        due = int(np.searchsorted(offsets, elapsed, side="right"))
        if due <= i:
            sleep(min(max(offsets[i] - elapsed, 0.01), 1.0))
            continue
        for lo in range(i, due, chunk_records):
            hi = min(due, lo + chunk_records)
            publish(feed, _records(frame.iloc[start + lo : start + hi], shift))
            published += hi - lo
        i = due
    return published


def http_publisher(base_url: str, token: str, timeout: float = 30.0) -> Callable[[str, list[dict]], None]:
    """Push to a running console's API (POST /api/v1/...), for replays without Redis."""

    def publish(feed: str, records: list[dict]) -> None:
        path = PUSH_PATHS.get(feed)
        if path is None:
            raise ValueError(f"feed {feed} has no push endpoint")
        request = urllib.request.Request(
            f"{base_url.rstrip('/')}/api/v1/{path}", data=json.dumps(records, default=str).encode(), method="POST",
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                log.info("pushed %d %s: %s", len(records), feed, response.read()[:200])
        except urllib.error.HTTPError as exc:  # 422 = all rejected: reported, the replay goes on
            log.warning("push of %d %s answered %s: %s", len(records), feed, exc.code, exc.read()[:300])

    return publish
