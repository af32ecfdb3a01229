"""Run every benchmark in bench/ and write bench/results.json (CONTRACT §7).

Each module bench/bench_*.py defines `run() -> list[Result]`; baselines are measured in the same
run. `python bench/run.py [name-substring ...]` runs a subset.
"""
from __future__ import annotations

import datetime as dt
import importlib.util
import json
import os
import platform
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))


@dataclass
class Result:
    name: str
    value: float
    unit: str
    baseline: dict | None = None  # {"name", "value"}

    @property
    def ratio(self) -> float | None:
        if not self.baseline or not self.baseline.get("value"):
            return None
        return self.value / self.baseline["value"]

    def as_dict(self) -> dict:
        out = asdict(self)
        out["ratio"] = None if self.ratio is None else round(self.ratio, 4)
        return out


def p95(values) -> float:
    """95th percentile (linear interpolation) of timings."""
    ordered = sorted(values)
    rank = 0.95 * (len(ordered) - 1)
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def timed(fn, runs: int) -> list[float]:
    """Milliseconds of fn(0), fn(1), ... fn(runs - 1)."""
    times = []
    for i in range(runs):
        started = time.perf_counter()
        fn(i)
        times.append((time.perf_counter() - started) * 1000)
    return times


def machine() -> dict:
    return {"platform": platform.platform(), "python": platform.python_version(), "cpus": os.cpu_count(),
            "processor": platform.processor() or platform.machine()}


def main(argv: list[str]) -> int:
    results: list[Result] = []
    for path in sorted(HERE.glob("bench_*.py")):
        if argv and not any(a in path.stem for a in argv):
            continue
        spec = importlib.util.spec_from_file_location(path.stem, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        print(f"== {path.stem}", flush=True)
        results.extend(module.run())
    report = {"at": dt.datetime.now(dt.UTC).isoformat(), "machine": machine(), "results": [r.as_dict() for r in results]}
    (HERE / "results.json").write_text(json.dumps(report, indent=2))
    print(f"\n{'name':45} {'value':>12} {'unit':8} {'baseline':>12} {'ratio':>8}")
    for r in results:
        base = "" if not r.baseline else f"{r.baseline['value']:.3f}"
        ratio = "" if r.ratio is None else f"{r.ratio:.2f}"
        print(f"{r.name:45} {r.value:12.3f} {r.unit:8} {base:>12} {ratio:>8}")
    print(f"\nwrote {HERE / 'results.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
