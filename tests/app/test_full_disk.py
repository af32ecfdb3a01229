"""A full disk: writes answer 503 with Retry-After (never a 4xx a producer would drop its batch
for), reads keep answering, /healthz says "degraded" with the storage problem, the bus keeps what it
could not store, and writing resumes by itself once there is room again, without a restart.

The disk is a small tmpfs filled with a filler file; where this machine may not mount one, the
store's files get a size limit (RLIMIT_FSIZE: the same EFBIG/ENOSPC path through DuckDB)."""
import datetime as dt
import json
import resource
import subprocess
import threading
import time
from contextlib import contextmanager

import pytest

from datasources.runtime import sync_pack
from security.tokens import issue_token


@contextmanager
def small_disk(path):
    """Yields (fill, free): fill() leaves no room for the store's next write, free() gives it back."""
    path.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=48m", "tmpfs", str(path)],
                             capture_output=True).returncode == 0
    limits = resource.getrlimit(resource.RLIMIT_FSIZE)
    filler = path / "filler"

    def fill():
        if mounted:
            with open(filler, "wb") as handle:
                try:
                    while True:
                        handle.write(b"\0" * (1 << 20))
                        handle.flush()
                except OSError:
                    pass
        else:  # every file this process writes from now on stops at 256 KB
            resource.setrlimit(resource.RLIMIT_FSIZE, (256 << 10, limits[1]))

    def free():
        if mounted:
            filler.unlink(missing_ok=True)
        else:
            resource.setrlimit(resource.RLIMIT_FSIZE, limits)

    try:
        yield fill, free
    finally:
        free()
        if mounted:
            subprocess.run(["umount", "-l", str(path)], capture_output=True)


def cases(prefix, n):
    now = dt.datetime.now(dt.UTC).isoformat()
    return [{"case_id": f"{prefix}-{i}", "reported_at": now, "category": "noise", "lat": 39.91, "lon": 116.41,
             "description": "噪音扰民，持续到深夜 " * 40} for i in range(n)]


def stored(store, prefix):
    return store.cursor().execute("select count(*) from cases where case_id like ?", [f"{prefix}-%"]).fetchall()[0][0]


def test_a_full_disk_answers_503_keeps_reading_and_recovers_without_restart(tmp_path, beijing):
    from app import create_app
    from datasources.bus import InProcessBus
    from datasources.runtime import Runtime
    from datasources.store import Store
    from settings import Settings

    with small_disk(tmp_path / "disk") as (fill, free):
        settings = Settings.load(env={}, city=beijing.root, data_dir=tmp_path / "disk" / "data", demo=True)
        store = Store(settings.db_path)
        try:
            sync_pack(store, beijing)
            store.cursor().execute("checkpoint")
            client = create_app(Runtime(settings, beijing, store)).server.test_client()
            headers = {"Authorization": f"Bearer {issue_token(store, 'ops', 'admin')}"}
            assert client.post("/api/v1/cases", json=cases("before", 10), headers=headers).status_code == 200

            fill()
            refused = client.post("/api/v1/cases", json=cases("full", 500), headers=headers)
            assert refused.status_code == 503, refused.get_data(as_text=True)
            assert refused.headers["Retry-After"] == "10"
            reason = refused.get_json()["error"]
            assert "cannot write" in reason and str(tmp_path) not in reason  # no server paths in answers
            assert stored(store, "full") == 0
            health = client.get("/healthz")
            assert health.status_code == 200 and health.get_json()["status"] == "degraded"
            assert health.get_json()["storage"]["ok"] is False
            # reads keep answering from what is stored
            listed = client.get("/api/v1/cases?limit=5&category=noise", headers=headers)
            assert listed.status_code == 200 and listed.get_json()["rows"]

            # the bus keeps what it could not store (nothing acknowledged, nothing lost)
            bus, stop = InProcessBus(), threading.Event()
            bus.publish("cases", cases("bus", 300))
            consumer = threading.Thread(target=bus.consume, args=(store, beijing, stop), kwargs={"block_ms": 100})
            consumer.start()
            time.sleep(1.0)
            assert stored(store, "bus") == 0 and consumer.is_alive()

            free()  # no write needed to notice: /healthz probes the disk
            deadline = time.monotonic() + 30
            while client.get("/healthz").get_json().get("storage", {"ok": True})["ok"] is False:
                assert time.monotonic() < deadline, "storage still reported full after space returned"
                time.sleep(0.5)
            while stored(store, "bus") < 300:
                assert time.monotonic() < deadline, "the bus did not store its waiting entries"
                time.sleep(0.2)
            stop.set()
            consumer.join(timeout=10)
            accepted = client.post("/api/v1/cases", json=cases("after", 500), headers=headers)
            assert accepted.status_code == 200 and accepted.get_json()["accepted"] == 500
            assert stored(store, "before") == 10 and stored(store, "after") == 500
        finally:
            store.close()


def test_a_storage_failure_is_not_a_data_error():
    import duckdb

    from datasources.errors import StorageUnavailable, WriterUnavailable, storage_failure

    full = storage_failure(duckdb.TransactionException(
        'TransactionContext Error: Failed to commit: Could not write file "/srv/x.wal": No space left on device'))
    assert isinstance(full, StorageUnavailable) and isinstance(full, WriterUnavailable)
    assert "no space left on device" in str(full) and "/srv" not in str(full)
    assert storage_failure(duckdb.ConstraintException("Duplicate key")) is None
    assert json.dumps({"error": str(full)})  # plain text, safe to answer
