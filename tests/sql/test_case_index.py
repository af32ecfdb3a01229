"""The in-memory case index (indicators/caseindex.py) answers exactly what the SQL definition does.

Random batches (new cases, closures, re-openings, moves between units and departments, due date
changes, late records) land through Store.apply; the index follows them from the writer's fact
deltas without re-reading DuckDB, and after every batch its numbers equal the case_flags
definition (migration 011) over every case, for random windows (partial days, as-of in the past,
inside one day), every level, the department view and scoped callers. Then the fallbacks: a
rebuild of the facts, a delta log that no longer reaches back, a window before the horizon.
"""
import datetime as dt
import random

import pytest

from datasources import store as store_module
from indicators import caseindex
from indicators.compute import compute
from security.scope import Scope
from tests.sql.test_case_facts import STATS, T0, _batch, _by_flags, _units


def _by_index(store, level_index, by_department, start, end, scope=Scope.city()):
    plan, cols = caseindex.case_stats(store, scope, level_index, by_department, start, end)
    out = {}
    for i, name in enumerate(plan.names):
        counts = tuple(int(cols[c][i]) for c in STATS)
        if any(counts):
            median = cols["median_close_hours"][i]
            out["city" if name == "" else name] = (*counts, None if median != median else round(float(median), 9))
    return out


def _windows(rng):
    """Random windows inside the test data's span: some inside one day, some ending in the past."""
    out = []
    for _ in range(4):
        end = T0 + dt.timedelta(minutes=rng.randrange(60, 60 * 24 * 45))
        start = end - dt.timedelta(minutes=rng.choice([rng.randrange(1, 600), rng.randrange(600, 60 * 24 * 30)]))
        out.append((start, end))
    return out


def _filled(store, seed: int, n: int, days: int = 3650):
    """The store with the two test districts' units and one batch of `n` random cases; (rng, known)."""
    rng, known = random.Random(seed), {}
    _units(store)
    store.case_index_days = days
    store.apply("cases", "cases", _batch(rng, known, n))
    return rng, known


SCOPES = [(Scope.city(), (0, [])), (Scope(level_index=1, unit_ids=("d1",)), (1, ["d1"])),
          (Scope(level_index=2, unit_ids=("s3",)), (2, ["s3"]))]


@pytest.mark.parametrize("seed", [11, 12])
def test_index_follows_the_writer_and_equals_the_definition(store, seed):
    rng = random.Random(seed)
    known: dict = {}
    _units(store)
    store.case_index_days = 3650  # every test case is in the index
    store.apply("cases", "cases", _batch(rng, known, 60))
    first = caseindex.info(store)
    for step in range(10):
        store.apply("cases", "cases", _batch(rng, known, rng.randrange(1, 120)))
        for start, end in _windows(rng):
            for level_index, by_department in ((0, False), (1, False), (2, False), (0, True)):
                expected = _by_flags(store, level_index, by_department, start, end)
                assert _by_index(store, level_index, by_department, start, end) == expected, (step, level_index, by_department)
            for scope, flags_scope in SCOPES[1:]:
                for level_index in (1, 2):
                    expected = _by_flags(store, level_index, False, start, end, scope=flags_scope)
                    assert _by_index(store, level_index, False, start, end, scope) == expected, (step, scope, level_index)
    now = caseindex.info(store)
    assert now["version"] == store.data_version > first["version"]
    assert now["built_version"] == first["built_version"], "the index was re-read instead of following the deltas"
    assert now["rows"] == len(known)


def test_department_scope_counts_only_its_department(store):
    rng = random.Random(5)
    known: dict = {}
    _units(store)
    store.case_index_days = 3650
    for _ in range(4):
        store.apply("cases", "cases", _batch(rng, known, 80))
    start, end = T0, T0 + dt.timedelta(days=30)
    water = Scope(department="water")
    ours = _by_index(store, 1, False, start, end, water)
    cases = store.cursor().execute(
        "select unit_ids[1], count(*) from cases where department = 'water' and reported_at >= ? and reported_at < ? "
        "and unit_ids[1] is not null group by 1", [start, end]).fetchall()
    assert {u: v[0] for u, v in ours.items()} == dict(cases) and cases
    # a district leader's grid drill lists only the district's streets
    rows = compute(store, _Pack(), Scope(level_index=1, unit_ids=("d1",)), "street", start, end, ["cases_reported"])
    assert {r["unit_id"] for r in rows} == {"s1", "s2"}


class _Pack:
    """The two levels test_case_facts._units writes (compute needs the level names only)."""
    id = "city"
    levels = [type("L", (), {"id": "district", "index": 1})(), type("L", (), {"id": "street", "index": 2})()]

    def level(self, name):
        return next(lv for lv in self.levels if lv.id == name)


def test_rebuilt_facts_and_a_short_log_rebuild_the_index(store, monkeypatch):
    rng, known = _filled(store, 3, 100)
    built = caseindex.info(store)["built_version"]
    store.rebuild_case_facts()  # renumbers the keys: the index must not reuse its copy
    window = (T0, T0 + dt.timedelta(days=20))
    assert _by_index(store, 2, False, *window) == _by_flags(store, 2, False, *window)
    monkeypatch.setattr(store_module, "FACT_LOG_BATCHES", 1)
    for _ in range(3):  # more batches than the log keeps between two reads
        store.apply("cases", "cases", _batch(rng, known, 40))
    assert _by_index(store, 1, False, *window) == _by_flags(store, 1, False, *window)
    assert caseindex.info(store)["built_version"] > built


def test_windows_before_the_horizon_are_answered_by_sql(store):
    rng, known = _filled(store, 9, 200, days=5)
    horizon = caseindex.info(store)["horizon"]
    early = (horizon - dt.timedelta(days=10), horizon + dt.timedelta(days=1))
    assert caseindex.case_rows(store, Scope.city(), level_index=1, by_department=False, city_id="city",
                               start=early[0], end=early[1]) is None
    rows = compute(store, _Pack(), Scope.city(), "district", *early, ["cases_reported", "open_backlog"])
    expected = _by_flags(store, 1, False, *early)
    got = {r["unit_id"]: r["value"] for r in rows if r["indicator"] == "cases_reported" and r["value"]}
    assert got == {u: v[0] for u, v in expected.items() if v[0]}
    late = (horizon + dt.timedelta(hours=1), horizon + dt.timedelta(days=3))
    assert _by_index(store, 2, False, *late) == _by_flags(store, 2, False, *late)
    store.case_index_days = 0  # off: every window from SQL
    assert caseindex.case_rows(store, Scope.city(), level_index=1, by_department=False, city_id="city",
                               start=late[0], end=late[1]) is None


@pytest.mark.parametrize("groups,spread", [(500, 480 * 3600 * 10**6), (80, 10), (3, 10**12), (300, 2**50)])
def test_grouped_medians_equal_numpy(groups, spread):
    """Both ways _medians works (few large groups; many groups by histogram) against np.median."""
    import numpy as np

    rng = np.random.default_rng(groups)
    n = groups * 40
    g = rng.integers(0, groups, n).astype(np.int32)
    g[g == 7] = 8  # an empty group
    v = (rng.random(n) ** 3 * spread).astype(np.int64) - spread // 7  # skewed, some negative, ties when narrow
    counts = np.bincount(g, minlength=groups)
    got = caseindex._medians(g, v, counts)
    for unit in range(groups):
        mine = v[g == unit]
        if len(mine):
            assert got[unit] == pytest.approx(np.median(mine / 3600e6), rel=1e-12, abs=1e-12), unit
        else:
            assert np.isnan(got[unit])


def test_reads_while_batches_land(store):
    """Readers on other threads while the writer applies batches: no errors, and then equal."""
    import threading

    rng, known = _filled(store, 21, 100)
    errors, done = [], threading.Event()

    def read():
        try:
            while not done.is_set():
                _by_index(store, 2, False, T0, T0 + dt.timedelta(days=30), Scope(level_index=1, unit_ids=("d1",)))
        except Exception as exc:  # noqa: BLE001 - the test reports it
            errors.append(exc)

    readers = [threading.Thread(target=read) for _ in range(3)]
    for t in readers:
        t.start()
    for _ in range(15):
        store.apply("cases", "cases", _batch(rng, known, 60))
    done.set()
    for t in readers:
        t.join()
    assert not errors
    window = (T0, T0 + dt.timedelta(days=30))
    assert _by_index(store, 2, False, *window) == _by_flags(store, 2, False, *window)


def test_empty_store_and_scopes_without_cases(store):
    store.case_index_days = 30
    window = (T0, T0 + dt.timedelta(days=1))
    rows = caseindex.case_rows(store, Scope.city(), level_index=0, by_department=False, city_id="city",
                               start=window[0], end=window[1])
    assert rows == [{"unit_id": "city", "cases_reported": 0, "cases_closed": 0, "cases_due": 0,
                     "cases_closed_on_time": 0, "closure_rate": None, "on_time_closure_rate": None,
                     "open_backlog": 0, "overdue_open": 0, "median_close_hours": None}]
    store.apply("cases", "cases", _batch(random.Random(2), {}, 30))
    nobody = Scope(department="no-such-department")
    rows = caseindex.case_rows(store, nobody, level_index=0, by_department=False, city_id="city",
                               start=T0, end=T0 + dt.timedelta(days=40))
    assert [(r["unit_id"], r["cases_reported"], r["open_backlog"]) for r in rows] == [("city", 0, 0)]


def test_a_read_between_the_log_and_the_version_bump_applies_each_batch_once(store, monkeypatch):
    """A reader catching up after a batch's delta is logged but before the data version moves
    (another thread, at just that moment) must not apply that delta a second time later."""
    rng, known = _filled(store, 31, 50)
    caseindex.info(store)
    bump = store._bump

    def read_then_bump(version):
        if version % 2:  # the index is one batch behind here: the reader catches up, and past
            caseindex.info(store)  # this batch, whose delta is logged but whose version has not moved
            caseindex.info(store)  # and reads again before the version moves
        bump(version)

    monkeypatch.setattr(store, "_bump", read_then_bump)
    for _ in range(4):  # new cases only: a delta applied twice would count them twice, not drift
        fresh: dict = {}
        store.apply("cases", "cases", _batch(rng, fresh, 40))
        known.update(fresh)
    window = (T0 - dt.timedelta(days=400), T0 + dt.timedelta(days=60))
    assert caseindex.info(store)["rows"] == len(known)
    assert _by_index(store, 1, False, *window) == _by_flags(store, 1, False, *window)
