"""console.*@N: the console under many concurrent sessions (CONTRACT §7, wave 2).

`python app.py serve --workers N` is started as a user would (demo mode, 3 days of history, the
simulator on); `--workers 2` for the curve, `--workers 1` for the baseline. A `serve` without the
option (it rejects `--workers` with a usage error) is run without it and the mode recorded as
"single". What a real Chromium sends is recorded once per page kind (bench/loadcapture.py) and
replayed by N simulated sessions (bench/loadgen.py, asyncio in worker processes; the server side in
bench/loadserver.py): 20 % wall (guest),
30 % overview and 20 % unit pages (commander; the unit pages spread over the districts), 30 %
queues (`dept-<id>` users). Meanwhile one new case is pushed every 2 s through the API, and
/healthz is polled every 0.5 s.

Per N, over the steady window after the ramp-up:
- callback p95 (all callbacks, and per callback), version poll p95 (or, with `/events`, the
  delivery delay of the version that contains a pushed case), errors (non-2xx, > 10 s, resets);
- event_to_screen: per pushed case and open wall/overview session, from the push's answer until
  that session completed its version-triggered callbacks for a version >= the one holding the case
  (the version /healthz reports right after the push: conservative by at most one simulator batch);
- version_gap_max: the longest time between two data-version advances seen by /healthz;
- the generator's own CPU (worker processes and this process) and the server's, so the numbers can
  be judged: generator and server share the machine.
A step that collapses (more than half of the requests failing for 10 s) stops early.

    python bench/bench_load.py --sessions 30,100 --workers 2 --duration 30
"""
from __future__ import annotations

import argparse
import datetime as dt
import http.client
import json
import math
import multiprocessing
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.loadserver import (HealthPoller, Producer, Server, cpu_snapshot, http_get, login,  # noqa: E402
                              probe_events, start_server, stop_server_proc, wait_calm)

OUT = ROOT / "var" / "bench-load"
CURVE = (1, 30, 100, 200, 400)
HEADLINE_N = 200
MIX = (("wall", 0.2), ("overview", 0.3), ("unit", 0.2), ("queue", 0.3))
PAGE_USERS = {"wall": None, "overview": "commander", "unit": "commander", "queue": "dept-"}
QUEUE_USERS = 6  # distinct dept-<id> users (logins are limited to 10 a minute per address)
STEADY_S, SETTLE_S, COOLDOWN_S = 45.0, 5.0, 5.0
P95_GOAL_MS = 150.0
COLLAPSE_ERROR_RATIO, COLLAPSE_AFTER_S = 0.5, 10.0


def p95(values) -> float | None:
    from bench.run import p95 as _p95

    return round(_p95(values), 3) if values else None


# ---------------------------------------------------------------------------- sessions


def session_kinds(n: int) -> list[str]:
    """n page kinds in the MIX proportions, interleaved (smooth weighted round robin)."""
    current = {kind: 0.0 for kind, _ in MIX}
    kinds = []
    for _ in range(n):
        for kind, weight in MIX:
            current[kind] += weight
        best = max(current, key=current.get)
        current[best] -= 1.0
        kinds.append(best)
    return kinds


def plan_sessions(n: int, server: Server, districts: list[str], queue_users: list[str]) -> list[dict]:
    specs = []
    counters = {"unit": 0, "queue": 0}
    for i, kind in enumerate(session_kinds(n)):
        page, user = kind, PAGE_USERS[kind]
        if kind == "unit":
            page = f"unit:{districts[counters['unit'] % len(districts)]}"
            counters["unit"] += 1
        elif kind == "queue":
            user = queue_users[counters["queue"] % len(queue_users)]
            counters["queue"] += 1
        specs.append({"id": i, "kind": kind, "page": page, "user": user,
                      "cookies": dict(server.cookies[user]) if user else {}})
    return specs


# ---------------------------------------------------------------------------- one step of the curve


def run_step(server: Server, pages: dict, n: int, duration: float, sse_path: str | None, points, category,
             districts, queue_users) -> dict:
    from bench.loadgen import worker_main

    specs = plan_sessions(n, server, districts, queue_users)
    processes = 1 if n <= 50 else min(4, math.ceil(n / 100))
    ramp_s = min(10.0, max(1.0, n / 40))
    t0 = time.monotonic() + 2.0  # the worker processes start meanwhile
    for i, spec in enumerate(specs):
        spec["start_at"] = t0 + i * ramp_s / n
    steady_start = t0 + ramp_s + SETTLE_S
    steady_end = steady_start + duration
    end_at = steady_end + COOLDOWN_S
    host, port = "127.0.0.1", server.port
    context = multiprocessing.get_context("spawn")
    progress, stop_event = context.Queue(), context.Event()
    workers = []
    for w in range(processes):
        config = {"worker": w, "host": host, "port": port, "sse_path": sse_path, "pages": pages,
                  "sessions": specs[w::processes], "steady_start": steady_start, "steady_end": steady_end,
                  "end_at": end_at}
        proc = context.Process(target=worker_main, args=(config, progress, stop_event), daemon=True)
        proc.start()
        workers.append(proc)
    producer = Producer(server, points, category, f"{n}-{int(time.time())}", end_at)
    poller = HealthPoller(server, end_at)
    producer.start()
    poller.start()

    cpu_start = cpu_end = None
    results, failures = {}, {}
    window: dict[int, list] = {}  # worker -> recent (when, requests, errors)
    aborted_at = None
    while len(results) + len(failures) < processes:
        now = time.monotonic()
        if cpu_start is None and now >= steady_start:
            cpu_start = cpu_snapshot(server)
        if cpu_start is not None and cpu_end is None and now >= (aborted_at or steady_end):
            cpu_end = cpu_snapshot(server)
        try:
            message = progress.get(timeout=0.5)
        except Exception:
            if not any(p.is_alive() for p in workers) and progress.empty():
                break
            continue
        kind, worker = message[0], message[1]
        if kind == "result":
            results[worker] = message[2]
        elif kind == "failed":
            failures[worker] = message[2]
        elif kind == "progress":
            _, _, when, requests, errors, _started = message
            window.setdefault(worker, []).append((when, requests, errors))
            recent = [x for w in window.values() for x in w if x[0] > when - COLLAPSE_AFTER_S]
            total = sum(x[1] for x in recent)
            failed = sum(x[2] for x in recent)
            if (aborted_at is None and when > steady_start + COLLAPSE_AFTER_S and total
                    and failed / total > COLLAPSE_ERROR_RATIO):
                aborted_at = time.monotonic()
                print(f"  N={n}: {failed}/{total} requests failed in the last {COLLAPSE_AFTER_S:.0f} s: stopping early",
                      flush=True)
                stop_event.set()
            if server.proc.poll() is not None and aborted_at is None:
                aborted_at = time.monotonic()
                print(f"  N={n}: the server exited ({server.proc.returncode}): stopping", flush=True)
                stop_event.set()
    for proc in workers:
        proc.join(timeout=30)
    producer.stop.set()
    poller.stop.set()
    producer.join(timeout=15)
    poller.join(timeout=15)
    if failures:
        raise RuntimeError(f"load generator failed: {failures}")
    cpu_start = cpu_start or cpu_snapshot(server)
    cpu_end = cpu_end or cpu_snapshot(server)
    cpu = {key: cpu_end[key] - cpu_start[key] for key in cpu_start}
    measured_end = min(steady_end, aborted_at or steady_end)
    sessions_end = min(end_at, aborted_at or end_at)  # what was not on screen by then never was
    return summarize(n, server.mode, sse_path, pages, results, producer.events, poller.samples,
                     steady_start, measured_end, sessions_end, aborted_at is not None, processes, cpu)


def summarize(n, mode, sse_path, pages, results, events, health, steady_start, steady_end, end_at, aborted,
              processes, cpu) -> dict:
    seconds = max(1e-9, steady_end - steady_start)
    samples: dict[str, list[float]] = {}
    page_samples: dict[str, list[float]] = {}
    errors_by: dict[str, dict[str, int]] = {}
    stats = {"requests": 0, "errors": 0, "skipped_ticks": 0, "reconnects": 0, "sse_reconnects": 0, "started": 0}
    gen_cpu_s, lags, initial, sessions, examples = 0.0, [], [], [], []
    for payload in results.values():
        for name, values in payload["samples"].items():
            samples.setdefault(name, []).extend(values)
        for name, kinds in payload["errors"].items():
            for kind, count in kinds.items():
                errors_by.setdefault(name, {})
                errors_by[name][kind] = errors_by[name].get(kind, 0) + count
        for key in stats:
            stats[key] += payload["stats"].get(key, 0)
        examples += payload.get("error_examples", [])
        for name, values in payload.get("page_samples", {}).items():
            page_samples.setdefault(name, []).extend(values)
        gen_cpu_s += payload["cpu"]["cpu_s"]
        lags += payload["loop_lag_ms"]
        initial += payload["initial_load_s"]
        sessions += payload["sessions"]
    polls = {t["name"] for page in pages.values() for tick in page["ticks"].values() for t in tick["callbacks"] if t["poll"]}
    callback_names = [name for name in samples if not name.startswith("GET ")]
    per_callback = {name: {"p95_ms": p95(samples[name]), "n": len(samples[name]),
                           "errors": sum(errors_by.get(name, {}).values())} for name in sorted(samples)}
    for name, kinds in errors_by.items():
        per_callback.setdefault(name, {"p95_ms": None, "n": 0, "errors": sum(kinds.values())})
    callback_values = [v for name in callback_names for v in samples[name]]
    poll_values = [v for name in polls for v in samples.get(name, [])]
    error_kinds: dict[str, int] = {}
    for kinds in errors_by.values():
        for kind, count in kinds.items():
            error_kinds[kind] = error_kinds.get(kind, 0) + count

    # event_to_screen (wall and overview sessions) and the SSE delivery delay (every session)
    screen_delays, learn_delays, undelivered = [], [], 0
    pushed = [e for e in events if "version" in e and steady_start <= e["done"] <= steady_end]
    for event in pushed:
        for session in sessions:
            if session["kind"] in ("wall", "overview"):
                shown = next((t for t, v in session["timeline"] if v >= event["version"]), None)
                if shown is None:
                    undelivered += 1
                    shown = end_at
                screen_delays.append(max(0.0, shown - event["done"]))
            got = next((t for t, v in session["learned"] if v >= event["version"]), None)
            learn_delays.append(max(0.0, (got if got is not None else end_at) - event["done"]))
    # version gaps seen by /healthz
    advances, last_version = [], None
    for when, version, _ in health:
        if version is not None and (last_version is None or version > last_version):
            if last_version is not None and steady_start <= when <= steady_end:
                advances.append(when)
            last_version = version
    marks = [steady_start, *advances, steady_end]
    gap_max = max(b - a for a, b in zip(marks, marks[1:]))
    health_in = [s for s in health if steady_start <= s[0] <= steady_end]
    push_failures = [e for e in events if steady_start <= e["sent"] <= steady_end and ("error" in e or e.get("status", 200) >= 300)]
    cpu_wall = max(1e-9, cpu["wall_s"])
    worker_wall = max([p["cpu"]["wall_s"] for p in results.values()] or [cpu_wall]) or cpu_wall
    gen_pct = 100 * gen_cpu_s / worker_wall + 100 * cpu["own_cpu_s"] / cpu_wall
    machine_busy_share = cpu["machine_busy"] / max(1, cpu["machine_total"])
    return {
        "sessions": n, "mode": mode, "version_source": "sse" if sse_path else "poll", "aborted": aborted,
        "steady_s": round(seconds, 1), "generator_processes": processes,
        "sessions_started": stats["started"], "sessions_loaded": sum(1 for s in sessions if s["loaded"]),
        "requests": stats["requests"], "requests_per_s": round(stats["requests"] / seconds, 1),
        "callback_p95_ms": p95(callback_values), "callback_p50_ms": round(statistics.median(callback_values), 3) if callback_values else None,
        # with /events: how long until a session knew of the version holding a pushed case (by the
        # stream, or by the poll where its stream was refused); without: the version poll's p95
        "poll_p95_ms": p95([d * 1000 for d in learn_delays]) if sse_path else p95(poll_values),
        "version_poll_request_p95_ms": p95(poll_values), "version_polls": len(poll_values),
        "version_delivery_p95_ms": p95([d * 1000 for d in learn_delays]),
        "sse_events": sum(s_["sse_events"] for s_ in sessions),
        "errors": stats["errors"], "error_kinds": error_kinds, "error_examples": examples[:20],
        "event_to_screen_p95_s": p95(screen_delays), "event_to_screen_samples": len(screen_delays),
        "events_pushed": len(pushed), "events_undelivered": undelivered, "push_failures": len(push_failures),
        "push_p95_ms": p95([(e["done"] - e["sent"]) * 1000 for e in pushed]),
        "version_gap_max_s": round(gap_max, 3), "version_advances": len(advances),
        "healthz_p95_ms": p95([s[2] * 1000 for s in health_in if s[1] is not None]),
        "healthz_failures": sum(1 for s in health_in if s[1] is None),
        "per_callback": per_callback,
        "per_page_callback_p95_ms": {name: p95(values) for name, values in sorted(page_samples.items())},
        "all_callbacks_p95_ok": bool(callback_names) and all((per_callback[n_]["p95_ms"] or 0) <= P95_GOAL_MS for n_ in callback_names)
                                and not errors_by,
        "initial_load_p95_s": p95(initial),
        "skipped_ticks": stats["skipped_ticks"], "reconnects": stats["reconnects"], "sse_reconnects": stats["sse_reconnects"],
        "generator_cpu_pct": round(gen_pct, 1),
        "generator_worker_cpu_pct": round(100 * gen_cpu_s / worker_wall, 1),
        "generator_loop_lag_p95_ms": p95(lags), "generator_loop_lag_max_ms": round(max(lags), 1) if lags else None,
        "server_cpu_pct": round(100 * cpu["server_cpu_s"] / cpu_wall, 1),
        "machine_busy_pct": round(100 * machine_busy_share, 1),
        # whatever else ran on the machine meanwhile, in % of one core (should be ~0 for clean numbers)
        "other_cpu_pct": round(100 * machine_busy_share * (os.cpu_count() or 1) - 100 * cpu["server_cpu_s"] / cpu_wall - gen_pct, 1),
        "cpus": os.cpu_count(),
    }


# ---------------------------------------------------------------------------- the whole run


def prepare(server: Server, queue_count: int = QUEUE_USERS) -> tuple[list[str], list[str], list, str]:
    """Sign in the users the sessions need; districts, queue users, case points, a case category."""
    from shapely.geometry import shape

    status, body = http_get(server.url, "/geo/district.geojson", 30)
    if status != 200:
        raise RuntimeError(f"/geo/district.geojson: HTTP {status}")
    features = json.loads(body)["features"]
    districts = [f["properties"]["unit_id"] for f in features]
    points = []
    for f in features:
        point = shape(f["geometry"]).representative_point()
        points.append((round(point.y, 6), round(point.x, 6)))
    queue_users = [name for name in server.passwords if name.startswith("dept-")][:queue_count]
    for user in ["commander", *queue_users]:
        if user not in server.cookies:
            server.cookies[user] = login(server.url, user, server.passwords[user])
    import csv

    with open(ROOT / "citypacks" / "beijing" / "categories.csv", newline="", encoding="utf-8") as f:
        category = next(csv.DictReader(f))["category_id"]
    return districts, queue_users, points, category


def expand_pages(templates: dict, districts: list[str]) -> dict:
    from bench.loadcapture import retarget

    pages = {kind: page for kind, page in templates.items() if kind != "unit"}
    for district in districts:
        pages[f"unit:{district}"] = retarget(templates["unit"], districts[0], district)
    return pages


def capture_templates(server: Server, districts: list[str], queue_user: str, nudge) -> dict:
    from bench.loadcapture import capture

    pages = [{"kind": "wall", "path": "/wall", "user": None},
             {"kind": "overview", "path": "/", "user": "commander"},
             {"kind": "unit", "path": f"/unit/district/{districts[0]}", "user": "commander"},
             {"kind": "queue", "path": "/queue?view=all", "user": queue_user}]
    return capture(server.url, pages, server.passwords, nudge=nudge)


def describe(templates: dict) -> str:
    lines = []
    for kind, page in templates.items():
        lines.append(f"  {kind:9} {page['path']}  (user: {page.get('user') or 'guest'})")
        lines.append(f"    initial: {' | '.join(', '.join(t['name'] for t in c) for c in page['initial'])}")
        lines.append(f"    on a version change: {' -> '.join(', '.join(t['name'] for t in c) for c in page['version'])}")
        for interval, tick in page["ticks"].items():
            names = [t["name"] for t in tick["callbacks"]] + [f"GET {p}" for p in tick["gets"]]
            lines.append(f"    every {tick['period_s']:g} s ({interval}): {', '.join(names)}")
        if page["gets"]:
            lines.append(f"    GET once: {', '.join(page['gets'])}")
    return "\n".join(lines)


def run_server_steps(workers: int, sizes: list[int], duration: float, label: str, templates: dict | None):
    """Start `serve --workers`, (capture the templates if not given), run each size; the steps."""
    data_dir = Path(tempfile.mkdtemp(prefix=f"bench-load-{label}-"))
    OUT.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    server = start_server(workers, data_dir, OUT / f"server-{label}.log")
    steps = []
    try:
        print(f"  serve ({server.mode}) up in {time.monotonic() - started:.0f} s on {server.url}", flush=True)
        districts, queue_users, points, category = prepare(server)
        sse_path = probe_events(server.url)
        print(f"  data versions from: {'/events (server-sent events)' if sse_path else 'the version poll (no /events)'}", flush=True)
        if templates is None:
            nudger = Producer(server, points, category, f"capture-{int(time.time())}", 0)
            conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
            counter = iter(range(1, 1000))
            templates = capture_templates(server, districts, queue_users[0], lambda: nudger.push(conn, next(counter)))
            conn.close()
            (OUT / "templates.json").write_text(json.dumps(templates, indent=1, ensure_ascii=False))
            print("  recorded from Chromium:\n" + describe(templates), flush=True)
        pages = expand_pages(templates, districts)
        for n in sizes:
            if server.proc.poll() is not None:
                print(f"  server gone (exit {server.proc.returncode}): N={n} not run", flush=True)
                break
            print(f"  N={n} ({server.mode}) ...", flush=True)
            step = run_step(server, pages, n, duration, sse_path, points, category, districts, queue_users)
            steps.append(step)
            print("    " + step_line(step), flush=True)
            if not wait_calm(server):
                print("    the server did not calm down within 90 s", flush=True)
    finally:
        stop_server_proc(server.proc)
        shutil.rmtree(data_dir, ignore_errors=True)
    return steps, templates


def step_line(s: dict) -> str:
    def f(v, fmt):
        return "-" if v is None else format(v, fmt)

    return (f"callback p95 {f(s['callback_p95_ms'], '.0f')} ms, poll p95 {f(s['poll_p95_ms'], '.0f')} ms, errors {s['errors']}, "
            f"event->screen p95 {f(s['event_to_screen_p95_s'], '.2f')} s, version gap max {s['version_gap_max_s']:.1f} s, "
            f"{s['requests_per_s']} req/s, CPU (% of a core): server {s['server_cpu_pct']}, generator {s['generator_cpu_pct']}, "
            f"other {s['other_cpu_pct']}"
            + (" [stopped early]" if s["aborted"] else ""))


def print_table(curve: list[dict], baseline: list[dict]) -> None:
    rows = [*curve, *baseline]
    if not rows:
        return

    def f(v, fmt):
        return "-" if v is None else format(v, fmt)

    print(f"\n{'N':>5} {'mode':10} {'src':4} {'loaded':>7} {'req/s':>7} {'cb p95 ms':>10} {'poll p95':>9} {'errors':>7} "
          f"{'e2s p95 s':>9} {'e2s miss':>8} {'gap max s':>9} {'srv CPU%':>8} {'gen CPU%':>8} {'oth CPU%':>8} {'lag p95':>7}  worst callback")
    for s in rows:
        worst = max(((n, v["p95_ms"]) for n, v in s["per_callback"].items() if v["p95_ms"] is not None and not n.startswith("GET ")),
                    key=lambda x: x[1], default=("-", None))
        print(f"{s['sessions']:>5} {s['mode']:10} {s['version_source']:4} {s['sessions_loaded']:>7} {s['requests_per_s']:>7} "
              f"{f(s['callback_p95_ms'], '.0f'):>10} {f(s['poll_p95_ms'], '.0f'):>9} {s['errors']:>7} "
              f"{f(s['event_to_screen_p95_s'], '.2f'):>9} {s['events_undelivered']:>8} {s['version_gap_max_s']:>9.1f} {s['server_cpu_pct']:>8} "
              f"{s['generator_cpu_pct']:>8} {s['other_cpu_pct']:>8} {f(s['generator_loop_lag_p95_ms'], '.0f'):>7}  {worst[0]} {f(worst[1], '.0f')} ms"
              + ("  (stopped early)" if s["aborted"] else ""))
    names = sorted({n for s in rows for n in s["per_callback"]})
    print(f"\np95 ms per callback (errors in brackets)\n{'callback':34}" + "".join(f"{s['sessions']:>9}{'b' if s in baseline else ' '}" for s in rows))
    for name in names:
        cells = []
        for s in rows:
            v = s["per_callback"].get(name)
            cell = "" if v is None else f(v["p95_ms"], ".0f") + (f"[{v['errors']}]" if v["errors"] else "")
            cells.append(f"{cell:>10}")
        print(f"{name[:34]:34}" + "".join(cells))


def results_for(curve: list[dict], baseline: list[dict]) -> list:
    from bench.run import Result

    metrics = (("callback_p95_ms", "ms"), ("poll_p95_ms", "ms"), ("errors", "count"),
               ("event_to_screen_p95_s", "s"), ("version_gap_max_s", "s"))
    base = baseline[-1] if baseline else None
    out = []
    for step in curve:
        n = step["sessions"]
        for metric, unit in metrics:
            value = step[metric]
            if value is None:
                continue
            reference = None
            if base is not None and n == base["sessions"] and base[metric] is not None:
                reference = {"name": f"console.{metric}@{base['sessions']} workers=1", "value": base[metric]}
            out.append(Result(f"console.{metric}@{n}", value, unit, reference))
        out.append(Result(f"console.loadgen_cpu_pct@{n}", step["generator_cpu_pct"], "%"))
    fine = [s["sessions"] for s in curve if s["all_callbacks_p95_ok"] and not s["aborted"]]
    out.append(Result("console.max_sessions_p95_150ms", max(fine, default=0), "sessions"))
    return out


def run(sessions=CURVE, workers: int = 2, duration: float = STEADY_S, baseline_sessions: int | None = HEADLINE_N,
        baseline_workers: int = 1) -> list:
    started = time.monotonic()
    print(f"load: curve N={','.join(map(str, sessions))} on --workers {workers}"
          + (f", baseline N={baseline_sessions} on --workers {baseline_workers}" if baseline_sessions else ""), flush=True)
    curve, templates = run_server_steps(workers, list(sessions), duration, f"workers{workers}", None)
    baseline = []
    if baseline_sessions:
        baseline, _ = run_server_steps(baseline_workers, [baseline_sessions], duration, f"workers{baseline_workers}", templates)
    print_table(curve, baseline)
    report = {"at": dt.datetime.now(dt.UTC).isoformat(), "duration_s": duration, "curve": curve, "baseline": baseline,
              "wall_time_s": round(time.monotonic() - started, 1)}
    (OUT / "report.json").write_text(json.dumps(report, indent=1, ensure_ascii=False))
    print(f"\nload bench took {time.monotonic() - started:.0f} s; details in {OUT / 'report.json'}", flush=True)
    return results_for(curve, baseline)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", default=",".join(map(str, CURVE)), help="curve sizes, e.g. 30,100")
    parser.add_argument("--workers", type=int, default=2, help="serve --workers for the curve")
    parser.add_argument("--duration", type=float, default=STEADY_S, help="steady seconds per size")
    parser.add_argument("--baseline-sessions", type=int, default=HEADLINE_N, help="0 = no baseline run")
    parser.add_argument("--baseline-workers", type=int, default=1)
    args = parser.parse_args(argv)
    results = run([int(s) for s in args.sessions.split(",") if s.strip()], args.workers, args.duration,
                  args.baseline_sessions or None, args.baseline_workers)
    for result in results:
        print(result.as_dict())
    return 0


if __name__ == "__main__":
    sys.exit(main())
