"""feeds.import_council_cases_s: the 341k-row NYC council file through the mapping into a fresh store.

Baseline in the same run: reading the Parquet file alone (the floor any import pays).
"""
from __future__ import annotations

import tempfile
import time
from pathlib import Path

import pandas as pd

from datasources.citypack import load_pack
from datasources.ingest import ingest_file
from datasources.runtime import sync_pack
from datasources.store import Store

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data" / "nyc-council-cases" / "council_constituent_cases.parquet"


def run():
    from bench.run import Result

    pack = load_pack(ROOT / "citypacks" / "nyc")
    started = time.perf_counter()
    pd.read_parquet(DATA)
    read_s = time.perf_counter() - started
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp) / "bench.duckdb")
        sync_pack(store, pack)
        started = time.perf_counter()
        summary = ingest_file(store, pack, "cases", DATA, ROOT / "mappings" / "nyc_council_cases.toml")
        elapsed = time.perf_counter() - started
        store.close()
    print(f"imported {summary['accepted']} cases, quarantined {summary['quarantined']} in {elapsed:.2f} s")
    return [Result("feeds.import_council_cases_s", round(elapsed, 3), "s",
                   {"name": "read_parquet_only_s", "value": round(read_s, 3)})]
