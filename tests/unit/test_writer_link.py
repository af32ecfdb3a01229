"""The writer's link (datasources/remote.py, writer_service.py) in one test process: a real Store and
WriterService on a Unix socket, a RemoteStore as a web worker or the CLI would hold it."""
import datetime as dt
import threading

import pandas as pd
import pyarrow as pa
import pytest

from datasources import gateway
from datasources.remote import RemoteStore, WriterUnavailable, authkey, socket_path
from security.scope import Scope


@pytest.fixture(scope="module")
def linked(tmp_path_factory):
    from datasources.runtime import open_runtime
    from datasources.writer_service import WriterService
    from settings import Settings

    settings = Settings.load(env={}, data_dir=tmp_path_factory.mktemp("link"), history_days=1, demo=False)
    runtime = open_runtime(settings, simulate=True, start_threads=False)
    service = WriterService(runtime)
    service.start()
    remote = RemoteStore(str(socket_path(settings.data_dir)), authkey(settings.data_dir), role="test",
                         pack_id=runtime.pack.id)
    yield {"runtime": runtime, "store": runtime.store, "remote": remote, "service": service}
    remote.close()
    service.close()
    runtime.close()


def test_reads_through_the_link_equal_local_reads(linked):
    params = {"level_index": 1, "parent": "", "as_of": dt.datetime.now(dt.UTC).replace(tzinfo=None)}
    local = gateway.query_rows(linked["store"], "open_cases_by_unit", Scope.city(), **params)
    remote = gateway.query_rows(linked["remote"], "open_cases_by_unit", Scope.city(), **params)
    assert remote == local and local  # the same rows, not an empty answer


def test_indicators_computed_in_the_writer_equal_local(linked):
    from indicators.compute import compute

    end = dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)
    args = (linked["runtime"].pack, Scope.city(), "district", end - dt.timedelta(days=1), end)
    remote, local = compute(linked["remote"], *args), compute(linked["store"], *args)
    assert len(remote) == len(local) > 0
    for r, l in zip(remote, local):  # means over parallel scans differ in the last bits only
        assert {k: v for k, v in r.items() if k != "value"} == {k: v for k, v in l.items() if k != "value"}
        assert r["value"] == pytest.approx(l["value"], rel=1e-12, abs=0) if l["value"] is not None else r["value"] is None


def test_writes_and_versions_reach_the_client(linked):
    from datasources.ingest import ingest_frame

    remote, store = linked["remote"], linked["store"]
    before = remote.data_version
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    report = ingest_frame(remote, linked["runtime"].pack, "cases", pd.DataFrame([
        {"case_id": "LINK-1", "source": "hotline", "category": "noise", "reported_at": now.isoformat(),
         "lat": 39.92, "lon": 116.45, "status": "registered"},
        {"case_id": "LINK-2", "source": "hotline", "category": "noise", "reported_at": "not a time",
         "lat": 39.92, "lon": 116.45}]), origin="test")
    assert (report.result.accepted, report.result.quarantined) == (1, 1)  # the bad one kept in quarantine
    assert store.data_version > before
    assert remote.wait_for_version(before, 5) == store.data_version  # the long-poll brought it over
    rows = gateway.query_rows(remote, "cases_by_ids", Scope.city(may_see_pii=True), ids=["LINK-1"])
    assert [r["case_id"] for r in rows] == ["LINK-1"]


def test_throttle_counts_in_the_writer_for_every_worker(linked):
    from security import ratelimit

    other = RemoteStore(linked["remote"].address, authkey(linked["runtime"].settings.data_dir), subscribe=False)
    try:
        limits = ("link-test", "198.51.100.1", 3, 3600.0, 0, 60.0)
        assert ratelimit.admit(linked["remote"], *limits) == 0
        assert ratelimit.admit(other, *limits) == 0  # a second web worker
        assert ratelimit.admit(linked["store"], *limits) == 0  # the writer's own process
        assert ratelimit.admit(other, *limits) > 3500  # the fourth, wherever it comes from, waits
    finally:
        other.close()


def test_a_command_refused_in_the_writer_comes_back_as_itself(linked):
    from dispatch import service

    actor = service.actor_for(linked["runtime"].pack, "someone", "department", ["department:chengguan"])
    with pytest.raises(service.DispatchError) as refused:
        service.create_order(linked["remote"], linked["runtime"].pack, actor, {"title": "x", "case_ids": ["LINK-1"]})
    assert refused.value.status == 403 and refused.value.key == "create_role"


def test_admin_writes_move_the_admin_version_and_invalidate_principals(linked):
    from security.principals import PrincipalCache
    from security.tokens import issue_token, revoke_token

    remote = linked["remote"]
    cache = PrincipalCache(remote)
    token = issue_token(remote, "link-holder", "commander")
    assert cache.token(token).role == "commander"
    assert cache.token(token).role == "commander"  # from memory now
    revoke_token(linked["store"], "link-holder")  # written by the writer itself (another client's change)
    deadline = dt.datetime.now() + dt.timedelta(seconds=3)
    while cache.token(token) is not None and dt.datetime.now() < deadline:
        pass
    assert cache.token(token) is None


def test_only_marked_functions_run_in_the_writer(linked):
    with pytest.raises(PermissionError):
        linked["remote"].call("os:system", ("true",), {})
    with pytest.raises(RuntimeError):
        linked["remote"].cursor()


def test_a_wrong_key_is_refused(linked, tmp_path):
    path = str(socket_path(linked["runtime"].settings.data_dir))
    with pytest.raises((WriterUnavailable, Exception)):
        RemoteStore(path, b"not the key" * 3, subscribe=False, connect_timeout=0.5)


def test_no_writer_means_unavailable_not_a_bad_request(tmp_path):
    with pytest.raises(WriterUnavailable):
        RemoteStore(str(tmp_path / "nobody.sock"), b"k" * 32, subscribe=False, connect_timeout=0.3)


def test_reads_from_many_threads_at_once(linked):
    remote, errors, results = linked["remote"], [], []

    def read():
        try:
            results.append(len(gateway.query_rows(remote, "feed_health", Scope.city())))
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=read) for _ in range(32)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and len(set(results)) == 1 and len(results) == 32


def test_a_web_tier_on_another_machine_reaches_the_writer_over_tcp(linked):
    """`writer --listen HOST:PORT` + `web --writer HOST:PORT`: the same link over TCP, same key."""
    from datasources.writer_service import WriterService
    from tests.conftest import free_port

    port = free_port()
    tcp = WriterService(linked["runtime"], f"127.0.0.1:{port}")
    tcp.start()
    try:
        remote = RemoteStore(("127.0.0.1", port), authkey(linked["runtime"].settings.data_dir), role="web")
        try:
            assert remote.data_version == linked["store"].data_version
            assert gateway.query_rows(remote, "feed_health", Scope.city()) == gateway.query_rows(
                linked["store"], "feed_health", Scope.city())
            health = remote.health()
            assert health["writer"]["data_version"] == linked["store"].data_version
        finally:
            remote.close()
    finally:
        tcp.close()


def test_versions_are_published_at_most_once_per_interval_and_the_newest_always(linked, tmp_path):
    """With several web workers the writer coalesces feed versions (view_interval_s) so views are
    computed once per interval, never leaving the newest behind; admin changes go out at once."""
    import time

    from datasources.writer_service import WriterService
    from security.tokens import issue_token

    runtime, store = linked["runtime"], linked["store"]
    address = str(tmp_path / "pub.sock")
    service = WriterService(runtime, address, publish_interval_s=0.6)
    service.start()
    seen = []
    remote = RemoteStore(address, authkey(runtime.settings.data_dir), role="web")
    remote.on_commit(lambda v: seen.append((time.monotonic(), v)))
    try:
        time.sleep(0.7)  # the interval since the last publication has passed
        seen.clear()
        started = time.monotonic()
        for i in range(6):
            store.apply("sensors", "readings", pa.table({
                "device_id": ["AQ-PUB"], "metric": ["pm25"], "value": [float(i)],
                "observed_at": [dt.datetime.now(dt.UTC).replace(tzinfo=None) + dt.timedelta(seconds=i)]}))
            time.sleep(0.1)
        newest = store.data_version
        deadline = time.monotonic() + 2
        while remote.data_version < newest and time.monotonic() < deadline:
            time.sleep(0.02)
        assert remote.data_version == newest  # the last one always goes out (trailing edge)
        assert len(seen) <= 3, seen  # six commits in 0.6 s: at most one per interval, plus the first
        gaps = [b[0] - a[0] for a, b in zip(seen, seen[1:])]
        assert all(g >= 0.5 for g in gaps), gaps
        admin_before = remote.admin_version
        issue_token(store, "pub-holder", "source")
        t0 = time.monotonic()
        while remote.admin_version == admin_before and time.monotonic() - t0 < 1:
            time.sleep(0.01)
        assert remote.admin_version > admin_before and time.monotonic() - t0 < 0.3
        assert time.monotonic() - started < 5
    finally:
        remote.close()
        service.close()
