"""Peak memory of a large CSV import: `python -m bench.import_memory [--mb 200] [--keep FILE] [--chunk-rows N]`.

Writes a generated case CSV of about --mb megabytes (Beijing pack categories, points in the city,
Chinese descriptions), imports it with `ingest_file` into a fresh store in a child process and
prints the child's peak RSS, the wall time and the import summary. Not part of `make bench` (a
200 MB import takes minutes on a small machine).
"""
from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

CATEGORIES = ["manhole_cover", "street_light", "road_facility", "garbage_exposed", "illegal_parking", "noise"]
SOURCES = ["hotline", "app", "grid_inspector", "wechat"]


def write_csv(path: Path, megabytes: float) -> int:
    """A case CSV of about `megabytes` MB; returns the number of data rows."""
    target = int(megabytes * 1024 * 1024)
    rows = 0
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write("case_id,source,category,description,reported_at,lat,lon,address,status\n")
        written = 0
        while written < target:
            lines = []
            for i in range(rows, rows + 10_000):
                lat = 39.85 + (i * 7919 % 10_000) / 50_000
                lon = 116.30 + (i * 104_729 % 10_000) / 50_000
                day, minute = 1 + i % 28, i % 1440
                lines.append(
                    f"G-{i:09d},{SOURCES[i % 4]},{CATEGORIES[i % 6]},\"第{i}号 路面问题, 请尽快处理\","
                    f"2026-02-{day:02d} {minute // 60:02d}:{minute % 60:02d},{lat:.6f},{lon:.6f},"
                    f"东城区某街{i % 300}号,accepted\n"
                )
            chunk = "".join(lines)
            out.write(chunk)
            written += len(chunk.encode())
            rows += 10_000
    return rows


def _child(csv_path: str, data_dir: str, chunk_rows: str) -> None:
    from datasources.citypack import load_pack
    from datasources.ingest import ingest_file
    from datasources.runtime import sync_pack
    from datasources.store import Store

    pack = load_pack(ROOT / "citypacks" / "beijing")
    store = Store(Path(data_dir) / "bench.duckdb")
    sync_pack(store, pack)
    started = time.perf_counter()
    summary = ingest_file(store, pack, "cases", Path(csv_path), chunk_rows=int(chunk_rows))
    elapsed = time.perf_counter() - started
    store.close()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    print(json.dumps({"peak_rss_mb": round(usage.ru_maxrss / 1024), "seconds": round(elapsed, 1),
                      "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 1),
                      "accepted": summary["accepted"], "quarantined": summary["quarantined"]}))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=200)
    parser.add_argument("--keep", type=Path, help="write (or reuse) the CSV here instead of a temp file")
    parser.add_argument("--chunk-rows", type=int, default=100_000)
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        _child(*args.child)
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        path = args.keep or Path(tmp) / "cases.csv"
        if not path.exists():
            rows = write_csv(path, args.mb)
            print(f"wrote {path} ({path.stat().st_size / 2**20:.0f} MB, {rows} rows)", file=sys.stderr)
        result = subprocess.run([sys.executable, "-m", "bench.import_memory", "--child", str(path), tmp,
                                 str(args.chunk_rows)],
                                cwd=ROOT, capture_output=True, text=True)
        if result.returncode:
            print(result.stderr, file=sys.stderr)
            return result.returncode
        print(result.stdout.strip().splitlines()[-1])
    return 0


if __name__ == "__main__":
    sys.exit(main())
