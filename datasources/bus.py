"""The feed bus: producers publish canonical records, the one writer consumes them into the store.

    bus = make_bus(settings)                       # Redis Streams if REDIS_URL, else in-process
    bus.publish("sensors", [{"device_id": ..., "observed_at": ..., "metric": "pm25", "value": 31}])
    bus.consume(store, pack, stop_event)           # in the writer: runs until stop_event is set

Both implementations batch the same way and apply through `apply_entries` -> `ingest_frame`, so
the embedded default runs the code path production runs.

Redis layout: one stream per feed (`citybrain:feed:<feed>`), consumer group `citybrain-writer`.
One stream entry carries MANY records (field `records`, a JSON array): Python pays ~75 us per
stream message, so one record per message caps a feed near 13k records/s. The consumer
XACKs only after `ingest_frame` returned (the DuckDB commit is done): at-least-once delivery plus
an idempotent apply gives an exactly-once effect. Entries a crashed consumer left pending are
reclaimed with XAUTOCLAIM at start and periodically. Malformed entries are quarantined (raw +
reason) and acknowledged, never retried forever and never dropped silently.
"""
from __future__ import annotations

import json
import logging
import os
import queue
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

import pandas as pd
import pyarrow as pa

from datasources.errors import StorageUnavailable, WriterUnavailable
from datasources.ingest import FEEDS, frame_of_records, ingest_frame

log = logging.getLogger(__name__)

STREAM_PREFIX = "citybrain:feed:"
GROUP = "citybrain-writer"
FIELD = b"records"
MAX_RECORDS_PER_ENTRY = 10_000  # bounds one entry's size; publish splits longer lists


@dataclass
class Entry:
    """One bus message: `records` for a known feed, or `reason` why it is malformed (then `raw` is kept)."""

    feed: str
    records: list[dict] | None
    raw: str | None = None
    reason: str | None = None


def _dumps(records: list[dict]) -> str:
    # default=str: datetimes and decimals travel as text, which ingest parses like any file value.
    return json.dumps(records, default=str, ensure_ascii=False, separators=(",", ":"))


def _check_publish(feed: str, records) -> list[dict]:
    if feed not in FEEDS:
        raise ValueError(f"unknown feed {feed!r}; feeds are {', '.join(FEEDS)}")
    records = list(records)
    if not all(isinstance(r, dict) for r in records):
        raise TypeError("records must be dicts")
    return records


def parse_payload(feed: str, payload: bytes | str | None) -> Entry:
    """Decode one entry's JSON array; malformed payloads become an Entry with a reason."""
    raw = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else payload
    if feed not in FEEDS:
        return Entry(feed, None, raw or "", f"unknown feed {feed!r}")
    if payload is None:
        return Entry(feed, None, "", "entry has no 'records' field")
    try:
        records = json.loads(payload)
    except (ValueError, UnicodeDecodeError) as exc:
        return Entry(feed, None, raw, f"bad JSON: {exc}")
    if not isinstance(records, list):
        return Entry(feed, None, raw, "'records' is not a JSON array")
    return Entry(feed, records)


def apply_entries(store, pack, entries: Iterable[Entry], origin: str) -> Counter:
    """Apply entries grouped per feed (one DataFrame, one ingest_frame call, one commit per feed).

    Returns counts: records, quarantined (records and entries the store quarantined), entries.
    Raises only when the store itself fails; the caller must then not acknowledge.
    """
    stats: Counter = Counter()
    by_feed: dict[str, list[list[dict]]] = {}
    bad: list[tuple[str, str, str]] = []  # (feed, raw, reason)
    for entry in entries:
        stats["entries"] += 1
        if entry.records is None:
            bad.append((entry.feed, entry.raw or "", entry.reason or "malformed entry"))
            continue
        records = [r for r in entry.records if isinstance(r, dict)]
        if len(records) != len(entry.records):
            bad.extend((entry.feed, json.dumps(r, default=str, ensure_ascii=False), "record is not a JSON object")
                       for r in entry.records if not isinstance(r, dict))
        if records:
            by_feed.setdefault(entry.feed, []).append(records)
    for feed, chunks in by_feed.items():
        stats += _ingest_isolating(store, pack, feed, [r for chunk in chunks for r in chunk], origin, bad)
    for feed, raw, reason in bad:
        store.apply(feed if feed in FEEDS else "unknown", "cases", None, [(raw, reason)], origin=origin)
        stats["quarantined"] += 1
    return stats


def _ingest_isolating(store, pack, feed: str, records: list[dict], origin: str, bad: list) -> Counter:
    """Apply records; when validation itself fails (a bug, not a bad record: those are quarantined
    with their reason by ingest_frame), halve and retry so that only the records that make it fail
    go to quarantine (added to `bad`), each on its own: one poisonous record must not take the
    other records of its batch or entry with it. Store failures propagate (nothing is acknowledged)."""
    try:
        return _ingest(store, pack, feed, records, origin)
    except Exception as exc:
        if not _is_data_error(exc):
            raise
        if len(records) == 1:
            bad.append((feed, _dumps(records), f"ingest failed: {type(exc).__name__}: {exc}"))
            return Counter(records=1)
        log.warning("batch of %d %s records failed (%s); retrying in halves", len(records), feed, exc)
        half = len(records) // 2
        return (_ingest_isolating(store, pack, feed, records[:half], origin, bad)
                + _ingest_isolating(store, pack, feed, records[half:], origin, bad))


def _ingest(store, pack, feed: str, records: list[dict], origin: str) -> Counter:
    report = ingest_frame(store, pack, feed, _frame(records), origin=origin)
    return Counter(records=len(records), quarantined=report.result.quarantined)


def _frame(records: list[dict]) -> pd.DataFrame:
    """Records as a DataFrame; Arrow's builder is ~30% faster than pandas' for uniform records."""
    keys = records[0].keys() if records else {}
    # from_pylist takes its columns from the first record: only safe when all share its fields.
    if not all(r.keys() == keys for r in records):
        return frame_of_records(records)
    try:
        table = pa.Table.from_pylist(records)
    except (pa.ArrowException, TypeError, ValueError, OverflowError):  # mixed types in a field
        return frame_of_records(records)
    if any(pa.types.is_nested(column.type) for column in table.schema):  # objects or arrays where scalars belong
        return frame_of_records(records)
    return table.to_pandas()


def _is_data_error(exc: Exception) -> bool:
    """Errors caused by the records (quarantine them) rather than by the store (stop, do not ack)."""
    import duckdb

    return not isinstance(exc, (duckdb.IOException, duckdb.FatalException, duckdb.InternalException,
                                duckdb.ConnectionException, MemoryError, OSError, WriterUnavailable))


class FeedBus:
    """publish(feed, records) on the producer side; consume(store, pack, stop) in the one writer."""

    origin = "bus"

    def __init__(self) -> None:
        self.stats: Counter = Counter()  # entries, records, quarantined: what consume applied

    def publish(self, feed: str, records: list[dict]) -> None:
        raise NotImplementedError

    def consume(self, store, pack, stop: threading.Event, batch_entries: int = 100, block_ms: int = 1000) -> None:
        raise NotImplementedError

    def close(self) -> None:
        pass


class InProcessBus(FeedBus):
    """The embedded default: a thread-safe queue between producers and the writer thread."""

    origin = "bus"

    def __init__(self, maxsize: int = 0):
        super().__init__()
        self._queue: queue.Queue[Entry] = queue.Queue(maxsize)

    def publish(self, feed: str, records: list[dict]) -> None:
        records = _check_publish(feed, records)
        for start in range(0, len(records), MAX_RECORDS_PER_ENTRY):
            self._queue.put(Entry(feed, records[start : start + MAX_RECORDS_PER_ENTRY]))

    def consume(self, store, pack, stop: threading.Event, batch_entries: int = 100, block_ms: int = 1000) -> None:
        while not stop.is_set():
            try:
                entries = [self._queue.get(timeout=block_ms / 1000)]
            except queue.Empty:
                continue
            while len(entries) < batch_entries:
                try:
                    entries.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            while True:  # a full disk: the entries wait here (in memory) until the store takes them
                try:
                    self.stats += apply_entries(store, pack, entries, self.origin)
                    break
                except StorageUnavailable as exc:
                    log.warning("%s; %d entries wait", exc, len(entries))
                    if stop.wait(exc.retry_after_s / 2):
                        return

    def pending(self) -> int:
        return self._queue.qsize()


class RedisStreamBus(FeedBus):
    """Redis Streams, one per feed, read by the consumer group of the one writer."""

    origin = "redis"

    def __init__(self, url: str, *, prefix: str = STREAM_PREFIX, group: str = GROUP, consumer: str | None = None,
                 claim_idle_ms: int = 10_000, reclaim_every_s: float = 5.0):
        import redis

        super().__init__()
        self.url, self.prefix, self.group = url, prefix, group
        self.consumer = consumer or f"writer-{socket.gethostname()}-{os.getpid()}"
        self.claim_idle_ms = claim_idle_ms
        self.reclaim_every_s = reclaim_every_s
        # No socket timeout: XREADGROUP blocks on purpose; a dead server resets the connection.
        self.client = redis.Redis.from_url(url, socket_connect_timeout=5, socket_keepalive=True)
        self._streams: set[bytes] = {self.stream(feed) for feed in FEEDS}
        self._unacked: dict[bytes, list[bytes]] = {}  # committed to DuckDB, XACK not confirmed yet

    def stream(self, feed: str) -> bytes:
        return (self.prefix + feed).encode()

    def feed_of(self, stream: bytes | str) -> str:
        name = stream.decode() if isinstance(stream, bytes) else stream
        return name[len(self.prefix):]

    # ------------------------------------------------------------------ producer
    def publish(self, feed: str, records: list[dict]) -> list[bytes]:
        """Put records on the feed's stream, up to MAX_RECORDS_PER_ENTRY per entry; returns entry ids.

        Raises redis.ConnectionError when Redis is unreachable; publishing the same records again is
        harmless (the writer applies idempotently by key).
        """
        records = _check_publish(feed, records)
        stream = self.stream(feed)
        chunks = [records[i : i + MAX_RECORDS_PER_ENTRY] for i in range(0, len(records), MAX_RECORDS_PER_ENTRY)]
        if len(chunks) == 1:
            return [self.client.xadd(stream, {FIELD: _dumps(chunks[0])})]
        pipe = self.client.pipeline(transaction=False)
        for chunk in chunks:
            pipe.xadd(stream, {FIELD: _dumps(chunk)})
        return pipe.execute()

    # ------------------------------------------------------------------ consumer
    def consume(self, store, pack, stop: threading.Event, batch_entries: int = 100, block_ms: int = 1000) -> None:
        """Apply entries until `stop` is set; survives Redis restarts (retries with backoff)."""
        import redis

        ready = False
        last_reclaim = 0.0
        backoff = 0.1
        log.info("consuming %s* as %s/%s", self.prefix, self.group, self.consumer)
        while not stop.is_set():
            try:
                if not ready:
                    self._setup()
                    ready = True
                self._flush_acks()
                if time.monotonic() - last_reclaim >= self.reclaim_every_s:
                    self._discover()
                    self.reclaim(store, pack, batch_entries)
                    self.trim()
                    last_reclaim = time.monotonic()
                response = self.client.xreadgroup(self.group, self.consumer, {s: ">" for s in sorted(self._streams)},
                                                  count=batch_entries, block=block_ms)
                if response:
                    self._handle(store, pack, [(s, msgs) for s, msgs in response])
                backoff = 0.1
            except (redis.ConnectionError, redis.TimeoutError) as exc:
                # BusyLoadingError (AOF replay after a restart) is a ConnectionError too.
                log.warning("redis unavailable (%s); retrying in %.1f s", exc, backoff)
                ready = False
                stop.wait(backoff)
                backoff = min(backoff * 2, 2.0)
            except redis.ResponseError as exc:
                if "NOGROUP" not in str(exc):  # a stream deleted under us: set up again
                    raise
                ready = False
            except StorageUnavailable as exc:  # disk full: nothing acknowledged, the entries wait in Redis
                log.warning("%s; consuming again in %.0f s", exc, exc.retry_after_s / 2)
                stop.wait(exc.retry_after_s / 2)

    def _setup(self) -> None:
        self._discover()
        for stream in self._streams:
            self._ensure_group(stream)

    def _ensure_group(self, stream: bytes) -> None:
        import redis

        try:
            # From the start of the stream: records published before the writer first ran count too.
            self.client.xgroup_create(stream, self.group, id="0", mkstream=True)
        except redis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    def _discover(self) -> None:
        """Streams under the prefix that are not known feeds get consumed too (and quarantined)."""
        for key in self.client.scan_iter(match=self.prefix + "*", count=1000, _type="STREAM"):
            if key not in self._streams:
                self._streams.add(key)
                self._ensure_group(key)

    def _handle(self, store, pack, response: list[tuple[bytes, list]]) -> None:
        entries, ids = [], {}
        for stream, messages in response:
            feed = self.feed_of(stream)
            for entry_id, fields in messages:
                if entry_id is None:  # deleted while pending
                    continue
                entries.append(parse_payload(feed, (fields or {}).get(FIELD)))
                ids.setdefault(stream, []).append(entry_id)
        if entries:
            self.stats += apply_entries(store, pack, entries, self.origin)
        # Only now, after the commit, may the entries leave the pending list.
        for stream, entry_ids in ids.items():
            self._unacked.setdefault(stream, []).extend(entry_ids)
        self._flush_acks()

    def _flush_acks(self) -> None:
        if not self._unacked:
            return
        pipe = self.client.pipeline(transaction=False)
        for stream, entry_ids in self._unacked.items():
            pipe.xack(stream, self.group, *entry_ids)
        pipe.execute()
        self._unacked.clear()

    def reclaim(self, store, pack, batch_entries: int = 100, min_idle_ms: int | None = None) -> int:
        """Take over and apply entries idle in the pending list longer than min_idle_ms (a crashed consumer's)."""
        min_idle_ms = self.claim_idle_ms if min_idle_ms is None else min_idle_ms
        claimed = 0
        for stream in sorted(self._streams):
            start = b"0-0"
            while True:
                reply = self.client.xautoclaim(stream, self.group, self.consumer, min_idle_ms, start, count=batch_entries)
                start, messages = reply[0], reply[1]
                if messages:
                    claimed += len(messages)
                    self._handle(store, pack, [(stream, messages)])
                if start in (b"0-0", "0-0"):
                    break
        if claimed:
            log.info("reclaimed %d pending entries", claimed)
        return claimed

    def trim(self) -> None:
        """Drop entries every group has acknowledged (XTRIM MINID), so streams do not grow forever."""
        for stream in list(self._streams):
            groups = self.client.xinfo_groups(stream)
            if not groups:
                continue
            floor = []
            for info in groups:
                if info["pending"]:
                    floor.append(self.client.xpending(stream, info["name"])["min"])
                else:
                    floor.append(info["last-delivered-id"])
            minid = min(floor, key=_id_key)
            if minid not in (b"0-0", "0-0"):
                # Approximate trimming removes whole nodes only, never more than asked.
                self.client.xtrim(stream, minid=minid, approximate=True)

    def backlog(self) -> int:
        """Entries not yet acknowledged (pending plus never delivered), over all streams; for tests and ops."""
        total = 0
        streams = {self.stream(feed) for feed in FEEDS}
        streams.update(self.client.scan_iter(match=self.prefix + "*", count=1000, _type="STREAM"))
        for stream in streams:
            if not self.client.exists(stream):
                continue
            info = self.client.xinfo_stream(stream)
            groups = [g for g in self.client.xinfo_groups(stream) if g["name"] == self.group.encode()]
            if not groups:  # the writer never ran on this stream: everything waits
                total += info["length"]
            for group in groups:
                total += group["pending"]
                if _id_key(group["last-delivered-id"]) < _id_key(info["last-generated-id"]):
                    total += group.get("lag") or 1  # lag is null after deletions; 1 still says "not done"
        return total

    def close(self) -> None:
        self.client.close()


def _id_key(entry_id: bytes | str) -> tuple[int, int]:
    text = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
    ms, _, seq = text.partition("-")
    return int(ms), int(seq or 0)


def make_bus(settings_or_url=None, **options) -> FeedBus:
    """RedisStreamBus when a Redis URL is given (a string or settings.redis_url), else InProcessBus."""
    url = settings_or_url if isinstance(settings_or_url, str) or settings_or_url is None else settings_or_url.redis_url
    return RedisStreamBus(url, **options) if url else InProcessBus(**options)
