"""The case indicators of any recent window in milliseconds: an in-memory index of the case facts.

    rows = case_rows(store, scope, level_index=2, by_department=False, city_id="beijing", start=t0, end=t1)
    # None when the index cannot answer (window starts before its horizon, or it is off): use SQL

The narrow case facts (migration 012) of the last `store.case_index_days` days, plus every case
still open or closed since then, are held as numpy arrays per coarsest-level unit ("partition"),
once sorted by report time (the window) and once by close time (the backlog at as-of). A query
takes its partitions' slices by binary search and counts with bincount; medians are exact (the
middle values of each unit's close durations). Any window [t0, t1) with t0 at or after the horizon
is answered exactly: every case reported in it, and every case open at t1, is in the index.

The index follows the writer: each batch's fact delta (Store.case_fact_changes) is applied before
the next read, so a read never sees older data than the store's data version says; if the log does
not reach back (another process wrote, the facts were rebuilt) the index is rebuilt from DuckDB.
Deltas are applied in place (a closure rewrites a close time, new cases go near the end of buffers
with room to grow) under a write lock; reads hold a read lock, so none sees half a batch.

The scope is applied here, where the data is read: a key (unit path, department) counts only if
the scope's rule (scoped_case_keys, migration 012) admits it, and the units answered for come from
indicator_units (migration 016) through the gateway. tests/sql/test_case_index.py proves the
answers equal the SQL paths for random windows, levels, scopes and batches.
"""
from __future__ import annotations

import datetime as dt
import threading
import weakref
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np

from datasources import gateway
from security.scope import Scope

INF = np.iinfo(np.int64).max
_EPOCH = dt.datetime(1970, 1, 1)
_US_PER_HOUR = 3600e6


def _us(t: dt.datetime) -> int:
    return (t - _EPOCH) // dt.timedelta(microseconds=1)


class _Keys:
    """Case keys (migration 012) as code arrays indexed by key_id: units per level, department and
    partition. Keys are only ever appended (new ids); codes, once given, stay."""

    def __init__(self, partitions: dict):
        self.partitions = partitions  # top unit id (or None) -> partition code, shared with the state
        self.size = 0
        self.known = np.zeros(0, bool)
        self.part = np.zeros(0, np.int32)
        self.levels: dict[int, tuple[np.ndarray, list[str], dict[str, int]]] = {}
        self.departments = (np.zeros(0, np.int32), [], {})
        self.n_parts = 0
        self.by_part = self.part_starts = np.zeros(0, np.int64)
        self.memo: dict = {}  # query shape -> _Plan

    def extend(self, table) -> None:
        """Add the keys in `table` (key_id, unit_ids, department), new ids only."""
        ids = table.column("key_id").to_numpy()
        if not len(ids):
            return
        paths = table.column("unit_ids").to_pylist()
        size = max(self.size, int(ids.max()) + 1)
        grow = size - self.size
        self.known = np.concatenate((self.known, np.zeros(grow, bool)))
        self.known[ids] = True
        depth = max((len(p) for p in paths if p), default=0)
        for li in range(1, depth + 1):
            self.levels.setdefault(li, (np.zeros(0, np.int32), [], {}))
        for li, (codes, names, lookup) in self.levels.items():
            values = [p[li - 1] if p and len(p) >= li else None for p in paths]
            self.levels[li] = (_coded(codes, grow, ids, values, names, lookup), names, lookup)
        codes, names, lookup = self.departments
        self.departments = (_coded(codes, grow, ids, table.column("department").to_pylist(), names, lookup),
                            names, lookup)
        self.part = np.concatenate((self.part, np.zeros(grow, np.int32)))
        self.part[ids] = [self.partitions.setdefault(p[0] if p else None, len(self.partitions)) for p in paths]
        self.size = size
        self.n_parts = len(self.partitions)
        known = np.flatnonzero(self.known)
        # key ids grouped by partition, and where each partition's run starts
        self.by_part = known[np.argsort(self.part[known], kind="stable")]
        self.part_starts = np.flatnonzero(np.diff(self.part[self.by_part], prepend=-1))
        self.memo.clear()

    def level(self, li: int) -> tuple[np.ndarray, list[str], dict[str, int]]:
        return self.levels.get(li) or (np.full(self.size, -1, np.int32), [], {})


def _coded(codes: np.ndarray, grow: int, ids: np.ndarray, values: list, names: list, lookup: dict) -> np.ndarray:
    """`codes` grown by `grow` and set for `ids` from `values` (None: -1); new names get new codes."""
    out = np.concatenate((codes, np.full(grow, -1, np.int32)))
    assigned = []
    for v in values:
        if v is None:
            assigned.append(-1)
            continue
        code = lookup.get(v)
        if code is None:
            code = lookup[v] = len(names)
            names.append(v)
        assigned.append(code)
    out[ids] = assigned
    return out


class _Table:
    """Columns sorted by one of them, in buffers with room at the end: new cases (recent report and
    close times) land near the end, so an insert moves only the tail after its first row. Changed
    in place under the index's write lock; readers take views (`cols`) under its read lock."""

    def __init__(self, columns: tuple, by: int):
        self.by, self.n = by, len(columns[0])
        self.buf = [np.empty(self.n + self.n // 4 + 64, a.dtype) for a in columns]
        for buf, a in zip(self.buf, columns):
            buf[:self.n] = a

    def cols(self) -> tuple:
        return tuple(buf[:self.n] for buf in self.buf)

    def insert(self, rows: tuple) -> None:
        m = len(rows[0])
        if not m:
            return
        n = self.n
        order = np.argsort(rows[self.by], kind="stable")
        at = np.searchsorted(self.buf[self.by][:n], rows[self.by][order], side="right")
        head = int(at[0])
        if n + m > len(self.buf[0]):
            grown = [np.empty(n + m + (n + m) // 4 + 64, buf.dtype) for buf in self.buf]
            for new, old in zip(grown, self.buf):
                new[:n] = old[:n]
            self.buf = grown
        for buf, v in zip(self.buf, rows):
            buf[head:n + m] = np.insert(buf[head:n], at - head, v[order])
        self.n = n + m

    def delete(self, positions: np.ndarray) -> None:
        if not len(positions):
            return
        first, n = int(positions.min()), self.n
        keep = np.ones(n - first, bool)
        keep[positions - first] = False
        for buf in self.buf:
            buf[first:n - len(positions)] = buf[first:n][keep]
        self.n = n - len(positions)

    def find(self, rows: tuple) -> np.ndarray:
        return _find(self.cols(), self.by, rows)


class _Part:
    """One partition's facts: all by report time (the window), the closed ones by close time and
    the open ones by report time (together: the backlog at any as-of)."""

    def __init__(self, k, r, c, d):
        closed = c != INF
        self.report = _Table(_sorted((k, r, c, d), r), 1)
        self.closed = _Table(_sorted(tuple(a[closed] for a in (k, r, c, d)), c[closed]), 2)
        self.open = _Table(_sorted(tuple(a[~closed] for a in (k, r, d)), r[~closed]), 1)

    @classmethod
    def empty(cls) -> "_Part":
        return cls(np.empty(0, np.int32), *(np.empty(0, np.int64) for _ in range(3)))

    def change(self, gone: tuple, added: tuple) -> None:
        """Remove the facts `gone` and add `added` (each (k, r, c, d) arrays), in place."""
        # A closure (or re-opening) changes only the close time: rewrite it where the case stands.
        gi, ai = _pairs(gone, added)
        rest_gone = np.ones(len(gone[0]), bool)
        rest_gone[gi] = False
        rest_added = np.ones(len(added[0]), bool)
        rest_added[ai] = False
        if len(gi):
            at = self.report.find(tuple(g[gi] for g in gone))
            self.report.buf[2][at] = added[2][ai]
        self.report.delete(self.report.find(tuple(g[rest_gone] for g in gone)))
        self.report.insert(tuple(a[rest_added] for a in added))
        for table, wanted, columns in ((self.closed, lambda c: c != INF, (0, 1, 2, 3)),
                                       (self.open, lambda c: c == INF, (0, 1, 3))):
            mine = wanted(gone[2])
            table.delete(table.find(tuple(gone[i][mine] for i in columns)))
            mine = wanted(added[2])
            table.insert(tuple(added[i][mine] for i in columns))

    def nbytes(self) -> int:
        return sum(a.nbytes for t in (self.report, self.closed, self.open) for a in t.cols())


def _sorted(columns: tuple, key: np.ndarray) -> tuple:
    order = np.argsort(key, kind="stable")
    return tuple(a[order] for a in columns)


def _pairs(gone: tuple, added: tuple) -> tuple[np.ndarray, np.ndarray]:
    """Indices (into gone, into added) of facts equal but for the close time, each used once."""
    if not len(gone[0]) or not len(added[0]):
        return np.empty(0, np.int64), np.empty(0, np.int64)
    waiting: dict = {}
    for i, fact in enumerate(zip(gone[0].tolist(), gone[1].tolist(), gone[3].tolist())):
        waiting.setdefault(fact, []).append(i)
    gi, ai = [], []
    for j, fact in enumerate(zip(added[0].tolist(), added[1].tolist(), added[3].tolist())):
        match = waiting.get(fact)
        if match:
            gi.append(match.pop())
            ai.append(j)
    return np.array(gi, np.int64), np.array(ai, np.int64)


def _find(arrays: tuple, by: int, gone: tuple) -> np.ndarray:
    """Distinct positions of one row equal to each row of `gone` in `arrays`, sorted by arrays[by].

    Facts are a multiset: two cases with equal facts count the same, so either one will do.
    """
    if not len(gone[0]):
        return np.empty(0, np.int64)
    key, n = arrays[by], len(arrays[by])
    if not n:
        raise _Drift("a changed case's old facts are not in the index")
    at = np.searchsorted(key, gone[by], side="left")
    probe = np.minimum(at, n - 1)
    hit = at < n
    for a, g in zip(arrays, gone):
        hit &= a[probe] == g
    found = np.full(len(at), -1, np.int64)
    taken = set()
    for i in np.flatnonzero(hit).tolist():  # the usual case: the first row with that time is the one
        if int(at[i]) not in taken:
            taken.add(int(at[i]))
            found[i] = at[i]
    for i in np.flatnonzero(found < 0).tolist():  # equal times: search the run of them
        lo = int(at[i])
        hi = int(np.searchsorted(key, gone[by][i], side="right"))
        same = np.ones(hi - lo, bool)
        for a, g in zip(arrays, gone):
            same &= a[lo:hi] == g[i]
        rows = [j for j in (lo + np.flatnonzero(same)).tolist() if j not in taken]
        if not rows:
            raise _Drift("a changed case's old facts are not in the index")
        taken.add(rows[0])
        found[i] = rows[0]
    return found


class _Drift(RuntimeError):
    """The index and the store disagree: rebuild."""


class _RWLock:
    """Many readers or one writer; a waiting writer holds new readers back."""

    def __init__(self):
        self._cond = threading.Condition()
        self._readers = 0
        self._writing = False
        self._waiting = 0

    @contextmanager
    def read(self):
        with self._cond:
            while self._writing or self._waiting:
                self._cond.wait()
            self._readers += 1
        try:
            yield
        finally:
            with self._cond:
                self._readers -= 1
                if not self._readers:
                    self._cond.notify_all()

    @contextmanager
    def write(self):
        with self._cond:
            self._waiting += 1
            while self._writing or self._readers:
                self._cond.wait()
            self._waiting -= 1
            self._writing = True
        try:
            yield
        finally:
            with self._cond:
                self._writing = False
                self._cond.notify_all()


@dataclass
class _State:
    version: int
    epoch: int
    horizon_us: int
    keys: _Keys
    partitions: dict  # top unit id (or None) -> partition code
    parts: list  # _Part per partition code
    built_version: int  # the version it was last read whole from DuckDB at
    days: int  # store.case_index_days it was built for


class _Index:
    """One store's index: its state, changed only under the write lock."""

    def __init__(self):
        self.lock = _RWLock()
        self.state: _State | None = None

    def stale(self, store, days: int) -> bool:
        st = self.state
        return (st is None or st.days != days or st.version != store.data_version
                or st.epoch != store.facts_epoch)

    def refresh(self, store, days: int) -> None:
        """Bring the state to the store's data version: apply the writer's deltas, else rebuild."""
        with self.lock.write():
            if not self.stale(store, days):
                return
            st = self.state
            changes = None
            if st is not None and st.days == days:
                changes = store.case_fact_changes(st.version, st.epoch)
            try:
                if changes is None:
                    raise _Drift("no delta log reaching back to the index")
                _catch_up(store, st, *changes)
            except _Drift:
                self.state = None  # a half-applied delta is never read
                self.state = _build(store, days)


_INDEXES: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()
_GUARD = threading.Lock()


def _build(store, days: int) -> _State:
    """Read the keys and the recent facts in one DuckDB transaction (one snapshot, one version)."""
    city = Scope.city()
    cur = store.cursor()
    cur.execute("begin transaction")
    try:
        state = gateway.query_rows(store, "case_index_state", city)[0]
        newest = state["newest"]
        horizon = newest - dt.timedelta(days=days) if newest is not None else _EPOCH
        keys_table = gateway.query(store, "case_index_keys", city, after=-1)
        facts = gateway.query(store, "case_index_facts", city, horizon=horizon)
    finally:
        cur.execute("commit")
    partitions: dict = {}
    keys = _Keys(partitions)
    keys.extend(keys_table)
    k = facts.column("key_id").to_numpy().astype(np.int32)
    r, c, d = (facts.column(n).to_numpy().astype(np.int64) for n in ("reported_us", "closed_us", "due_us"))
    part = keys.part[k]
    parts = []
    for p in range(len(partitions)):
        m = part == p
        parts.append(_Part(k[m], r[m], c[m], d[m]))
    return _State(state["version"], store.facts_epoch, _us(horizon), keys, partitions, parts, state["version"], days)


def _catch_up(store, st: _State, covered: int, changes: list) -> None:
    """Apply the writer's fact deltas since the state's version to it, in place."""
    if changes:
        delta = {n: np.concatenate([d[n] for _, d in changes])
                 for n in ("sign", "key_id", "reported_us", "closed_us", "due_us")}
        if len(delta["key_id"]) and int(delta["key_id"].max()) >= st.keys.size:
            st.keys.extend(gateway.query(store, "case_index_keys", Scope.city(), after=st.keys.size - 1))
            st.parts.extend(_Part.empty() for _ in range(len(st.partitions) - len(st.parts)))
        k = delta["key_id"].astype(np.int32)
        r, c, d = (delta[n].astype(np.int64) for n in ("reported_us", "closed_us", "due_us"))
        kept = (r >= st.horizon_us) | (c >= st.horizon_us)  # the index's own rule (migration 019)
        sign = delta["sign"]
        part = st.keys.part[k]
        for p in np.unique(part[kept]).tolist():
            gone = kept & (part == p) & (sign < 0)
            added = kept & (part == p) & (sign > 0)
            st.parts[p].change((k[gone], r[gone], c[gone], d[gone]), (k[added], r[added], c[added], d[added]))
    st.version = max(st.version, covered)  # ahead of the store's version for a moment: never back


@contextmanager
def _reading(store):
    """The store's index, current as of the data version, held for reading; None when off."""
    days = getattr(store, "case_index_days", 0)
    if days <= 0:
        yield None
        return
    with _GUARD:
        index = _INDEXES.setdefault(store, _Index())
    if index.stale(store, days):
        index.refresh(store, days)
    with index.lock.read():
        yield index.state


def info(store) -> dict | None:
    """The store's index brought up to date: its version, the version it was last built at, its
    horizon, rows (cases held) and bytes; None when off."""
    with _reading(store) as st:
        if st is None:
            return None
        return {"version": st.version, "built_version": st.built_version,
                "horizon": _EPOCH + dt.timedelta(microseconds=st.horizon_us),
                "rows": sum(part.report.n for part in st.parts), "bytes": sum(part.nbytes() for part in st.parts)}


@dataclass(frozen=True)
class _Plan:
    """What a query shape (scope, level) reads, from the keys alone (memoised per key set)."""
    target: np.ndarray  # unit code per key_id; -1: not admitted by the scope or no unit at the level
    names: list
    lookup: dict  # name -> unit code
    partitions: list  # partition codes holding admitted keys
    lone: np.ndarray  # per partition: its one unit code when every key in it counts there, else -1
    whole: np.ndarray  # per partition: every key in it counts somewhere (no per-row filter)


def _plan(keys: _Keys, scope: Scope, level_index: int, by_department: bool) -> _Plan:
    memo_key = (scope.level_index, scope.unit_ids, scope.department, level_index, by_department)
    plan = keys.memo.get(memo_key)
    if plan is not None:
        return plan
    if by_department:
        target, names, lookup = keys.departments
    elif level_index == 0:
        target, names, lookup = np.zeros(keys.size, np.int32), [""], {"": 0}
    else:
        target, names, lookup = keys.level(level_index)
    admitted = keys.known.copy()
    if scope.level_index > 0:
        codes, _, scope_lookup = keys.level(scope.level_index)
        admitted &= np.isin(codes, [scope_lookup[u] for u in scope.unit_ids if u in scope_lookup])
    if scope.department:
        codes, _, dept_lookup = keys.departments
        admitted &= codes == dept_lookup.get(scope.department, -2)
    # units renumbered 0..m-1 over those the scope's keys reach, so per-unit arrays stay small
    used = np.unique(target[admitted & (target >= 0)])
    dense = np.full(len(names) + 1, -1, np.int32)
    dense[used] = np.arange(len(used), dtype=np.int32)
    target = np.where(admitted, dense[target], -1)  # target -1 maps to dense[-1] = -1
    names = [names[i] for i in used.tolist()]
    lookup = {name: i for i, name in enumerate(names)}
    counted = target >= 0
    lone = np.full(keys.n_parts, -1)
    whole = np.zeros(keys.n_parts, bool)
    if len(keys.by_part):
        code = target[keys.by_part]
        lo, hi = np.minimum.reduceat(code, keys.part_starts), np.maximum.reduceat(code, keys.part_starts)
        runs = keys.part[keys.by_part[keys.part_starts]]
        lone[runs] = np.where((lo == hi) & (lo >= 0), lo, -1)
        whole[runs] = lo >= 0
    plan = _Plan(target, names, lookup, np.unique(keys.part[counted]).tolist(), lone, whole)
    if len(keys.memo) >= 256:
        keys.memo.clear()
    keys.memo[memo_key] = plan
    return plan


_FLAG_BITS = (("cases_closed", 1), ("cases_due", 2), ("cases_closed_on_time", 4))
_COUNTS = ("cases_reported", "cases_closed", "cases_due", "cases_closed_on_time", "open_backlog", "overdue_open")


def _joined(arrays: list) -> np.ndarray:
    return arrays[0] if len(arrays) == 1 else np.concatenate(arrays)


def _median(values: np.ndarray) -> float:
    """The median of int64 microseconds, in hours, as DuckDB's median interpolates the middle two."""
    if not len(values):
        return float("nan")
    m = (len(values) - 1) // 2
    picked = np.partition(values, m)
    a = picked[m] / _US_PER_HOUR
    b = a if len(values) % 2 else picked[m + 1:].min() / _US_PER_HOUR  # the next value up
    return a + (b - a) * 0.5


def _medians(groups: np.ndarray, values: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Per group, the median of `values` (int64 microseconds) in hours; NaN for empty groups."""
    out = np.full(len(counts), np.nan)
    if not len(values):
        return out
    if len(counts) <= 64:  # few large groups (districts, the city): select within each group
        order = np.argsort(groups.astype(np.int16), kind="stable")
        ordered = values[order]
        ends = np.cumsum(counts)
        for g in np.flatnonzero(counts).tolist():
            out[g] = _median(ordered[ends[g] - counts[g]:ends[g]])
        return out
    # Many small groups (grid cells): a histogram of 256 equal buckets per group finds the bucket of
    # each middle rank; only the values in those buckets are sorted (ranks k and k+1 lie in one
    # bucket or in two neighbouring non-empty ones).
    lo = int(values.min())
    span = int(values.max()) - lo
    shift = max(span.bit_length() - 8, 0)
    width = (span >> shift) + 1
    bucket = (values - lo) >> shift
    n = len(counts)
    hist = np.bincount(groups.astype(np.int64) * width + bucket, minlength=n * width).reshape(n, width)
    upto = hist.cumsum(axis=1)
    has = counts > 0
    ranks = ((counts - 1) // 2, counts // 2)
    first = (upto > ranks[0][:, None]).argmax(axis=1)
    second = (upto > ranks[1][:, None]).argmax(axis=1)
    below = upto[np.arange(n), first] - hist[np.arange(n), first]
    chosen = (bucket == first[groups]) | (bucket == second[groups])
    cg, cv = groups[chosen].astype(np.int64), values[chosen] - lo
    bits = max(span, 1).bit_length()
    if bits + max(n, 1).bit_length() <= 62:
        ordered = (np.sort((cg << bits) | cv) & ((1 << bits) - 1)) + lo
    else:
        ordered = cv[np.lexsort((cv, cg))] + lo
    kept = np.bincount(cg, minlength=n)
    starts = np.cumsum(kept) - kept
    a = ordered[(starts + ranks[0] - below)[has]] / _US_PER_HOUR
    b = ordered[(starts + ranks[1] - below)[has]] / _US_PER_HOUR
    out[has] = a + (b - a) * 0.5
    return out


def case_stats(store, scope: Scope, level_index: int, by_department: bool,
               start: dt.datetime, end: dt.datetime) -> tuple[_Plan, dict] | None:
    """The query's plan (unit names and codes) and numpy columns of the case indicators (CONTRACT §6)
    for window [start, end).

    Columns (one value per unit code): cases_reported, cases_closed, cases_due, cases_closed_on_time,
    open_backlog, overdue_open (counts) and median_close_hours (NaN when nothing closed). None when
    the index is off or the window starts before its horizon.
    """
    with _reading(store) as st:
        if st is None or _us(start) < st.horizon_us:
            return None
        return _stats(st, scope, level_index, by_department, _us(start), _us(end))


def _stats(st: _State, scope: Scope, level_index: int, by_department: bool, t0: int, t1: int) -> tuple[_Plan, dict]:
    plan = _plan(st.keys, scope, level_index, by_department)
    target, n = plan.target, len(plan.names)
    cols = {name: np.zeros(n, np.int64) for name in _COUNTS}
    chunks: dict[int, list] = {}  # unit code -> close durations, from partitions wholly in one unit
    grouped_g, grouped_v = [], []  # (unit codes, close durations) from the other partitions
    for p in plan.partitions:
        if p >= len(st.parts):
            continue
        part = st.parts[p]
        k, r, c, d = part.report.cols()
        a, b = np.searchsorted(r, (t0, t1)).tolist()
        k, r, c, d = k[a:b], r[a:b], c[a:b], d[a:b]
        closed = c <= t1
        due = closed | (d <= t1)
        on_time = closed & (d != INF) & (c <= d)
        lone = int(plan.lone[p])
        if lone >= 0:  # e.g. a district's facts at the district level: plain counts
            cols["cases_reported"][lone] += b - a
            cols["cases_closed"][lone] += np.count_nonzero(closed)
            cols["cases_due"][lone] += np.count_nonzero(due)
            cols["cases_closed_on_time"][lone] += np.count_nonzero(on_time)
            chunks.setdefault(lone, []).append((c - r)[closed])
        else:
            g = target[k]
            if not plan.whole[p]:
                keep = g >= 0
                g, r, c, closed, due, on_time = g[keep], r[keep], c[keep], closed[keep], due[keep], on_time[keep]
            # one bincount over (unit, flags): bit 0 closed, bit 1 due, bit 2 closed on time
            tally = np.bincount(g * 8 + closed + (due << 1) + (on_time << 2), minlength=8 * n).reshape(n, 8)
            cols["cases_reported"] += tally.sum(axis=1)
            for name, bit in _FLAG_BITS:
                cols[name] += tally[:, [f for f in range(8) if f & bit]].sum(axis=1)
            grouped_g.append(g[closed])
            grouped_v.append((c - r)[closed])
        # the backlog at t1: open now and reported before t1, or closed after t1 and reported before
        k2, r2, c2, d2 = part.closed.cols()
        ko, ro, do = part.open.cols()
        e = int(np.searchsorted(c2, t1, side="right"))
        o = int(np.searchsorted(ro, t1))
        before = r2[e:] < t1
        if lone >= 0:
            cols["open_backlog"][lone] += o + np.count_nonzero(before)
            cols["overdue_open"][lone] += np.count_nonzero(do[:o] < t1) + np.count_nonzero(before & (d2[e:] < t1))
            continue
        g = np.concatenate((target[ko[:o]], target[k2[e:]]))
        keep = (g >= 0) & np.concatenate((np.ones(o, bool), before))
        late = np.concatenate((do[:o], d2[e:])) < t1
        cols["open_backlog"] += np.bincount(g[keep], minlength=n)
        cols["overdue_open"] += np.bincount(g[keep & late], minlength=n)
    if grouped_g:
        for unit, parts in chunks.items():
            grouped_g.extend(np.full(len(v), unit, np.int32) for v in parts)
            grouped_v.extend(parts)
        cols["median_close_hours"] = _medians(_joined(grouped_g), _joined(grouped_v), cols["cases_closed"])
    else:
        medians = np.full(n, np.nan)
        for unit, parts in chunks.items():
            medians[unit] = _median(parts[0] if len(parts) == 1 else np.concatenate(parts))
        cols["median_close_hours"] = medians
    return plan, cols


_REFERENCE: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def _units(store, scope: Scope, level_index: int, by_department: bool, city_id: str) -> list[str]:
    """The units the caller's scope answers for, by the rule of indicator_units (migration 016): the
    departments (a department's scope: its own), the city, or the pack level's units whose path holds
    one of the scope's units at the scope's level. Reference data is read once per change."""
    with _GUARD:
        ref = _REFERENCE.get(store)
    if ref is None or ref[0] != store.reference_version:
        ref = (store.reference_version, *_reference(store))
        with _GUARD:
            _REFERENCE[store] = ref
    _, by_path, by_level, departments = ref
    if by_department:
        return [d for d in departments if not scope.department or d == scope.department]
    if level_index == 0:
        return [city_id]
    if scope.level_index == 0:
        return by_level.get(level_index, [])
    return sorted({u for unit in scope.unit_ids for u in by_path.get((level_index, scope.level_index, unit), ())})


def _reference(store) -> tuple[dict, dict, list]:
    """(level, scope level, unit on the path) -> units; level -> units; department ids."""
    by_path: dict = {}
    by_level: dict = {}
    departments = []
    for row in gateway.query_rows(store, "indicator_reference", Scope.city()):
        if row["kind"] == "department":
            departments.append(row["unit_id"])
            continue
        by_level.setdefault(row["level_index"], []).append(row["unit_id"])
        for k, unit in enumerate(row["path"] or (), start=1):
            by_path.setdefault((row["level_index"], k, unit), []).append(row["unit_id"])
    return by_path, by_level, departments


def case_rows(store, scope: Scope, *, level_index: int, by_department: bool, city_id: str,
              start: dt.datetime, end: dt.datetime) -> list[dict] | None:
    """The rows ind_cases.sql returns (same columns, units, order), from the index; None: use SQL."""
    stats = case_stats(store, scope, level_index, by_department, start, end)
    if stats is None:
        return None
    plan, columns = stats
    code = plan.lookup
    if level_index == 0 and not by_department:  # the one unit "" is the city
        code = {city_id: i for i in code.values()}
    wanted = _units(store, scope, level_index, by_department, city_id)
    if by_department:
        active = (columns["cases_reported"] > 0) | (columns["open_backlog"] > 0)
        wanted = sorted(set(wanted) | {plan.names[i] for i in np.flatnonzero(active).tolist()})
    lists = {n: v.tolist() for n, v in columns.items()}
    rows = []
    for unit in wanted:
        i = code.get(unit)
        if i is None:
            rows.append({"unit_id": unit, "cases_reported": 0, "cases_closed": 0, "cases_due": 0,
                         "cases_closed_on_time": 0, "closure_rate": None, "on_time_closure_rate": None,
                         "open_backlog": 0, "overdue_open": 0, "median_close_hours": None})
            continue
        due = lists["cases_due"][i]
        median = lists["median_close_hours"][i]
        rows.append({
            "unit_id": unit,
            "cases_reported": lists["cases_reported"][i],
            "cases_closed": lists["cases_closed"][i],
            "cases_due": due,
            "cases_closed_on_time": lists["cases_closed_on_time"][i],
            "closure_rate": lists["cases_closed"][i] / due if due else None,
            "on_time_closure_rate": lists["cases_closed_on_time"][i] / due if due else None,
            "open_backlog": lists["open_backlog"][i],
            "overdue_open": lists["overdue_open"][i],
            "median_close_hours": None if median != median else median,
        })
    return rows
