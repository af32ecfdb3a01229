"""The store: one DuckDB file, exactly one writer, a monotonic data version.

DuckDB allows one read-write process per file, so every change goes through `Store.apply` (feeds)
or `Store.sync_reference` (the city pack's reference data), serialised by one lock. Readers use a
cursor per thread (`Store.cursor`); the query gateway (datasources/gateway.py) is the only reader
the application uses.

Every commit that changes something bumps the data version and records a row in `commits`.
Batches are applied with Arrow appends, never row by row, and idempotently by key: replaying a
batch changes nothing and does not bump the version.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import os
import shutil
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pyarrow as pa

from datasources import timedomain
from datasources.errors import StorageUnavailable, storage_failure

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).with_name("migrations")


# The case columns the narrow case facts (migration 012) are derived from.
FACT_COLUMNS = ("unit_ids", "department", "reported_at", "closed_at", "due_at")


# The rollups (migration 015) take a delta: _delta(sign, reported_at, closed_at, due_at, unit_ids,
# department), -1 for a case's old values and +1 for its new ones, expanded to every level.
_ROLLUP_DELTA = (
    """create or replace temp table _levels as
       select sign, 0 as li, '' as unit_id, reported_at, closed_at, due_at from _delta
       union all
       select sign, -1, department, reported_at, closed_at, due_at from _delta where department is not null
       union all
       select sign, li, unit_ids[li], reported_at, closed_at, due_at
       from (select *, unnest(range(1, len(unit_ids) + 1)) as li from _delta where unit_ids is not null)
       where unit_ids[li] is not null""",
    """insert into case_rollup
       select li, unit_id, cast(reported_at as date), sum(sign),
              coalesce(sum(sign) filter (where closed_at is not null), 0),
              coalesce(sum(sign) filter (where closed_at <= due_at), 0),
              coalesce(sum(sign) filter (where closed_at is not null or due_at is not null), 0)
       from _levels group by all order by 1, 3
       on conflict (level_index, unit_id, day) do update set
           reported = reported + excluded.reported, closed = closed + excluded.closed,
           closed_on_time = closed_on_time + excluded.closed_on_time, due = due + excluded.due""",
    """insert into case_rollup_hist
       select li, unit_id, cast(reported_at as date), close_bucket(reported_at, closed_at), sum(sign)
       from _levels where closed_at is not null group by all order by 1, 3
       on conflict (level_index, unit_id, day, bucket) do update set n = n + excluded.n""",
    """insert into case_rollup_open
       select li, unit_id, cast(reported_at as date), coalesce(cast(due_at as date), 'infinity'::date), sum(sign)
       from _levels where closed_at is null group by all order by 1, 3
       on conflict (level_index, unit_id, day, due_day) do update set n = n + excluded.n""",
    "drop table _levels",
)


# Derived from the changed cases in _facts (case columns, _exists, _old_<column> of FACT_COLUMNS):
# new (unit path, department) keys, the new facts appended, and the rollups' delta (-1 old, +1 new).
_FACT_INSERTS = (
    """insert into case_keys
       select top.n + row_number() over (order by f.unit_ids, f.department), f.unit_ids, f.department
       from (select distinct unit_ids, department from _facts) f
       cross join (select coalesce(max(key_id), 0) as n from case_keys) top
       where not exists (select 1 from case_keys k
                         where k.unit_ids is not distinct from f.unit_ids
                           and k.department is not distinct from f.department)""",
    """insert into case_facts_open
       select f.case_id, k.key_id, f.reported_at, f.due_at
       from _facts f join case_keys k
         on k.unit_ids is not distinct from f.unit_ids and k.department is not distinct from f.department
       where f.closed_at is null""",
    """insert into case_facts_closed
       select f.case_id, k.key_id, f.reported_at, f.closed_at, f.due_at, close_bucket(f.reported_at, f.closed_at)
       from _facts f join case_keys k
         on k.unit_ids is not distinct from f.unit_ids and k.department is not distinct from f.department
       where f.closed_at is not null
       order by f.closed_at""",
    """create or replace temp table _delta as
       select -1 as sign, _old_reported_at as reported_at, _old_closed_at as closed_at, _old_due_at as due_at,
              _old_unit_ids as unit_ids, _old_department as department
       from _facts where _exists
       union all
       select 1, reported_at, closed_at, due_at, unit_ids, department from _facts""",
    *_ROLLUP_DELTA,
    "drop table _facts",
)
# The batch's fact delta as the in-memory case index (indicators/caseindex.py) takes it: times in
# epoch microseconds, a missing close or due time as the largest int64.
_INDEX_DELTA = """
    select d.sign, k.key_id, epoch_us(d.reported_at) as reported_us,
           coalesce(epoch_us(d.closed_at), 9223372036854775807) as closed_us,
           coalesce(epoch_us(d.due_at), 9223372036854775807) as due_us
    from _delta d join case_keys k
      on k.unit_ids is not distinct from d.unit_ids and k.department is not distinct from d.department
"""
# Fact deltas kept for readers catching up (Store.case_fact_changes), at most this many batches
# and rows (about 40 bytes a row); a reader further behind rebuilds its copy.
FACT_LOG_BATCHES = 256
FACT_LOG_ROWS = 1_000_000
_CLEAR_FACTS = ("delete from case_rollup", "delete from case_rollup_hist", "delete from case_rollup_open",
                "delete from case_facts_open", "delete from case_facts_closed", "delete from case_keys")
# Every stored case as new (no old values): the full recompute goes through the same inserts.
_REBUILD_FACTS = (
    f"""create or replace temp table _facts as
        select case_id, {", ".join(FACT_COLUMNS)}, false as _exists,
               {", ".join(f"null as _old_{n}" for n in FACT_COLUMNS)}
        from cases""",
    *_FACT_INSERTS,
    "drop table _delta",
)


@dataclass(frozen=True)
class TableSpec:
    """How a feed's canonical records land in a table."""

    table: str
    key: tuple[str, ...]
    time_column: str | None  # newest value = the feed's data time
    merge: dict[str, str] = field(default_factory=dict)  # column -> SQL merging incoming i with stored t
    keep_old: tuple[str, ...] = ()  # stored values kept beside a change as _old_<column> (derived tables)


TABLES: dict[str, TableSpec] = {
    "cases": TableSpec(
        "cases",
        ("case_id",),
        "reported_at",
        # closed_at follows the status: a case re-opened (reworked, returned) loses it.
        {"closed_at": "case when coalesce(i.status, t.status) = 'closed' then coalesce(i.closed_at, t.closed_at) end"},
        keep_old=("status", *FACT_COLUMNS),
    ),
    "readings": TableSpec("readings", ("device_id", "metric", "observed_at"), "observed_at"),
    "devices": TableSpec("devices", ("device_id",), None),
    "halls": TableSpec("halls", ("hall_id",), None),
    "service_transactions": TableSpec("service_transactions", ("transaction_id",), "ticket_at"),
    "hall_snapshots": TableSpec("hall_snapshots", ("hall_id", "observed_at"), "observed_at"),
}


@dataclass(frozen=True)
class ApplyResult:
    accepted: int
    updated: int
    quarantined: int
    version: int
    # Of the accepted (new) records of a feed with places (cases, devices, halls); None for the others:
    outside: int | None = None  # coordinates, but in no unit of the first level
    unlocated: int | None = None  # no usable place: no coordinates and no unit

    def as_dict(self) -> dict:
        counts = {"accepted": self.accepted, "updated": self.updated, "quarantined": self.quarantined}
        if self.outside is not None:
            counts.update(outside=self.outside, unlocated=self.unlocated)
        return counts


def wait_on(condition: threading.Condition, done: Callable[[], bool], timeout: float) -> None:
    """Wait on `condition` (notified when things change) until `done()` or `timeout` seconds pass."""
    deadline = time.monotonic() + timeout
    with condition:
        while not done():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            condition.wait(remaining)


def utcnow() -> dt.datetime:
    """Naive UTC, the store's time convention."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


class VersionFollower:
    """The data version as a reader sees it, and waiting for it to move: the Store (the writer's own)
    and datasources.remote.RemoteStore (another process's copy) share this."""

    _version: int
    _version_changed: threading.Condition
    _listeners: list[Callable[[int], None]]

    @property
    def data_version(self) -> int:
        return self._version

    def wait_for_version(self, after: int, timeout: float) -> int:
        """Block until the data version moves past `after` or the timeout passes; returns the version."""
        wait_on(self._version_changed, lambda: self._version > after, timeout)
        return self._version

    def on_commit(self, listener: Callable[[int], None]) -> None:
        """Call `listener(version)` each time the version moves (e.g. to publish it on Redis)."""
        self._listeners.append(listener)

    def _move_to(self, version: int) -> None:
        with self._version_changed:
            self._version = version
            self._version_changed.notify_all()
        for listener in list(self._listeners):
            try:
                listener(version)
            except Exception:  # a failing listener (e.g. Redis down) must not fail the commit
                log.exception("data-version listener failed")


class Store(VersionFollower):
    """Owner of the DuckDB file: migrations at open, the single writer, cursors for readers."""

    def __init__(self, path: Path | str, *, read_only: bool = False):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # No ICU offline: timestamps arrive here as naive UTC (the ingest layer converts zones).
        self._con = duckdb.connect(str(self.path), read_only=read_only)
        self._write_lock = threading.Lock()
        self.storage_problem: dict | None = None  # set while the disk refuses writes (storage_state)
        self._local = threading.local()
        self._version_changed = threading.Condition()
        self._listeners: list[Callable[[int], None]] = []
        self.last_facts_refresh_ms = 0.0
        # What readers holding derived copies of the case facts need to catch up (case_fact_changes).
        self.case_index_days = 70  # indicators/caseindex.py: days of facts kept in memory (0 = off)
        self.time_domain = timedomain.DEFAULT  # times records may carry (datasources/timedomain.py)
        self._facts_lock = threading.Lock()
        self._facts_log: deque = deque()
        self._facts_log_rows = 0
        self._facts_epoch = 0
        self._version = self._facts_floor = 0  # read below, once the migrations made the tables
        if not read_only:
            self.migrate()
        self._columns = self._read_columns()
        self._version = self._read_version()
        self._facts_floor = self._version  # changes at or before this version are not in the log
        self.reference_version = self._version  # moves with every commit of reference data (units, ...)
        self.last_commit_at: float | None = None  # wall-clock time of this process's newest commit
        # Moves with every write outside the feeds (users, tokens, alerts, dispatch, ...): caches of
        # who may do what (security/principals.py) key on it. Not persisted: a restart starts again.
        self.admin_version = 0

    # ----------------------------------------------------------------- lifecycle
    def close(self) -> None:
        self._con.close()

    def migrate(self) -> list[str]:
        """Apply migrations not applied yet, in file order; safe to run any number of times."""
        self._con.execute(
            "create table if not exists schema_migrations (name varchar primary key, applied_at timestamp)"
        )
        done = {row[0] for row in self._con.execute("select name from schema_migrations").fetchall()}
        applied = []
        for file in sorted(MIGRATIONS_DIR.glob("*.sql")):
            if file.name in done:
                continue
            self._con.execute("begin")
            try:
                self._con.execute(file.read_text())
                self._con.execute("insert into schema_migrations values (?, ?)", [file.name, utcnow()])
                self._con.execute("commit")
            except Exception:
                self._con.execute("rollback")
                raise
            applied.append(file.name)
            log.info("applied migration %s", file.name)
        if "012_case_facts.sql" in applied or "015_case_rollups.sql" in applied:
            self.rebuild_case_facts()
        return applied

    def rebuild_case_facts(self) -> None:
        """Derive the narrow case facts (migration 012) from every stored case, from scratch.

        The writer keeps them current batch by batch (`_case_facts`); this is the full recompute
        (backfill after the migration, and the baseline the incremental refresh is measured against).
        Clearing commits first: DuckDB re-inserting keys deleted in the same transaction into a
        primary-key table is very slow. Under the writer lock, so no batch lands in between.
        """
        with self._write_lock:
            for statements in (_CLEAR_FACTS, _REBUILD_FACTS):
                with self._locked_transaction() as cur:
                    for sql in statements:
                        cur.execute(sql)
            with self._facts_lock:  # key ids are renumbered: derived copies start again
                self._facts_epoch += 1
                self._facts_log.clear()
                self._facts_log_rows = 0
                self._facts_floor = self._version

    def case_fact_changes(self, after: int, epoch: int) -> tuple[int, list[tuple[int, dict]]] | None:
        """The case fact deltas committed after version `after`, for a reader's derived copy.

        Returns (version covered, [(version, delta)...]) with each delta a dict of numpy arrays
        (sign: -1 a case's old facts, +1 its new ones; key_id; reported_us, closed_us, due_us), or
        None when the log no longer reaches back to `after` or the facts were rebuilt since `epoch`
        (the reader rebuilds its copy). Versions without case changes have no entry.
        """
        with self._facts_lock:
            if epoch != self._facts_epoch or after < self._facts_floor:
                return None
            entries = [(v, d) for v, d in self._facts_log if v > after]
            # a batch is logged just before its version moves: what is returned is covered either way
            return max([self._version, *(v for v, _ in entries)]), entries

    @property
    def facts_epoch(self) -> int:
        return self._facts_epoch

    def _read_columns(self) -> dict[str, list[tuple[str, str]]]:
        rows = self._con.execute(
            "select table_name, column_name, data_type from information_schema.columns "
            "where table_schema = 'main' order by table_name, ordinal_position"
        ).fetchall()
        columns: dict[str, list[tuple[str, str]]] = {}
        for table, column, data_type in rows:
            columns.setdefault(table, []).append((column, data_type))
        return columns

    def _read_version(self) -> int:
        return self._con.execute("select coalesce(max(version), 0) from commits").fetchall()[0][0]

    # ----------------------------------------------------------------- readers
    def cursor(self) -> duckdb.DuckDBPyConnection:
        """A cursor owned by the calling thread (DuckDB connections must not be shared across threads)."""
        cur = getattr(self._local, "cursor", None)
        if cur is None:
            cur = self._con.cursor()
            self._local.cursor = cur
        return cur

    def table_columns(self, table: str) -> list[str]:
        return [name for name, _ in self._columns[table] if name != "version"]

    # ----------------------------------------------------------------- the writer
    @contextmanager
    def _transaction(self):
        with self._write_lock, self._locked_transaction() as cur:
            yield cur

    @contextmanager
    def _locked_transaction(self):
        """One transaction; the caller holds the writer lock. A failure of the disk (full, read-only,
        failing) is raised as StorageUnavailable and remembered for /healthz until a write succeeds."""
        cur = self._con.cursor()
        try:
            cur.execute("begin")
            yield cur
            cur.execute("commit")
        except Exception as exc:
            try:
                cur.execute("rollback")
            except duckdb.Error:  # a failed commit has already ended the transaction
                pass
            failure = storage_failure(exc)
            if failure is None:
                raise
            self._storage_failed(failure)
            raise failure from exc
        finally:
            cur.close()
        if self.storage_problem is not None:
            log.warning("the store writes again (after %s)", self.storage_problem["error"])
            self.storage_problem = None

    def _storage_failed(self, failure: StorageUnavailable) -> None:
        if self.storage_problem is None:
            log.error("%s: writes answer 503 until the disk takes writes again", failure)
            self.storage_problem = {"error": str(failure), "since": utcnow().isoformat(timespec="seconds") + "Z"}
        self.storage_problem["last_failure_at"] = time.time()

    def storage_state(self) -> dict:
        """{"ok": True} or the storage problem (for /healthz). While there is one, a small probe file
        next to the store is written now and then: a disk with room again clears it without a write."""
        problem = self.storage_problem
        if problem is None:
            return {"ok": True}
        if time.time() - problem.get("probed_at", 0) > 5:
            problem["probed_at"] = time.time()
            probe = self.path.with_name(self.path.name + ".probe")
            try:
                with open(probe, "wb") as handle:
                    handle.write(b"\0" * (1 << 20))
                    handle.flush()
                    os.fsync(handle.fileno())
                probe.unlink()
                if time.time() - problem["last_failure_at"] > 5:
                    self.storage_problem = None
                    return {"ok": True}
            except OSError:
                probe.unlink(missing_ok=True)
        return {"ok": False, **{k: v for k, v in problem.items() if k in ("error", "since")}}

    def execute_write(self, sql: str, params: dict | list | None = None) -> list[tuple]:
        """Run one write statement on a non-feed table (e.g. api_tokens) under the writer lock.

        For administrative tables only: feed records go through `apply`. One transaction; the
        data version is not bumped (the console's data did not change). Returns the statement's
        rows (e.g. of a `returning` clause).
        """
        try:
            with self._transaction() as cur:
                cur.execute(sql, params or [])
                return cur.fetchall()
        finally:
            self._bump_admin()

    @contextmanager
    def write_transaction(self):
        """A cursor in one write transaction under the writer lock: several statements on
        administrative tables (not feeds), all or nothing (an exception rolls back). The data
        version is not bumped. Do not call `apply` inside it (the lock is not re-entrant).
        """
        try:
            with self._transaction() as cur:
                yield cur
        finally:
            self._bump_admin()

    def _bump_admin(self) -> None:
        with self._version_changed:
            self.admin_version += 1
            self._version_changed.notify_all()

    def wait_for_change(self, version: int, admin_version: int, timeout: float) -> None:
        """Block until the data version moves past `version` or the admin version differs from
        `admin_version`, or the timeout passes (the writer's long-poll for other processes)."""
        wait_on(self._version_changed, lambda: self._version > version or self.admin_version != admin_version, timeout)

    def apply(
        self,
        feed: str,
        kind: str,
        batch: pa.Table | None,
        quarantined: Iterable[tuple[str, str]] = (),
        origin: str | None = None,
    ) -> ApplyResult:
        """Apply one batch of canonical records of `kind` (a key of TABLES) from `feed`.

        New keys are inserted, changed records updated, identical ones ignored; `quarantined`
        holds (raw payload, reason) pairs kept in the quarantine table. One transaction, one
        version bump if anything changed.
        """
        spec = TABLES[kind]
        quarantined = list(quarantined)
        with self._write_lock:
            return self._apply_locked(spec, feed, batch, quarantined, origin)

    def _apply_locked(self, spec, feed, batch, quarantined, origin) -> ApplyResult:
        # The version moves (and the fact delta is published) before the lock is released, so the
        # next batch numbers its commit after this one.
        with self._locked_transaction() as cur:
            version = self._version + 1
            accepted = updated = 0
            newest = facts_delta = None
            places = (0, 0) if self._has_places(spec) else (None, None)
            if batch is not None and batch.num_rows:
                accepted, updated, places, newest, facts_delta = self._upsert(cur, spec, batch, version)
            if quarantined:
                self._quarantine(cur, feed, origin, quarantined)
            if not (accepted or updated or quarantined):
                return ApplyResult(0, 0, 0, self._version, *places)
            now = utcnow()
            cur.execute(
                "insert into commits values (?, ?, ?, ?, ?, ?)",
                [version, now, feed, accepted, updated, len(quarantined)],
            )
            cur.execute(
                """
                insert into feed_stats values ($feed, $newest, $now, $n, $q)
                on conflict (feed) do update set
                    last_record_at = greatest(feed_stats.last_record_at, excluded.last_record_at),
                    last_commit_at = excluded.last_commit_at,
                    records_total = feed_stats.records_total + excluded.records_total,
                    quarantined_total = feed_stats.quarantined_total + excluded.quarantined_total
                """,
                {"feed": feed, "newest": newest, "now": now, "n": accepted + updated, "q": len(quarantined)},
            )
        if facts_delta is not None:
            with self._facts_lock:
                self._facts_log.append((version, facts_delta))
                self._facts_log_rows += len(facts_delta["sign"])
                while len(self._facts_log) > FACT_LOG_BATCHES or self._facts_log_rows > FACT_LOG_ROWS:
                    self._facts_floor, dropped = self._facts_log.popleft()
                    self._facts_log_rows -= len(dropped["sign"])
        self._bump(version)
        return ApplyResult(accepted, updated, len(quarantined), version, *places)

    def _has_places(self, spec: TableSpec) -> bool:
        names = {name for name, _ in self._columns[spec.table]}
        return {"lat", "unit_ids"} <= names

    def _upsert(self, cur, spec: TableSpec, batch: pa.Table, version: int):
        columns = self._columns[spec.table]
        names = [name for name, _ in columns if name != "version"]
        present = set(batch.column_names)
        missing_keys = [k for k in spec.key if k not in present]
        if missing_keys:
            raise ValueError(f"batch for {spec.table} lacks key columns {missing_keys}")
        batch = batch.append_column("_ord", pa.array(range(batch.num_rows), pa.int64()))
        cur.register("_batch", batch)
        select = ", ".join(
            f"cast(b.{_quote(n)} as {t}) as {_quote(n)}" if n in present else f"cast(null as {t}) as {_quote(n)}"
            for n, t in columns
            if n != "version"
        )
        keys = ", ".join(_quote(k) for k in spec.key)
        # Last record per key wins inside a batch; identical rows already stored are dropped.
        cur.execute(
            f"""
            create or replace temp table _incoming as
            select {select} from _batch b
            qualify row_number() over (partition by {", ".join("b." + _quote(k) for k in spec.key)}
                                       order by b._ord desc) = 1
            """
        )
        cur.unregister("_batch")
        # A null in an incoming record never erases a stored value (partial updates, e.g. a closure).
        merged = ", ".join(
            f"{spec.merge.get(n, f'coalesce(i.{_quote(n)}, t.{_quote(n)})')} as {_quote(n)}" if n not in spec.key
            else f"i.{_quote(n)}"
            for n in names
        )
        join = " and ".join(f"i.{_quote(k)} = t.{_quote(k)}" for k in spec.key)
        m_join = " and ".join(f"m.{_quote(k)} = t.{_quote(k)}" for k in spec.key)
        differs = " or ".join(f"m.{_quote(n)} is distinct from t.{_quote(n)}" for n in names if n not in spec.key)
        old = "".join(f", t.{_quote(n)} as {_quote('_old_' + n)}" for n in spec.keep_old)
        cur.execute(
            f"""
            create or replace temp table _changes as
            with m as (select {merged} from _incoming i left join {spec.table} t on {join})
            select m.*, t.{_quote(spec.key[0])} is not null as _exists{old}
            from m left join {spec.table} t on {m_join}
            where t.{_quote(spec.key[0])} is null or ({differs or "false"})
            """
        )
        # Where the new records are: in no unit of the first level, with coordinates or without.
        place_counts = (", count(*) filter (where not _exists and unit_ids[1] is null and lat is not null)"
                        ", count(*) filter (where not _exists and unit_ids[1] is null and lat is null)"
                        if self._has_places(spec) else "")
        accepted, updated, *places = cur.execute(
            f"select count(*) filter (where not _exists), count(*) filter (where _exists){place_counts} from _changes"
        ).fetchall()[0]
        places = tuple(places) if places else (None, None)
        facts_delta = None
        if spec.table == "cases" and accepted + updated:
            self._case_events(cur, version)
            started = time.perf_counter()
            facts_delta = self._case_facts(cur)
            self.last_facts_refresh_ms = (time.perf_counter() - started) * 1000  # bench/bench_indicators.py
        column_list = ", ".join(_quote(n) for n in names)
        assignments = ", ".join(f"{_quote(n)} = excluded.{_quote(n)}" for n in names if n not in spec.key)
        assignments = (assignments + ", " if assignments else "") + "version = excluded.version"
        cur.execute(
            f"""
            insert into {spec.table} ({column_list}, version)
            select {column_list}, $version from _changes
            on conflict ({keys}) do update set {assignments}
            """,
            {"version": version},
        )
        newest = None
        if spec.time_column:
            newest = cur.execute(f"select max({_quote(spec.time_column)}) from _incoming").fetchall()[0][0]
        cur.execute("drop table _incoming")
        cur.execute("drop table _changes")
        return accepted, updated, places, newest, facts_delta

    def _case_events(self, cur, version: int) -> None:
        """Status history: a new case is 'accepted' at its report time; a status change is an event."""
        cur.execute(
            """
            insert or ignore into case_events
            with changed as (
                select c.*, c._old_status as old_status from _changes c
            )
            select case_id, 'accepted', reported_at, $version from changed where old_status is null
            union all
            select case_id, status,
                   case when status = 'closed' and closed_at is not null then closed_at
                        when old_status is null then reported_at
                        else $now end,
                   $version
            from changed
            where status is distinct from old_status and status <> 'accepted'
            """,
            {"version": version, "now": utcnow()},
        )

    def _case_facts(self, cur) -> dict | None:
        """Keep the narrow case facts (migration 012) equal to the cases, for this batch only.

        Only cases whose fact columns changed are touched: their old facts are deleted (the closed
        facts by close time first, so DuckDB's zone maps skip all but a few row groups) and the new
        ones appended; a case closing moves from the open facts to the end of the closed facts.
        Returns the batch's fact delta (_INDEX_DELTA) for the log readers catch up from, or None.
        """
        same = " and ".join(f"c.{n} is not distinct from c._old_{n}" for n in FACT_COLUMNS)
        cur.execute(f"create or replace temp table _facts as select * from _changes c where not (c._exists and {same})")
        if not cur.execute("select count(*) from _facts").fetchall()[0][0]:
            cur.execute("drop table _facts")
            return None
        cur.execute("delete from case_facts_open where case_id in (select case_id from _facts where _exists and _old_closed_at is null)")
        lo, hi = cur.execute("select min(_old_closed_at), max(_old_closed_at) from _facts where _exists").fetchall()[0]
        if lo is not None:
            cur.execute(
                "delete from case_facts_closed where closed_at >= $lo and closed_at <= $hi "
                "and case_id in (select case_id from _facts where _exists and _old_closed_at is not null)",
                {"lo": lo, "hi": hi},
            )
        for sql in _FACT_INSERTS:
            cur.execute(sql)
        delta = cur.execute(_INDEX_DELTA).fetchnumpy()
        cur.execute("drop table _delta")
        return delta

    def _quarantine(self, cur, feed: str, origin: str | None, rows: list[tuple[str, str]]) -> None:
        now = utcnow()
        raws = [raw if isinstance(raw, str) else json.dumps(raw, default=str) for raw, _ in rows]
        table = pa.table(
            {
                "feed": [feed] * len(rows),
                "origin": [origin] * len(rows),
                "raw": raws,
                "raw_hash": [hashlib.sha1(raw.encode()).hexdigest() for raw in raws],
                "reason": [reason for _, reason in rows],
                "received_at": pa.array([now] * len(rows), pa.timestamp("us")),
            }
        )
        cur.register("_q", table)
        cur.execute(
            "insert or ignore into quarantine (feed, origin, raw, raw_hash, reason, received_at) "
            "select distinct on (feed, raw_hash, reason) * from _q"
        )
        cur.unregister("_q")

    def backup_to(self, target: Path) -> int:
        """Copy the file to `target`, consistent, while the store runs: under the writer lock (no
        batch or command lands meanwhile; reads go on), after a checkpoint (the WAL folded in).
        Returns the data version of the copy."""
        with self._write_lock:
            self._con.execute("checkpoint")
            shutil.copyfile(self.path, target)
            return self._version

    def mark_reprocessed(self, quarantine_ids: list[int]) -> None:
        """Flag quarantine rows whose records were applied after a fix (rows are never deleted)."""
        if not quarantine_ids:
            return
        with self._transaction() as cur:
            cur.execute("update quarantine set reprocessed = true where list_contains($ids, quarantine_id)",
                        {"ids": list(quarantine_ids)})

    def replace_reference(self, tables: dict[str, pa.Table]) -> int:
        """Replace reference tables (units, departments, categories) from the city pack in one commit."""
        with self._transaction() as cur:
            changed = False
            for table, data in tables.items():
                cur.register("_ref", data)
                same = cur.execute(
                    f"select (select count(*) from (select * from {table} except select * from _ref)) = 0 "
                    f"and (select count(*) from (select * from _ref except select * from {table})) = 0"
                ).fetchall()[0][0]
                if not same:
                    cur.execute(f"delete from {table}")
                    cur.execute(f"insert into {table} select * from _ref")
                    changed = True
                cur.unregister("_ref")
            if not changed:
                return self._version
            version = self._version + 1
            cur.execute(
                "insert into commits values (?, ?, 'reference', ?, 0, 0)",
                [version, utcnow(), sum(t.num_rows for t in tables.values())],
            )
        self.reference_version = version
        self._bump(version)
        return version

    def _bump(self, version: int) -> None:
        self.last_commit_at = time.time()
        self._move_to(version)
