import datetime as dt

import pyarrow as pa

from datasources.store import MIGRATIONS_DIR, Store

T0 = dt.datetime(2026, 3, 1, 8, 0)


def cases(ids, status="accepted", **extra):
    n = len(ids)
    columns = {
        "case_id": ids,
        "reported_at": pa.array([T0 + dt.timedelta(minutes=i) for i in range(n)], pa.timestamp("us")),
        "status": [status] * n,
        "category": ["noise"] * n,
        "unit_ids": [["110105", "g1"]] * n,
    }
    columns.update(extra)
    return pa.table(columns)


def count(store, sql):
    return store.cursor().execute(sql).fetchall()[0][0]


def test_reapplying_a_batch_changes_nothing_and_keeps_the_version(store):
    first = store.apply("cases", "cases", cases(["a", "b", "c"]))
    again = store.apply("cases", "cases", cases(["a", "b", "c"]))
    assert (first.accepted, first.updated) == (3, 0)
    assert (again.accepted, again.updated, again.quarantined) == (0, 0, 0)
    assert again.version == first.version == store.data_version
    assert count(store, "select count(*) from cases") == 3
    assert count(store, "select count(*) from commits") == 1


def test_data_version_is_monotonic_per_changing_commit(store):
    versions = [store.data_version]
    for i in range(5):
        versions.append(store.apply("cases", "cases", cases([f"k{i}"])).version)
    assert versions == sorted(set(versions)) and versions[-1] == versions[0] + 5


def test_version_survives_reopen(tmp_path):
    path = tmp_path / "v.duckdb"
    store = Store(path)
    version = store.apply("cases", "cases", cases(["a"])).version
    store.close()
    reopened = Store(path)
    assert reopened.data_version == version
    assert reopened.apply("cases", "cases", cases(["b"])).version == version + 1
    reopened.close()


def test_migrations_are_rerunnable(tmp_path):
    store = Store(tmp_path / "m.duckdb")
    assert store.migrate() == []  # already applied at open
    store.apply("cases", "cases", cases(["a"]))
    store.close()
    store = Store(tmp_path / "m.duckdb")
    assert store.migrate() == []
    assert count(store, "select count(*) from cases") == 1
    names = [r[0] for r in store.cursor().execute("select name from schema_migrations order by name").fetchall()]
    assert names == sorted(p.name for p in MIGRATIONS_DIR.glob("*.sql")) and names[0] == "001_init.sql"
    store.close()


def test_a_partial_update_closes_a_case_without_erasing_other_fields(store):
    store.apply("cases", "cases", cases(["a", "b"]))
    closure = pa.table({"case_id": ["a"], "status": ["closed"],
                        "closed_at": pa.array([T0 + dt.timedelta(hours=5)], pa.timestamp("us"))})
    result = store.apply("cases", "cases", closure)
    assert (result.accepted, result.updated) == (0, 1)
    row = store.cursor().execute("select status, closed_at, category, unit_ids from cases where case_id = 'a'").fetchall()[0]
    assert row == ("closed", T0 + dt.timedelta(hours=5), "noise", ["110105", "g1"])
    events = store.cursor().execute("select status, event_at from case_events where case_id = 'a' order by event_at").fetchall()
    assert events == [("accepted", T0), ("closed", T0 + dt.timedelta(hours=5))]
    # replaying the closure changes nothing
    assert store.apply("cases", "cases", closure).updated == 0


def test_reopening_a_case_clears_its_closure(store):
    store.apply("cases", "cases", cases(["a"], status="closed",
                                         closed_at=pa.array([T0 + dt.timedelta(hours=1)], pa.timestamp("us"))))
    store.apply("cases", "cases", pa.table({"case_id": ["a"], "status": ["reworked"]}))
    assert store.cursor().execute("select status, closed_at from cases").fetchall() == [("reworked", None)]


def test_last_record_per_key_wins_inside_a_batch(store):
    batch = cases(["a", "a"], description=["first", "second"])
    result = store.apply("cases", "cases", batch)
    assert result.accepted == 1
    assert store.cursor().execute("select description from cases").fetchall() == [("second",)]


def test_quarantine_keeps_raw_and_reason_once_per_record(store):
    bad = [('{"case_id": "x"}', "reported_at missing"), ('{"case_id": "y"}', "bad lat")]
    first = store.apply("cases", "cases", None, bad, origin="test")
    second = store.apply("cases", "cases", None, bad, origin="test")
    assert first.quarantined == second.quarantined == 2
    rows = store.cursor().execute("select feed, origin, raw, reason from quarantine order by raw").fetchall()
    assert rows == [("cases", "test", '{"case_id": "x"}', "reported_at missing"), ("cases", "test", '{"case_id": "y"}', "bad lat")]
    assert count(store, "select quarantined_total from feed_stats where feed = 'cases'") == 4


def test_listeners_hear_every_commit_and_waiters_wake(store):
    heard = []
    store.on_commit(heard.append)
    before = store.data_version
    store.apply("cases", "cases", cases(["a"]))
    assert heard == [before + 1]
    assert store.wait_for_version(before, timeout=0.01) == before + 1
    assert store.wait_for_version(before + 1, timeout=0.05) == before + 1  # times out, no change


def test_cursors_are_per_thread(store):
    import threading

    store.apply("cases", "cases", cases(["a", "b"]))
    seen = []

    def read():
        seen.append(store.cursor().execute("select count(*) from cases").fetchall()[0][0])

    threads = [threading.Thread(target=read) for _ in range(4)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert seen == [2, 2, 2, 2]
