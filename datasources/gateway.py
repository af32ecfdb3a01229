"""The one SQL gateway: named SQL files, bound parameters, the caller's scope on every read.

    rows = gateway.query(store, "open_cases_by_unit", Scope.city(), level_index=1)

SQL lives in datasources/sql/<name>.sql and reads feed tables only through the scoped macros
(`scoped_cases($scope_level, $scope_units, $scope_dept, $scope_pii)` ...); tests/unit/test_sql_files.py
fails if a file reads a feed table directly. Parameters are always bound, never formatted in.
Writes to administrative tables (users, tokens, ...) live in datasources/sql/write/<name>.sql:

    rows = gateway.write(store, "user_disable", user_name="zhang")      # one statement, one transaction
    rows = gateway.execute(cur, "user_login_failed", ...)                # inside a write_transaction
"""
from __future__ import annotations

import functools
import logging
import re
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from datasources import timedomain
from security.scope import Scope

log = logging.getLogger(__name__)

SQL_DIR = Path(__file__).with_name("sql")
WRITE_DIR = SQL_DIR / "write"
_PARAM = re.compile(r"\$([a-z_][a-z0-9_]*)")


@functools.cache
def load_sql(name: str, folder: Path = SQL_DIR) -> tuple[str, frozenset[str]]:
    """The text of datasources/sql/<name>.sql (or of `folder`) and the names of its $parameters."""
    if not re.fullmatch(r"[a-z0-9_]+", name):
        raise ValueError(f"bad SQL name {name!r}")
    text = (folder / f"{name}.sql").read_text()
    return text, frozenset(_PARAM.findall(text))


def _bind(name: str, wanted: frozenset[str], values: dict) -> dict:
    missing = wanted - values.keys()
    if missing:
        raise ValueError(f"{name}.sql needs parameters {sorted(missing)}")
    return {key: values[key] for key in wanted}


def query(store, name: str, scope: Scope, **params) -> pa.Table:
    """Run SQL file `name` with `params` bound and `scope` applied; returns an Arrow table."""
    if not isinstance(scope, Scope):
        raise TypeError("every read needs a Scope")
    sql, wanted = load_sql(name)
    bound = _bind(name, wanted, {**scope.params(), **params})
    started = time.perf_counter()
    remote = getattr(store, "read_named", None)  # a process beside the writer (datasources/remote.py)
    table = remote(name, bound) if remote is not None else store.cursor().sql(sql, params=bound).to_arrow_table()
    elapsed_ms = (time.perf_counter() - started) * 1000
    log.debug("sql %s %.1f ms %d rows", name, elapsed_ms, table.num_rows)
    return clamp_times(table, getattr(store, "time_domain", None) or timedomain.DEFAULT)


def clamp_times(table: pa.Table, domain: timedomain.TimeDomain) -> pa.Table:
    """Timestamps outside the time domain moved to its edges (nulls stay null).

    Ingest refuses such times, but a store may hold some from before it did (year 1, BC): one of
    them must not make a read fail for everyone (Python datetimes stop at year 1; a zone offset or a
    window computed from it overflows). The check is one min/max scan per timestamp column.
    """
    if not table.num_rows:
        return table
    for index, field in enumerate(table.schema):
        if not pa.types.is_timestamp(field.type):
            continue
        kind = pa.timestamp(field.type.unit, tz=field.type.tz)
        lower, upper = pa.scalar(domain.lower, kind), pa.scalar(domain.upper, kind)
        column = table.column(index)
        extremes = pc.min_max(column)
        if extremes["min"].is_valid and (pc.less(extremes["min"], lower).as_py() or pc.greater(extremes["max"], upper).as_py()):
            column = pc.if_else(pc.less(column, lower), lower, column)
            column = pc.if_else(pc.greater(column, upper), upper, column)
            table = table.set_column(index, field, column)
    return table


def query_rows(store, name: str, scope: Scope, **params) -> list[dict]:
    return query(store, name, scope, **params).to_pylist()


def write(store, name: str, **params) -> list[tuple]:
    """Run write statement datasources/sql/write/<name>.sql under the store's writer lock (in the
    writer when `store` is a RemoteStore); returns the rows of its `returning` clause."""
    sql, wanted = load_sql(name, WRITE_DIR)
    return store.execute_write(sql, _bind(name, wanted, params))


def execute(cur, name: str, **params) -> list[tuple]:
    """write() on the cursor of a write transaction the caller holds (several statements, one commit)."""
    sql, wanted = load_sql(name, WRITE_DIR)
    cur.execute(sql, _bind(name, wanted, params))
    return cur.fetchall()
