"""feeds.redis_e2e_records_per_s: sensor readings producer -> Redis Streams -> consumer -> DuckDB.

A producer process publishes pm25 readings for a fixed time (CITYBRAIN_BENCH_SECONDS, default 60)
to a redis-server of our own (free port, AOF everysec, temp dir); the writer consumes them into a
fresh store until every record is committed. Value = records / (first publish .. last commit);
the run fails if a single record is lost.

Baseline in the same run: the naive path, one record per stream message (fields = the record),
same consumer discipline (XREADGROUP batches, XACK after the commit), producer pipelining
XADDs 1000 at a time (no round trip per record, so the baseline is not a strawman).

    python bench/bench_redis.py produce URL {batched|naive} SECONDS   (the producer process)
"""
from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SECONDS = float(os.environ.get("CITYBRAIN_BENCH_SECONDS", "60"))
RECORDS_PER_ENTRY = 2000
DEVICES = 1000
MAX_OUTSTANDING = 400_000  # records published but not yet read: the producer waits beyond this
NAIVE_STREAM = "bench:naive:sensors"


# ---------------------------------------------------------------------------- producer process


def readings(start: int, n: int, base: dt.datetime, stamps: dict) -> list[dict]:
    """Records start..start+n: DEVICES devices, one reading per device and second (unique keys)."""
    out = []
    for i in range(start, start + n):
        second = i // DEVICES
        stamp = stamps.get(second)
        if stamp is None:
            stamp = stamps[second] = (base + dt.timedelta(seconds=second)).isoformat()
        out.append({"device_id": f"bench-{i % DEVICES:04d}", "observed_at": stamp, "metric": "pm25",
                    "value": (i % 997) * 0.25, "unit": "ug/m3"})
    return out


def produce(url: str, mode: str, seconds: float) -> int:
    from datasources.bus import RedisStreamBus

    bus = RedisStreamBus(url)
    client = bus.client
    stream = bus.stream("sensors") if mode == "batched" else NAIVE_STREAM.encode()
    base = dt.datetime(2025, 1, 1)  # past, far from the future-time check; 60 s x 200k/s / 1000 devices fits a day
    stamps: dict = {}
    produced = 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if _outstanding(client, stream, mode) > MAX_OUTSTANDING:
            time.sleep(0.005)
            continue
        records = readings(produced, RECORDS_PER_ENTRY, base, stamps)
        if mode == "batched":
            bus.publish("sensors", records)
        else:
            pipe = client.pipeline(transaction=False)
            for record in records:
                pipe.xadd(stream, record)
                if len(pipe) == 1000:
                    pipe.execute()
            pipe.execute()
        produced += len(records)
    client.close()
    return produced


def _outstanding(client, stream: bytes, mode: str) -> int:
    """Records not yet read by the writer (the group's lag), approximated by the stream length."""
    try:
        groups = client.xinfo_groups(stream)
    except Exception:  # no stream yet
        return 0
    lag = groups[0].get("lag") if groups else None
    entries = client.xlen(stream) if lag is None else lag
    return entries * (RECORDS_PER_ENTRY if mode == "batched" else 1)


# ---------------------------------------------------------------------------- consumers


def naive_consume(url: str, store, pack, stop: threading.Event) -> None:
    """One record per message: the per-message cost is paid in redis-py parsing and the ids to ack."""
    import pandas as pd
    import redis

    from datasources.ingest import ingest_frame

    client = redis.Redis.from_url(url)
    try:
        client.xgroup_create(NAIVE_STREAM, "naive", id="0", mkstream=True)
    except redis.ResponseError:
        pass
    while not stop.is_set():
        response = client.xreadgroup("naive", "c", {NAIVE_STREAM: ">"}, count=10_000, block=200)
        if not response:
            continue
        messages = response[0][1]
        records = [{k.decode(): v.decode() for k, v in fields.items()} for _, fields in messages]
        ingest_frame(store, pack, "sensors", pd.DataFrame.from_records(records), origin="redis")
        client.xack(NAIVE_STREAM, "naive", *[entry_id for entry_id, _ in messages])
    client.close()


def measure(url: str, mode: str, seconds: float, workdir: Path, pack) -> dict:
    from datasources.bus import RedisStreamBus
    from datasources.runtime import sync_pack
    from datasources.store import Store

    store = Store(workdir / f"{mode}.duckdb")
    sync_pack(store, pack)
    stop = threading.Event()
    if mode == "batched":
        bus = RedisStreamBus(url)
        target = lambda: bus.consume(store, pack, stop, batch_entries=100, block_ms=200)  # noqa: E731
    else:
        target = lambda: naive_consume(url, store, pack, stop)  # noqa: E731
    failure = []

    def guarded():
        try:
            target()
        except BaseException as exc:
            failure.append(exc)
            raise

    consumer = threading.Thread(target=guarded, name=f"consumer-{mode}", daemon=True)
    consumer.start()
    time.sleep(0.5)  # consumer group created; the clock starts with the producer
    started = time.perf_counter()
    producer = subprocess.Popen([sys.executable, __file__, "produce", url, mode, str(seconds)],
                                stdout=subprocess.PIPE, text=True, cwd=ROOT)
    count = lambda: store.cursor().execute("select count(*) from readings").fetchall()[0][0]  # noqa: E731
    while producer.poll() is None:
        time.sleep(0.5)
    out, _ = producer.communicate()
    assert producer.returncode == 0, "producer failed"
    produced = json.loads(out.strip().splitlines()[-1])["produced"]
    published_s = time.perf_counter() - started
    deadline = time.monotonic() + 600
    while (n := count()) < produced and time.monotonic() < deadline and not failure:
        time.sleep(0.05)
    elapsed = time.perf_counter() - started
    stop.set()
    consumer.join(timeout=30)
    stored = count()
    quarantined = store.cursor().execute("select count(*) from quarantine").fetchall()[0][0]
    store.close()
    if failure:
        raise failure[0]
    # Zero lost, zero extra: every produced reading is stored exactly once.
    assert stored == produced and quarantined == 0, (mode, produced, stored, quarantined)
    rate = produced / elapsed
    print(f"{mode:8} produced {produced:>9,} in {published_s:5.1f} s, all committed after {elapsed:5.1f} s: "
          f"{rate:,.0f} records/s", flush=True)
    return {"produced": produced, "elapsed_s": elapsed, "records_per_s": rate}


def start_redis(workdir: Path):
    import redis

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = subprocess.Popen(
        [shutil.which("redis-server"), "--port", str(port), "--bind", "127.0.0.1", "--dir", str(workdir),
         "--appendonly", "yes", "--appendfsync", "everysec", "--save", ""],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    client = redis.Redis(port=port)
    for _ in range(200):
        try:
            client.ping()
            break
        except redis.ConnectionError:
            time.sleep(0.05)
    return proc, f"redis://127.0.0.1:{port}"


def run():
    from bench.run import Result
    from datasources.citypack import load_pack

    pack = load_pack(ROOT / "citypacks" / "beijing")
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        (workdir / "redis").mkdir()
        proc, url = start_redis(workdir / "redis")
        try:
            ours = measure(f"{url}/1", "batched", SECONDS, workdir, pack)
            naive = measure(f"{url}/2", "naive", min(SECONDS, 20.0), workdir, pack)
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    return [Result("feeds.redis_e2e_records_per_s", round(ours["records_per_s"], 1), "rec/s",
                   {"name": "naive_one_record_per_message_records_per_s", "value": round(naive["records_per_s"], 1)})]


if __name__ == "__main__" and len(sys.argv) == 5 and sys.argv[1] == "produce":
    print(json.dumps({"produced": produce(sys.argv[2], sys.argv[3], float(sys.argv[4]))}), flush=True)
