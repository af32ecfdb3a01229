"""indicators.*@10M: case indicators over 10 million cases on the Beijing pack (16 districts, 5,218 grid cells).

Data: 10M cases generated deterministically in DuckDB (hash of the row number: no randomness)
over the 365 days before NOW, 12 departments, skewed closing times, 2% never closed; written into
a real store file, then the writer's narrow case facts (migration 012) and rollups (migration 015)
are built, and the in-memory case index (indicators/caseindex.py, the last 70 days of facts) from
them. Windows starting within the index's horizon are answered from it (both timed paths below);
the DuckDB-only path (rollups for the overview, facts for the drill: indicators/compute.py
`_rollup_serves`) is timed too and printed for reference (`case_index_days = 0`).

- `indicators.overview_p95_ms@10M`: every case indicator, 30-day window, per district, through
  indicators.compute.compute (the console's path); baseline: the same numbers by DuckDB raw scan
  over every case (the case_flags definition, what ind_cases.sql did before the facts).
- `indicators.drill_p95_ms@10M`: every case indicator, 30-day window, the grid cells of one
  district (a district leader's scope), districts taken in turn and the window shifted by an hour
  each time (no two reads alike); baseline: DuckDB raw scan.
- `indicators.drill_vs_polars@10M`, `indicators.drill_vs_pandas@10M`: the same drill answer by
  raw scan of an in-memory frame of the cases (polars / pandas); value = their median time / our
  median time. The answers are checked equal to ours before timing.
- `indicators.incremental_refresh_ms@10M`: for a 10k-record batch (7,000 new cases + 3,000
  closures), the writer's refresh of facts and rollups plus the case index catching up with the
  batch's delta (what the next read waits for), p95 of 5 batches; baseline: rebuilding them from
  scratch. `indicators.case_index_build_ms@10M`: reading the index whole from DuckDB (at start,
  or when it cannot catch up), reported without a baseline. `feeds.case_batch_10k_apply_ms@10M` is the whole Store.apply of such a batch (upsert
  into the 10M-row cases table included), reported without a baseline.
"""
from __future__ import annotations

import datetime as dt
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

N = 10_000_000
NOW = dt.datetime(2026, 6, 1)
SPAN = dt.timedelta(days=365)
WINDOW = dt.timedelta(days=30)
RUNS = 40
STATS = ("cases_reported", "cases_closed", "cases_due", "open_backlog", "overdue_open", "median_close_hours")

CELLS = """
create or replace temp table _cells as
select row_number() over (order by unit_id) - 1 as n, parent_id as district, unit_id
from units where level = 'grid'
"""

GENERATE = """
insert into cases (case_id, source, category, reported_at, priority, department, due_at, status, closed_at,
                   unit_ids, outside_city, version)
with g as (
    select i, hash(i) as h1, hash(i + 1000000007) as h2, hash(i + 2000000011) as h3 from range($n) t(i)
),
t as (
    select i, h1, h2, h3,
           $t0 + to_microseconds(cast(i * ($span_us // $n) + cast(h3 % 60000000 as bigint) as bigint)) as reported_at,
           0.25 + pow((h2 % 10000) / 10000.0, 3) * 480 as close_hours,
           (h3 >> 8) % 100 < 2 as never
    from g
)
select 'B' || i, 'hotline', 'cat' || ((h1 >> 4) % 10), reported_at, 1 + (h1 >> 12) % 4,
       'dept' || ((h1 >> 8) % 12),
       reported_at + to_hours(cast([24, 72, 168, 360][cast(1 + h1 % 4 as bigint)] as bigint)),
       case when not never and reported_at + to_microseconds(cast(close_hours * 3600e6 as bigint)) <= $now
            then 'closed' else 'processing' end,
       case when not never and reported_at + to_microseconds(cast(close_hours * 3600e6 as bigint)) <= $now
            then reported_at + to_microseconds(cast(close_hours * 3600e6 as bigint)) end,
       [c.district, c.unit_id], false, 1
from t join _cells c on c.n = cast((t.h2 >> 16) % 5000 as bigint)
order by i
"""

RAW_STATS = """
select unit_id, count(*) filter (where reported) as cases_reported, count(*) filter (where closed) as cases_closed,
       count(*) filter (where due) as cases_due,
       count(*) filter (where backlog) as open_backlog, count(*) filter (where overdue) as overdue_open,
       median(date_diff('microsecond', reported_at, closed_at) / 3600e6) filter (where closed) as median_close_hours
from case_flags($lvl, $units, '', false, $level_index, false, 'beijing', $start, $end)
group by unit_id
"""


def _ours(rows) -> dict:
    """compute() rows -> {unit: (stats...)} with counts for the non-empty units."""
    out: dict = {}
    for row in rows:
        out.setdefault(row["unit_id"], {})[row["indicator"]] = row["value"]
    return {u: tuple(_round(v.get(s)) for s in STATS) for u, v in out.items() if v.get("cases_reported") or v.get("open_backlog")}


def _round(value):
    return None if value is None or value != value else round(float(value), 6)


def _drill_polars(df, district, start, end):
    import polars as pl

    d = df.filter(pl.col("district") == district)
    rep = (pl.col("reported_at") >= start) & (pl.col("reported_at") < end)
    closed = rep & (pl.col("closed_at") <= end).fill_null(False)
    due = rep & ((pl.col("closed_at") <= end).fill_null(False) | (pl.col("due_at") <= end).fill_null(False))
    on_time = closed & (pl.col("closed_at") <= pl.col("due_at")).fill_null(False)
    backlog = (pl.col("reported_at") < end) & (pl.col("closed_at").is_null() | (pl.col("closed_at") > end))
    overdue = backlog & (pl.col("due_at") < end).fill_null(False)
    hours = (pl.col("closed_at") - pl.col("reported_at")).dt.total_microseconds() / 3600e6
    return d.group_by("cell").agg(
        rep.sum().alias("r"), closed.sum().alias("c"), due.sum().alias("d"),
        backlog.sum().alias("b"), overdue.sum().alias("v"), hours.filter(closed).median().alias("m"),
        on_time.sum().alias("o"))


def _drill_pandas(df, district, start, end):
    d = df[df["district"] == district]
    s = d.assign(r=(d.reported_at >= start) & (d.reported_at < end))
    s = s.assign(c=s.r & (s.closed_at <= end))
    s = s.assign(d=s.r & ((s.closed_at <= end) | (s.due_at <= end)),
                 o=s.c & (s.closed_at <= s.due_at),
                 b=(s.reported_at < end) & (s.closed_at.isna() | (s.closed_at > end)))
    s = s.assign(v=s.b & (s.due_at < end),
                 h=((s.closed_at - s.reported_at).dt.total_seconds() / 3600).where(s.c))
    return s.groupby("cell", observed=True).agg(r=("r", "sum"), c=("c", "sum"), d=("d", "sum"), b=("b", "sum"),
                                                 v=("v", "sum"), m=("h", "median"), o=("o", "sum"))


def _frame_answer(rows) -> dict:
    """(unit, reported, closed, due, backlog, overdue, median, ...) rows -> {unit: the first six}."""
    return {cell: tuple(_round(x) for x in values[:6]) for cell, *values in rows if values[0] or values[3]}


def run():
    from bench.run import Result, p95, timed
    from datasources.citypack import load_pack
    from datasources.runtime import sync_pack
    from datasources.store import Store
    from indicators import caseindex
    from indicators.compute import compute
    from security.scope import Scope

    pack = load_pack(ROOT / "citypacks" / "beijing")
    case_ids = [i for i in ("cases_reported", "cases_closed", "cases_due", "closure_rate", "on_time_closure_rate",
                            "open_backlog", "overdue_open", "median_close_hours")]
    start, end = NOW - WINDOW, NOW
    with tempfile.TemporaryDirectory(prefix="citybrain-bench-") as tmp:
        store = Store(Path(tmp) / "bench.duckdb")
        sync_pack(store, pack)
        started = time.perf_counter()
        with store.write_transaction() as cur:
            cur.execute(CELLS)
            cur.execute(GENERATE, {"n": N, "t0": NOW - SPAN, "span_us": int(SPAN.total_seconds() * 1e6), "now": NOW})
        print(f"  generated {N:,} cases in {time.perf_counter() - started:.1f} s", flush=True)
        rebuild = timed(lambda i: store.rebuild_case_facts(), 1)
        print(f"  facts rebuilt from scratch in {min(rebuild):.0f} ms", flush=True)
        build_ms = timed(lambda i: caseindex.info(store), 1)
        index = caseindex.info(store)
        print(f"  case index built in {build_ms[0]:.0f} ms: {index['rows']:,} cases since {index['horizon']:%Y-%m-%d}, "
              f"{index['bytes'] / 2**20:.0f} MiB", flush=True)
        districts = [u for u in pack.level("district").units.unit_id]

        def overview(i):
            return compute(store, pack, Scope.city(), "district", start - dt.timedelta(hours=i), end - dt.timedelta(hours=i),
                           case_ids)

        def drill(i):
            return compute(store, pack, Scope(level_index=1, unit_ids=(districts[i % len(districts)],)), "grid",
                           start - dt.timedelta(hours=i), end - dt.timedelta(hours=i), case_ids)

        cur = store.cursor()

        def raw(level_index, lvl, units, i):
            return cur.execute(RAW_STATS, {"lvl": lvl, "units": units, "level_index": level_index,
                                           "start": start - dt.timedelta(hours=i), "end": end - dt.timedelta(hours=i)}).fetchall()

        # The facts answer what the full definition answers.
        assert _ours(overview(0)) == _frame_answer(raw(1, 0, [], 0)), "overview from facts differs from the raw scan"
        overview(1), drill(1)  # warm
        overview_ms = timed(overview, RUNS)
        overview_raw_ms = timed(lambda i: raw(1, 0, [], i), 10)
        drill_ms = timed(drill, RUNS)
        drill_raw_ms = timed(lambda i: raw(2, 1, [districts[i % len(districts)]], 0), 10)
        print(f"  overview p95 {p95(overview_ms):.1f} ms (raw {statistics.median(overview_raw_ms):.0f}), "
              f"drill p95 {p95(drill_ms):.1f} ms (raw {statistics.median(drill_raw_ms):.0f})", flush=True)
        store.case_index_days = 0  # the DuckDB-only path, for reference
        assert _ours(overview(0)) == _frame_answer(raw(1, 0, [], 0)), "overview from the rollups differs"
        overview_sql_ms, drill_sql_ms = timed(overview, RUNS // 2), timed(drill, RUNS // 2)
        store.case_index_days = 70
        print(f"  without the case index: overview p95 {p95(overview_sql_ms):.1f} ms, drill p95 {p95(drill_sql_ms):.1f} ms",
              flush=True)

        # polars / pandas: the same drill from an in-memory frame of every case.
        import polars as pl

        table = cur.sql("select unit_ids[1] as district, unit_ids[2] as cell, department, reported_at, closed_at, due_at "
                            "from cases").to_arrow_table()
        frame_pl = pl.from_arrow(table).with_columns(pl.col("district").cast(pl.Categorical), pl.col("cell").cast(pl.Categorical))
        frame_pd = table.to_pandas()
        frame_pd["district"] = frame_pd["district"].astype("category")
        frame_pd["cell"] = frame_pd["cell"].astype("category")
        del table
        district = districts[0]
        ours = _ours(compute(store, pack, Scope(level_index=1, unit_ids=(district,)), "grid", start, end, case_ids))
        assert _frame_answer(_drill_polars(frame_pl, district, start, end).rows()) == ours, "polars answer differs"
        assert _frame_answer(_drill_pandas(frame_pd, district, start, end).itertuples()) == ours, "pandas answer differs"
        polars_ms = timed(lambda i: _drill_polars(frame_pl, districts[i % len(districts)], start, end), 10)
        pandas_ms = timed(lambda i: _drill_pandas(frame_pd, districts[i % len(districts)], start, end), 5)
        del frame_pl, frame_pd
        print(f"  drill by polars {statistics.median(polars_ms):.0f} ms, pandas {statistics.median(pandas_ms):.0f} ms", flush=True)

        # Incremental refresh: 10k-record batches (7,000 new cases + 3,000 closures of open ones).
        refresh_ms, apply_ms, writer_ms, catch_up_ms = [], [], [], []
        open_ids = [r[0] for r in cur.execute("select case_id from case_facts_open order by case_id limit 15000").fetchall()]
        rng = np.random.default_rng(4)
        cells = cur.execute("select parent_id, unit_id from units where level = 'grid' order by unit_id").fetchall()
        for b in range(5):
            now = NOW + dt.timedelta(minutes=10 * b)
            picks = rng.integers(0, len(cells), 7000)
            new = {"case_id": [f"N{b}-{i}" for i in range(7000)],
                   "reported_at": [now - dt.timedelta(seconds=int(s)) for s in rng.integers(0, 600, 7000)],
                   "category": ["cat1"] * 7000, "status": ["accepted"] * 7000,
                   "department": [f"dept{int(x)}" for x in rng.integers(0, 12, 7000)],
                   "unit_ids": [list(cells[p]) for p in picks], "closed_at": [None] * 7000, "due_at": [now + dt.timedelta(days=3)] * 7000}
            closing = open_ids[b * 3000:(b + 1) * 3000]
            old = dict(((r[0], r[1:]) for r in cur.execute(
                "select case_id, category, department, unit_ids, reported_at, due_at from cases where list_contains(?, case_id)",
                [closing]).fetchall()))
            for cid in closing:
                category, department, units, reported, due = old[cid]
                new["case_id"].append(cid)
                new["reported_at"].append(reported)
                new["category"].append(category)
                new["status"].append("closed")
                new["department"].append(department)
                new["unit_ids"].append(units)
                new["closed_at"].append(now)
                new["due_at"].append(due)
            batch = pa.table({k: new[k] for k in new}).cast(pa.schema([
                ("case_id", pa.string()), ("reported_at", pa.timestamp("us")), ("category", pa.string()),
                ("status", pa.string()), ("department", pa.string()), ("unit_ids", pa.list_(pa.string())),
                ("closed_at", pa.timestamp("us")), ("due_at", pa.timestamp("us"))]))
            started = time.perf_counter()
            result = store.apply("cases", "cases", batch)
            apply_ms.append((time.perf_counter() - started) * 1000)
            writer_ms.append(store.last_facts_refresh_ms)
            catch_up_ms.append(timed(lambda i: caseindex.info(store), 1)[0])
            refresh_ms.append(writer_ms[-1] + catch_up_ms[-1])
            assert caseindex.info(store)["built_version"] == index["built_version"], "the index was rebuilt, not caught up"
            assert (result.accepted, result.updated) == (7000, 3000), result
        after = _ours(overview(0))
        store.rebuild_case_facts()
        assert _ours(overview(0)) == after, "incremental facts differ from a rebuild after the batches"
        print(f"  10k batch: writer facts refresh {[round(x) for x in writer_ms]} ms + index catch-up "
              f"{[round(x) for x in catch_up_ms]} ms, whole apply {[round(x) for x in apply_ms]} ms", flush=True)
        store.close()

    def med(values):
        return statistics.median(values)

    return [
        Result("indicators.overview_p95_ms@10M", round(p95(overview_ms), 2), "ms",
               {"name": "duckdb_raw_scan_ms", "value": round(med(overview_raw_ms), 2)}),
        Result("indicators.drill_p95_ms@10M", round(p95(drill_ms), 2), "ms",
               {"name": "duckdb_raw_scan_ms", "value": round(med(drill_raw_ms), 2)}),
        Result("indicators.drill_vs_polars@10M", round(med(polars_ms) / med(drill_ms), 2), "x",
               {"name": "polars_raw_scan_ms", "value": round(med(polars_ms), 2)}),
        Result("indicators.drill_vs_pandas@10M", round(med(pandas_ms) / med(drill_ms), 2), "x",
               {"name": "pandas_raw_scan_ms", "value": round(med(pandas_ms), 2)}),
        Result("indicators.incremental_refresh_ms@10M", round(p95(refresh_ms), 2), "ms",
               {"name": "full_facts_rebuild_ms", "value": round(min(rebuild), 2)}),
        Result("feeds.case_batch_10k_apply_ms@10M", round(p95(apply_ms), 2), "ms", None),
        Result("indicators.case_index_build_ms@10M", round(build_ms[0], 2), "ms", None),
        Result("indicators.overview_duckdb_only_p95_ms@10M", round(p95(overview_sql_ms), 2), "ms", None),
        Result("indicators.drill_duckdb_only_p95_ms@10M", round(p95(drill_sql_ms), 2), "ms", None),
    ]
