"""The writer's narrow case facts (migration 012) stay equal to a full recompute from the cases.

Random batches of new cases, closures, re-openings, moves between units and departments, due date
changes (some cases have none) and late records (reported long ago) are applied through Store.apply; after every batch
the facts equal a rebuild from scratch, and the indicators read from the facts equal the
case_flags definition (migration 011) that lineage lists, for several windows and levels.
"""
import datetime as dt
import random

import pyarrow as pa
import pytest

T0 = dt.datetime(2026, 3, 1)
UNITS = [["d1", "s1"], ["d1", "s2"], ["d2", "s3"], ["d2", None], None]
DEPARTMENTS = ["water", "roads", "police", None]
STATS = ("cases_reported", "cases_closed", "cases_due", "cases_closed_on_time", "open_backlog", "overdue_open")


def _time(rng, days=40):
    return T0 + dt.timedelta(minutes=rng.randrange(days * 24 * 60))


def _batch(rng, known: dict, n: int) -> pa.Table:
    rows = []
    for _ in range(n):
        if known and rng.random() < 0.5:
            case_id = rng.choice(sorted(known))
            row = dict(known[case_id])
            change = rng.choice(["close", "reopen", "move", "department", "due", "status"])
            if change == "close":
                row["status"], row["closed_at"] = "closed", row["reported_at"] + dt.timedelta(hours=rng.randrange(1, 400))
            elif change == "reopen":
                row["status"], row["closed_at"] = "reworked", None
            elif change == "move":
                row["unit_ids"] = rng.choice(UNITS)
            elif change == "department":
                row["department"] = rng.choice(DEPARTMENTS)
            elif change == "due":
                row["due_at"] = None if rng.random() < 0.2 else row["reported_at"] + dt.timedelta(hours=rng.randrange(1, 200))
            else:
                row["status"] = "processing" if row["status"] != "closed" else "closed"
        else:
            case_id = f"c{len(known) + len(rows)}-{rng.randrange(10**6)}"
            reported = _time(rng, days=400 if rng.random() < 0.1 else 40)  # some late records
            closed = reported + dt.timedelta(hours=rng.randrange(1, 300)) if rng.random() < 0.6 else None
            row = {"case_id": case_id, "reported_at": reported, "category": "noise",
                   "status": "closed" if closed else "accepted", "closed_at": closed,
                   "due_at": None if rng.random() < 0.1 else reported + dt.timedelta(hours=rng.choice([24, 72, 168])),
                   "department": rng.choice(DEPARTMENTS), "unit_ids": rng.choice(UNITS)}
        rows.append(row)
    for row in rows:
        known[row["case_id"]] = row
    return pa.Table.from_pylist(rows, schema=pa.schema([
        ("case_id", pa.string()), ("reported_at", pa.timestamp("us")), ("category", pa.string()),
        ("status", pa.string()), ("closed_at", pa.timestamp("us")), ("due_at", pa.timestamp("us")),
        ("department", pa.string()), ("unit_ids", pa.list_(pa.string()))]))


def _facts(store):
    cur = store.cursor()
    fact_rows = cur.execute(
        """
        select f.case_id, k.unit_ids, k.department, f.reported_at, f.closed_at, f.due_at from (
            select case_id, key_id, reported_at, closed_at, due_at from case_facts_closed
            union all select case_id, key_id, reported_at, null, due_at from case_facts_open) f
        join case_keys k using (key_id) order by f.case_id
        """).fetchall()
    full = cur.execute(
        "select case_id, unit_ids, department, reported_at, closed_at, due_at from cases order by case_id").fetchall()
    return fact_rows, full


def _rollups(store):
    cur = store.cursor()
    return [cur.execute(f"select * from {t} where {w} order by all").fetchall() for t, w in (
        ("case_rollup", "reported <> 0 or closed <> 0 or closed_on_time <> 0 or due <> 0"),
        ("case_rollup_hist", "n <> 0"), ("case_rollup_open", "n <> 0"))]


def _by_flags(store, level_index, by_department, start, end, scope=(0, [])):
    """The same stats from the case_flags definition over every case (the full recompute)."""
    rows = store.cursor().execute(
        """
        select unit_id, count(*) filter (where reported), count(*) filter (where closed),
               count(*) filter (where due), count(*) filter (where closed_on_time),
               count(*) filter (where backlog), count(*) filter (where overdue),
               median(date_diff('microsecond', reported_at, closed_at) / 3600e6) filter (where closed)
        from case_flags(?, ?::varchar[], '', false, ?, ?, 'city', ?, ?)
        group by unit_id
        """, [*scope, level_index, by_department, start, end]).fetchall()
    out = {}
    for unit, *values in rows:
        counts, median = values[:-1], values[-1]
        if any(counts):
            out[unit] = (*counts, None if median is None else round(median, 9))
    return out


def _by_rollup(store, level_index, by_department, start, end, scope=(0, [])):
    cur = store.cursor()
    li = -1 if by_department else level_index
    cur.execute("select * replace (case when unit_id = '' then 'city' else unit_id end as unit_id) "
                "from case_stats_rollup(?, ?::varchar[], ?, ?, ?)", [*scope, li, start, end])
    return _stats(cur)


def _by_facts(store, level_index, by_department, start, end):
    cur = store.cursor()
    cur.execute("select * from case_stats(0, []::varchar[], '', ?, ?, 'city', ?, ?)", [level_index, by_department, start, end])
    return _stats(cur)


def _stats(cur):
    names = [d[0] for d in cur.description]
    out = {}
    for row in (dict(zip(names, r)) for r in cur.fetchall()):
        counts = tuple(row[c] for c in STATS)
        if any(counts):
            median = row["median_close_hours"]
            out[row["unit_id"]] = (*counts, None if median is None else round(median, 9))
    return out


def _units(store):
    with store.write_transaction() as cur:
        cur.execute("""insert into units (level, level_index, unit_id, parent_id, path) values
            ('district', 1, 'd1', null, ['d1']), ('district', 1, 'd2', null, ['d2']),
            ('street', 2, 's1', 'd1', ['d1', 's1']), ('street', 2, 's2', 'd1', ['d1', 's2']),
            ('street', 2, 's3', 'd2', ['d2', 's3'])""")


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_facts_equal_a_full_recompute_after_random_batches(store, seed):
    rng = random.Random(seed)
    known: dict = {}
    _units(store)
    windows = [(T0, T0 + dt.timedelta(days=30)), (T0 + dt.timedelta(days=10), T0 + dt.timedelta(days=17, hours=5)),
               (T0 - dt.timedelta(days=400), T0 + dt.timedelta(days=60)),
               (T0 + dt.timedelta(days=3, hours=7, minutes=13), T0 + dt.timedelta(days=3, hours=19)),  # inside one day
               (T0 + dt.timedelta(days=2, hours=23), T0 + dt.timedelta(days=4, hours=1)),  # two partial days
               (T0 + dt.timedelta(days=5, hours=6), T0 + dt.timedelta(days=12))]  # as-of at midnight
    for step in range(12):
        store.apply("cases", "cases", _batch(rng, known, rng.randrange(1, 120)))
        facts, full = _facts(store)
        assert facts == full, f"facts drifted from the cases after batch {step}"
        rolled = _rollups(store)
        store.rebuild_case_facts()
        assert _rollups(store) == rolled, f"incremental rollups differ from a rebuild after batch {step}"
        start, end = windows[step % len(windows)]
        for level_index, by_department in ((0, False), (1, False), (2, False), (0, True)):
            expected = _by_flags(store, level_index, by_department, start, end)
            assert _by_facts(store, level_index, by_department, start, end) == expected
            assert _by_rollup(store, level_index, by_department, start, end) == expected, (step, level_index, by_department)
        for level_index in (1, 2):  # a district leader's scope
            expected = _by_flags(store, level_index, False, start, end, scope=(1, ["d1"]))
            assert _by_rollup(store, level_index, False, start, end, scope=(1, ["d1"])) == expected
    assert len(full) > 100 and any(r[4] is None for r in full) and any(r[4] is not None for r in full)


def test_a_replayed_batch_leaves_the_facts_untouched(store):
    rng = random.Random(7)
    batch = _batch(rng, {}, 50)
    store.apply("cases", "cases", batch)
    before = _facts(store)[0]
    store.apply("cases", "cases", batch)
    assert _facts(store)[0] == before
    counts = store.cursor().execute(
        "select (select count(*) from case_facts_open) + (select count(*) from case_facts_closed)").fetchall()[0][0]
    assert counts == 50
