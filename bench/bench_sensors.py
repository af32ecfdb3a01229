"""indicators.sensor_*@50M: air and device indicators over 50 million readings on the Beijing pack.

Data: 1,000 air-quality devices on the pack's grid cells (deterministic placement), each reporting
pm25 about every 10.5 minutes over the 365 days before NOW: 50M readings generated in DuckDB from
a hash of the row number (no randomness), written into a real store file in time order, as feeds
arrive; a few devices fall silent for hours so completeness and online rate are not all 1.

- `indicators.sensor_overview_p95_ms@50M`: pm25_mean, pm25_exceed_hours, device_online_rate and
  data_completeness per district for a 1-day window (their default), through
  indicators.compute.compute; the window moves by an hour per run. Baseline: the same answer by
  polars from an in-memory frame of every reading (raw scan); answers checked equal first.
- `indicators.sensor_drill_p95_ms@50M`: the same for the grid cells of one district; baseline polars.
"""
from __future__ import annotations

import datetime as dt
import math
import statistics
import sys
import tempfile
import time
from pathlib import Path


ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

N = 50_000_000
DEVICES = 1_000
NOW = dt.datetime(2026, 6, 1)
SPAN = dt.timedelta(days=365)
WINDOW = dt.timedelta(days=1)
RUNS = 30
IDS = ["pm25_mean", "pm25_exceed_hours", "device_online_rate", "data_completeness"]

DEVICES_SQL = """
insert into devices (device_id, kind, name, lat, lon, metrics, unit_ids, outside_city, version)
with cells as (select row_number() over (order by unit_id) - 1 as n, parent_id, unit_id from units where level = 'grid')
select 'S' || lpad(cast(i as varchar), 4, '0'), 'air_quality', null, null, null, ['pm25'],
       [c.parent_id, c.unit_id], false, 1
from range($devices) t(i)
join cells c on c.n = cast(hash(i * 7919) % (select count(*) from cells) as bigint)
"""

# Device d's k-th reading: k * step + jitter; a device is silent for 6 h when hash(d, day) says so.
READINGS_SQL = """
insert into readings (device_id, metric, observed_at, value, unit, version)
with g as (
    select i, i % $devices as d, i // $devices as k, hash(i) as h from range($n) t(i)
)
select 'S' || lpad(cast(d as varchar), 4, '0'), 'pm25',
       $t0 + to_microseconds(cast(k * $step_us + h % ($step_us // 2) as bigint)),
       round(8 + pow((h >> 20) % 10000 / 10000.0, 2.5) * 160, 1), 'ug/m3', 1
from g
where hash(d * 1000003 + (k * $step_us) // 21600000000) % 50 <> 0
order by i
"""


def _polars(frame, devices, unit_col, units, start, end):
    """The same four indicators from an in-memory frame of every reading (raw scan)."""
    import polars as pl

    h0 = (start + dt.timedelta(hours=1) - dt.timedelta(microseconds=1)).replace(minute=0, second=0, microsecond=0)
    h1 = end.replace(minute=0, second=0, microsecond=0)
    hours = max(int((h1 - h0).total_seconds() // 3600), 0)
    devs = devices.filter(pl.col(unit_col).is_in(units))
    win = frame.filter((pl.col("observed_at") >= start) & (pl.col("observed_at") < end)).join(devs, on="device_id")
    mean = win.group_by(unit_col).agg(pl.col("value").mean().alias("mean"))
    hourly = win.group_by(unit_col, "device_id", pl.col("observed_at").dt.truncate("1h").alias("hour")).agg(
        pl.col("value").mean().round(9).alias("m"))
    exceed = hourly.group_by(unit_col).agg((pl.col("m") > 75).sum().alias("exceed"))
    online = frame.filter((pl.col("observed_at") >= end - dt.timedelta(minutes=15)) & (pl.col("observed_at") < end)) \
        .select("device_id").unique().join(devs, on="device_id").group_by(unit_col).agg(pl.len().alias("online"))
    captured = win.filter((pl.col("observed_at") >= h0) & (pl.col("observed_at") < h1)) \
        .select(unit_col, "device_id", pl.col("observed_at").dt.truncate("1h").alias("hour")).unique() \
        .group_by(unit_col).agg(pl.len().alias("captured"))
    counts = devs.group_by(unit_col).agg(pl.len().alias("devices"))
    out = counts.join(mean, on=unit_col, how="left").join(exceed, on=unit_col, how="left") \
        .join(online, on=unit_col, how="left").join(captured, on=unit_col, how="left")
    return {row[unit_col]: (row["mean"], row["exceed"] or 0, (row["online"] or 0) / row["devices"],
                            (row["captured"] or 0) / (row["devices"] * hours) if hours else None)
            for row in out.iter_rows(named=True)}


def _ours(rows) -> dict:
    out: dict = {}
    for row in rows:
        out.setdefault(row["unit_id"], {})[row["indicator"]] = row["value"]
    return {u: tuple(v[i] for i in IDS) for u, v in out.items() if v.get("device_online_rate") is not None}


def _same(ours: dict, theirs: dict) -> list:
    """Units whose answers differ (floats to 1e-9 relative: sums of 50M values depend on their order)."""
    def close(a, b):
        return a == b or (a is not None and b is not None and math.isclose(a, b, rel_tol=1e-9))
    return [(u, ours.get(u), theirs.get(u)) for u in sorted(set(ours) | set(theirs))
            if u not in ours or u not in theirs or not all(close(a, b) for a, b in zip(ours[u], theirs[u]))]


def run(n: int = N):
    from bench.run import Result, p95, timed
    from datasources.citypack import load_pack
    from datasources.runtime import sync_pack
    from datasources.store import Store
    from indicators.compute import compute
    from security.scope import Scope

    pack = load_pack(ROOT / "citypacks" / "beijing")
    districts = list(pack.level("district").units.unit_id)
    step_us = int(SPAN.total_seconds() * 1e6) * DEVICES // n
    with tempfile.TemporaryDirectory(prefix="citybrain-bench-") as tmp:
        store = Store(Path(tmp) / "bench.duckdb")
        sync_pack(store, pack)
        started = time.perf_counter()
        with store.write_transaction() as cur:
            cur.execute("delete from readings")
            cur.execute("delete from devices")
            cur.execute(DEVICES_SQL, {"devices": DEVICES})
            cur.execute(READINGS_SQL, {"n": n, "devices": DEVICES, "t0": NOW - SPAN, "step_us": step_us})
        cur = store.cursor()
        count = cur.execute("select count(*) from readings").fetchall()[0][0]
        print(f"  generated {count:,} readings from {DEVICES:,} devices in {time.perf_counter() - started:.1f} s", flush=True)

        def window(i):
            end = NOW - dt.timedelta(hours=i, minutes=7)
            return end - WINDOW, end

        def overview(i):
            return compute(store, pack, Scope.city(), "district", *window(i), IDS)

        def drill(i):
            return compute(store, pack, Scope(level_index=1, unit_ids=(districts[i % len(districts)],)), "grid", *window(i), IDS)

        overview(0), drill(0)  # warm
        overview_ms = timed(overview, RUNS)
        drill_ms = timed(drill, RUNS)
        print(f"  overview p95 {p95(overview_ms):.1f} ms, drill p95 {p95(drill_ms):.1f} ms", flush=True)

        import polars as pl

        frame = pl.from_arrow(cur.sql("select device_id, observed_at, value from readings").to_arrow_table()) \
            .with_columns(pl.col("device_id").cast(pl.Categorical))
        devices = pl.from_arrow(cur.sql(
            "select device_id, unit_ids[1] as district, unit_ids[2] as cell from devices").to_arrow_table()) \
            .with_columns(pl.col("device_id").cast(pl.Categorical))
        start, end = window(3)
        want = _polars(frame, devices, "district", districts, start, end)
        differ = _same(_ours(overview(3)), want)
        assert not differ, f"overview differs from polars: {differ[:3]}"
        district = districts[3]
        cells = devices.filter(pl.col("district") == district)["cell"].unique().to_list()
        differ = _same(_ours(drill(3)), _polars(frame, devices, "cell", cells, start, end))
        assert not differ, f"drill differs from polars: {differ[:3]}"
        assert any(v[1] for v in want.values()) and any(v[3] < 1 for v in want.values()), "degenerate data"

        def polars_drill(i):
            d = districts[i % len(districts)]
            cells = devices.filter(pl.col("district") == d)["cell"].unique().to_list()
            return _polars(frame, devices, "cell", cells, *window(i))

        polars_overview_ms = timed(lambda i: _polars(frame, devices, "district", districts, *window(i)), 5)
        polars_drill_ms = timed(polars_drill, 5)
        del frame
        print(f"  polars overview {statistics.median(polars_overview_ms):.0f} ms, drill {statistics.median(polars_drill_ms):.0f} ms",
              flush=True)
        store.close()

    label = f"@{n // 1_000_000}M"
    return [
        Result(f"indicators.sensor_overview_p95_ms{label}", round(p95(overview_ms), 2), "ms",
               {"name": "polars_raw_scan_ms", "value": round(statistics.median(polars_overview_ms), 2)}),
        Result(f"indicators.sensor_drill_p95_ms{label}", round(p95(drill_ms), 2), "ms",
               {"name": "polars_raw_scan_ms", "value": round(statistics.median(polars_drill_ms), 2)}),
    ]


if __name__ == "__main__":
    for result in run(int(sys.argv[1]) if len(sys.argv) > 1 else N):
        print(result.as_dict())
