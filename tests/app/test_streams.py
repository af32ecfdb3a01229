"""Feeds through Redis Streams and the in-process bus: batching, crashes, restarts, bad entries.

Real redis-server and DuckDB throughout. Each test uses its own Redis database number so that a
console served from the session Redis (database 0, its own consumer) never reads these streams.
"""
from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
from contextlib import contextmanager

import pytest
import redis

from datasources.bus import FIELD, InProcessBus, RedisStreamBus, make_bus
from datasources.runtime import sync_pack
from datasources.store import Store
from tests.conftest import BEIJING, ROOT, free_port


def cases(prefix: str, start: int, n: int) -> list[dict]:
    """n valid Beijing cases with ids prefix-start .. prefix-(start+n-1)."""
    return [
        {"case_id": f"{prefix}-{i}", "reported_at": "2025-06-01T08:00:00+08:00", "category": "noise",
         "lat": 39.90 + (i % 90) * 0.001, "lon": 116.40 + (i % 70) * 0.001, "description": f"case {i}"}
        for i in range(start, start + n)
    ]


def db_url(server_url: str, db: int) -> str:
    return server_url.rsplit("/", 1)[0] + f"/{db}"


def wait_for(predicate, timeout: float, what: str, interval: float = 0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def case_counts(store) -> tuple[int, int]:
    return store.cursor().execute("select count(*), count(distinct case_id) from cases").fetchall()[0]


@contextmanager
def consuming(bus, store, pack, **options):
    """The bus's consumer in a thread for the duration of the block; re-raises its failure."""
    stop = threading.Event()
    failure = []

    def run():
        try:
            bus.consume(store, pack, stop, **options)
        except BaseException as exc:  # surfaced in the test thread below
            failure.append(exc)

    thread = threading.Thread(target=run, name="test-consumer", daemon=True)
    thread.start()
    try:
        yield thread
    finally:
        stop.set()
        thread.join(timeout=15)
    assert not thread.is_alive(), "consumer did not stop"
    if failure:
        raise failure[0]


@pytest.fixture
def flushed(redis_server):
    """A factory of clean Redis databases on the session server: url for database `db`, flushed."""
    def make(db: int) -> str:
        url = db_url(redis_server, db)
        redis.Redis.from_url(url).flushdb()
        return url
    return make


# ---------------------------------------------------------------------------- Redis Streams


def test_many_records_per_entry_all_applied_once(flushed, store, beijing):
    url = flushed(1)
    sync_pack(store, beijing)
    bus = RedisStreamBus(url, claim_idle_ms=0)
    for start in range(0, 6000, 500):
        bus.publish("cases", cases("m", start, 500))
    client = redis.Redis.from_url(url)
    assert client.xlen(bus.stream("cases")) == 12  # 500 records per entry, not one per record
    with consuming(bus, store, beijing, batch_entries=5, block_ms=200):
        wait_for(lambda: bus.backlog() == 0 and case_counts(store)[0] == 6000, 60, "6000 cases applied")
    assert case_counts(store) == (6000, 6000)
    assert bus.stats["records"] == 6000 and bus.stats["entries"] == 12
    assert client.xpending(bus.stream("cases"), bus.group)["pending"] == 0  # acknowledged after the commit
    # A replay of the same records (a redelivery) changes nothing, not even the data version.
    version = store.data_version
    bus.publish("cases", cases("m", 0, 500))
    with consuming(bus, store, beijing, block_ms=200):
        wait_for(lambda: bus.backlog() == 0, 30, "replay consumed")
    assert case_counts(store) == (6000, 6000) and store.data_version == version


def test_malformed_entries_are_quarantined_and_acknowledged(flushed, store, beijing):
    url = flushed(3)
    sync_pack(store, beijing)
    client = redis.Redis.from_url(url)
    bus = RedisStreamBus(url, claim_idle_ms=0)
    stream = bus.stream("cases")
    good = cases("ok", 0, 1)[0]
    bad_category = {**cases("bad", 0, 1)[0], "category": "no such category"}
    client.xadd(stream, {FIELD: b"{not json"})
    client.xadd(stream, {b"other": b"x"})
    client.xadd(stream, {FIELD: b'{"case_id": "x"}'})
    client.xadd(stream, {FIELD: json.dumps([7, good, bad_category])})
    client.xadd(b"citybrain:feed:bogus", {FIELD: b"[]"})  # a stream for a feed that does not exist
    with consuming(bus, store, beijing, block_ms=200):
        wait_for(lambda: bus.backlog() == 0, 30, "all entries acknowledged")
    rows = store.cursor().execute("select feed, origin, raw, reason from quarantine order by reason").fetchall()
    reasons = {reason.split(":")[0]: (feed, origin, raw) for feed, origin, raw, reason in rows}
    assert set(reasons) == {"'records' is not a JSON array", "bad JSON", "entry has no 'records' field",
                            "record is not a JSON object", "unknown category no such category", "unknown feed 'bogus'"}
    assert reasons["bad JSON"] == ("cases", "redis", "{not json")  # the raw payload is kept
    assert reasons["unknown feed 'bogus'"][0] == "unknown"
    assert reasons["record is not a JSON object"][2] == "7"
    assert json.loads(reasons["unknown category no such category"][2])["case_id"] == "bad-0"
    assert case_counts(store) == (1, 1)  # the valid record in the mixed entry still got in
    assert client.xpending(stream, bus.group)["pending"] == 0
    assert client.xpending(b"citybrain:feed:bogus", bus.group)["pending"] == 0


KILLS = 8


def test_kill_9_consumer_process_8_times(flushed, tmp_path):
    """`app.py consume` killed with SIGKILL mid-work 8 times: every produced record exactly once."""
    url = flushed(2)
    bus = RedisStreamBus(url)
    client = redis.Redis.from_url(url)
    data_dir = tmp_path / "data"
    log = open(tmp_path / "consumer.log", "w")
    command = [sys.executable, str(ROOT / "app.py"), "consume", "--redis-url", url, "--city", str(BEIJING),
               "--data-dir", str(data_dir), "--batch-entries", "10", "--block-ms", "200", "--claim-idle-ms", "0"]
    env = {**os.environ, "CITYBRAIN_LOG_LEVEL": "WARNING"}

    def start():
        proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=log, text=True)
        line = proc.stdout.readline()
        if not line.startswith("consuming"):
            log.flush()
            raise AssertionError(f"consumer did not start: {(tmp_path / 'consumer.log').read_text()[-2000:]}")
        return proc

    produced = 0
    stop_producing = threading.Event()

    def produce():
        nonlocal produced
        while not stop_producing.is_set():
            bus.publish("cases", cases("k", produced, 50))
            produced += 50
            time.sleep(0.04)

    producer = threading.Thread(target=produce, daemon=True)
    producer.start()
    mid_work = 0
    rng = random.Random(7)
    proc = None
    try:
        for _ in range(KILLS):
            proc = start()
            time.sleep(rng.uniform(0.2, 0.9))
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=10)
            assert proc.returncode == -signal.SIGKILL
            # Entries delivered but never acknowledged: the kill landed while a batch was in flight.
            mid_work += client.xpending(bus.stream("cases"), bus.group)["pending"] > 0
        stop_producing.set()
        producer.join(timeout=10)
        proc = start()
        wait_for(lambda: bus.backlog() == 0, 60, "the last consumer to drain the streams", interval=0.25)
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=20)
        assert proc.returncode == 0, out
    finally:
        stop_producing.set()
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()
        log.close()
    assert mid_work >= KILLS // 4, f"only {mid_work} of {KILLS} kills hit a batch in flight"
    store = Store(data_dir / "citybrain.duckdb")
    try:
        rows, distinct = case_counts(store)
        expected = store.cursor().execute(
            "select count(*) from cases where case_id in (select 'k-' || range from range(?))", [produced]
        ).fetchall()[0][0]
    finally:
        store.close()
    print(f"{produced} records, {mid_work} of {KILLS} kills with a batch in flight")
    assert produced > 5000
    assert rows == distinct == expected == produced


class RedisProcess:
    """A dedicated redis-server (AOF everysec) that a test may stop and start on the same port and dir."""

    def __init__(self, workdir):
        self.port, self.workdir, self.proc = free_port(), workdir, None
        self.url = f"redis://127.0.0.1:{self.port}/0"

    def start(self):
        self.proc = subprocess.Popen(
            [shutil.which("redis-server"), "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.workdir),
             "--appendonly", "yes", "--appendfsync", "everysec", "--save", ""],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        client = redis.Redis(port=self.port)

        def up():
            try:
                return client.ping()
            except redis.ConnectionError:  # includes "loading the dataset"
                return False
        wait_for(up, 20, "redis-server to accept commands")

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)  # SIGTERM = SHUTDOWN: the AOF is flushed and fsynced
        self.proc.wait(timeout=20)


def test_redis_restart_loses_nothing(tmp_path, store, beijing):
    server = RedisProcess(tmp_path)
    server.start()
    sync_pack(store, beijing)
    producer_bus = RedisStreamBus(server.url)
    consumer_bus = RedisStreamBus(server.url, claim_idle_ms=0, reclaim_every_s=1)
    produced, publish_failures = 0, 0
    stop_producing = threading.Event()

    def produce():
        nonlocal produced, publish_failures
        while not stop_producing.is_set():
            batch = cases("r", produced, 100)
            try:
                producer_bus.publish("cases", batch)
            except (redis.ConnectionError, redis.TimeoutError):
                publish_failures += 1  # Redis is down: keep the batch and try again
                time.sleep(0.1)
                continue
            produced += 100
            time.sleep(0.02)

    try:
        with consuming(consumer_bus, store, beijing, batch_entries=10, block_ms=200):
            producer = threading.Thread(target=produce, daemon=True)
            producer.start()
            wait_for(lambda: case_counts(store)[0] > 1000, 30, "first cases applied")
            server.stop()
            time.sleep(1.0)
            server.start()
            before_restart = produced
            wait_for(lambda: produced > before_restart + 2000, 30, "publishing to resume")
            stop_producing.set()
            producer.join(timeout=10)
            wait_for(lambda: consumer_bus.backlog() == 0 and case_counts(store)[0] >= produced, 60,
                     "consumer to catch up after the restart")
    finally:
        stop_producing.set()
        server.stop()
    assert publish_failures > 0  # the outage really happened while producing
    assert case_counts(store) == (produced, produced)
    assert consumer_bus.stats["records"] >= produced


# ---------------------------------------------------------------------------- in-process bus


def test_in_process_bus_same_contract(store, beijing):
    sync_pack(store, beijing)
    bus = InProcessBus()
    for start in range(0, 6000, 500):
        bus.publish("cases", cases("p", start, 500))
    bus.publish("cases", [{**cases("q", 0, 1)[0], "reported_at": "not a time"}])
    with pytest.raises(ValueError):
        bus.publish("no-such-feed", [{}])
    with consuming(bus, store, beijing, batch_entries=5, block_ms=100):
        wait_for(lambda: bus.pending() == 0 and case_counts(store)[0] == 6000
                 and bus.stats["entries"] == 13, 60, "6000 cases applied")
    assert case_counts(store) == (6000, 6000)
    reason = store.cursor().execute("select reason from quarantine").fetchall()
    assert reason == [("bad reported_at not a time",)]


def test_make_bus_picks_the_transport(redis_server):
    from settings import Settings

    assert isinstance(make_bus(""), InProcessBus)
    assert isinstance(make_bus(Settings.load(env={})), InProcessBus)
    assert isinstance(make_bus(Settings.load(env={}, redis_url=redis_server)), RedisStreamBus)
    assert isinstance(make_bus(redis_server), RedisStreamBus)
