"""What a real Chromium sends, per page kind: the request templates bench_load.py replays.

`capture()` opens each page in Debian's Chromium (Playwright, as the browser tests do), signs in
where the page needs a user, watches it for a few seconds and records every POST to
`/_dash-update-component` and every GET. `build_page()` (pure) sorts the recorded callbacks with
the app's own `/_dash-dependencies` and the dcc.Interval components of the layout:
- initial: the first request of every callback not fired by an interval, in the clusters the
  browser sent them in (a cluster waits for the previous one, as Dash's chained callbacks do);
- ticks: per interval on the page (id, period), the callbacks that have it as an Input (the feed
  badges, the version poll; the wall's pulse and its faster version poll);
- version: the callbacks with the data-version store as an Input (the page's views), fired when
  the version moves, with their recorded body (the version as the changed property); then, as a
  second cluster, the callbacks the browser sent right after them (chained: new components);
- gets: GETs the page makes once after its callbacks (geometry), and any GET it repeats.
"""
from __future__ import annotations

import copy
import json
import shutil
import statistics
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
VERSION = "data-version.data"
STATIC = ("/_dash-component-suites/", "/assets/", "/vendor/", "/_favicon.ico", "/favicon.ico")
SHELL_GETS = ("/_dash-layout", "/_dash-dependencies")
CLUSTER_GAP_S = 0.05
CHAIN_WINDOW_S = 1.5


def prop_key(item: dict) -> str:
    """`id.property` as Dash writes it in changedPropIds (pattern ids as sorted JSON)."""
    ident = item["id"]
    if isinstance(ident, dict):
        ident = json.dumps(ident, sort_keys=True, separators=(",", ":"))
    return f"{ident}.{item['property']}"


def output_keys(output: str) -> list[str]:
    """The outputs of a callback's output string (`..a.b...c.d..` for several, else one)."""
    if output.startswith("..") and output.endswith(".."):
        return output[2:-2].split("...")
    return [output]


def short_name(output: str) -> str:
    keys = output_keys(output)
    first = keys[0]
    if "@" in first:
        base, _, digest = first.partition("@")
        first = f"{base}@{digest[:6]}"
    return first + (f"+{len(keys) - 1}" if len(keys) > 1 else "")


def callback_names() -> dict[str, str]:
    """Output string -> the Python function behind it (for readable reports); empty if unavailable."""
    import subprocess

    code = ("import json, callbacks\nfrom dash import _callback\n"
            "print(json.dumps({k: getattr(v.get('callback'), '__name__', None) for k, v in _callback.GLOBAL_CALLBACK_MAP.items()}))")
    try:
        out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120).stdout
        return {k: v for k, v in json.loads(out.strip().splitlines()[-1]).items() if v}
    except Exception:
        return {}


def find_intervals(tree) -> dict[str, float]:
    """dcc.Interval ids -> period in seconds, anywhere in a Dash layout JSON."""
    found: dict[str, float] = {}

    def walk(node):
        if isinstance(node, dict):
            if node.get("type") == "Interval" and isinstance(node.get("props"), dict):
                props = node["props"]
                if not props.get("disabled") and isinstance(props.get("id"), str):
                    found[props["id"]] = float(props.get("interval", 1000)) / 1000
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(tree)
    return found


def _derive(template: dict, changed: str, value_key: str | None = None, value=None) -> dict:
    body = copy.deepcopy(template["body"])
    body["changedPropIds"] = [changed]
    if "parsedChangedPropsIds" in body:
        body["parsedChangedPropsIds"] = [changed]
    if value_key:
        for item in body.get("inputs") or ():
            if isinstance(item, dict) and prop_key(item) == value_key:
                item["value"] = value
    return {**template, "body": body}


def build_page(kind: str, path: str, requests: list[dict], deps: list[dict], intervals: dict[str, float],
               names: dict[str, str]) -> dict:
    """The replayable page from recorded requests ({t, finished, method, path, body}, seconds from the
    page's start) — see the module doc."""
    deps_by_output = {d["output"]: d for d in deps}

    def inputs_of(output: str) -> set[str]:
        return {prop_key(i) for i in deps_by_output.get(output, {}).get("inputs", [])}

    tick_props = {f"{i}.n_intervals": i for i in intervals}
    posts = [r for r in requests if r["method"] == "POST" and r["path"].startswith("/_dash-update-component")]
    first_tick_t = min((r["t"] for r in posts if set(r["body"].get("changedPropIds") or []) & tick_props.keys()),
                       default=float("inf"))
    initial: list[tuple[float, dict, float | None]] = []
    seen: dict[str, dict] = {}
    tick_bodies: dict[str, dict] = {}
    version_bodies: dict[str, dict] = {}
    observed: dict[str, int] = {}
    version_times: list[float] = []
    others: list[tuple[float, dict]] = []
    for r in posts:
        body, output = r["body"], r["body"]["output"]
        name = names.get(output) or short_name(output)
        observed[name] = observed.get(name, 0) + 1
        changed = set(body.get("changedPropIds") or [])
        template = {"name": name, "output": output, "body": body,
                    "poll": any(k == VERSION or k.startswith(VERSION + "@") for k in output_keys(output))}
        if changed & tick_props.keys():
            tick_bodies.setdefault(name, template)
            seen.setdefault(name, template)
        elif name not in seen:
            seen[name] = template
            initial.append((r["t"], template, r.get("finished")))
        elif VERSION in changed:
            version_bodies.setdefault(name, template)
            version_times.append(r["t"])
        else:
            others.append((r["t"], template))

    # a new cluster starts with a request sent after an answer of the current one came back (Dash sends
    # the page's callbacks once the router's answer is in); without answer times, after a pause
    clusters: list[list[dict]] = []
    cluster_start, cluster_answered = None, float("inf")
    for t, template, finished in initial:
        if cluster_start is None or t >= cluster_answered or (finished is None and t - cluster_start > CLUSTER_GAP_S):
            clusters.append([])
            cluster_start, cluster_answered = t, float("inf")
        clusters[-1].append(template)
        if finished is not None:
            cluster_answered = min(cluster_answered, finished)

    version = [version_bodies.get(name) or _derive(t, VERSION)
               for name, t in seen.items() if VERSION in inputs_of(t["output"]) and not t["poll"]]
    # callbacks the version's views set off in turn (e.g. the queue's new buttons), seen after a version move
    chained: dict[str, dict] = {}
    for t, template in others:
        if any(0 < t - v <= CHAIN_WINDOW_S for v in version_times):
            chained.setdefault(template["name"], template)
    version_clusters = [c for c in (version, list(chained.values())) if c]

    ticks: dict[str, dict] = {}
    for interval, period in intervals.items():
        prop = f"{interval}.n_intervals"
        callbacks = [{**(tick_bodies.get(name) or _derive(t, prop, prop, 1)), "interval": interval}
                     for name, t in seen.items() if prop in inputs_of(t["output"])]
        if callbacks:
            ticks[interval] = {"period_s": period, "callbacks": callbacks, "gets": []}

    gets = [r for r in requests if r["method"] == "GET" and not r["path"].startswith(STATIC)]
    once, repeated = [], {}
    for r in gets:
        p = r["path"]
        if p == path or p.split("?")[0] in SHELL_GETS or p.startswith(("/login", "/events")):
            continue
        repeated.setdefault(p, []).append(r["t"])
    for p, times in repeated.items():
        later = [t for t in times if t > first_tick_t]
        if len(later) >= 2:
            gaps = [b - a for a, b in zip(later, later[1:])]
            ticks["get:" + p] = {"period_s": round(statistics.median(gaps), 2), "callbacks": [], "gets": [p]}
        else:
            once.append(p)
    return {"kind": kind, "path": path, "initial": clusters, "version": version_clusters, "ticks": ticks, "gets": once,
            "browser_sse": next((r["path"] for r in gets if r["path"].startswith("/events")), None),
            "observed": observed}


def retarget(page: dict, old: str, new: str) -> dict:
    """The same page for another unit id (exact string values, and the id as a path segment)."""
    def walk(node):
        if isinstance(node, dict):
            return {k: walk(v) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v) for v in node]
        if isinstance(node, str):
            if node == old:
                return new
            return node.replace(f"/{old}", f"/{new}").replace(f"={old}", f"={new}")
        return node

    return walk(page)


def capture(url: str, pages: list[dict], passwords: dict[str, str], observe_s: float = 10.0, nudge=None) -> dict:
    """Record each page ({kind, path, user}) in Chromium; returns {kind: build_page(...)}. `nudge()`,
    called once the page has settled, should move the data version (push a case) so that the
    version's callbacks are seen as the browser sends them."""
    from playwright.sync_api import sync_playwright

    from tests.conftest import CHROMIUM_ARGS

    names = callback_names()
    executable = shutil.which("chromium") or "/usr/bin/chromium"
    out = {}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            for spec in pages:
                context = browser.new_context(viewport={"width": 1920, "height": 1080})
                page = context.new_page()
                if spec.get("user"):
                    page.goto(url + "/login")
                    page.fill("input[name=name]", spec["user"])
                    page.fill("input[name=password]", passwords[spec["user"]])
                    page.click("button[type=submit]")
                    page.wait_for_selector("#header-title", timeout=30000)
                started = time.monotonic()
                recorded, responses, by_request = [], [], {}

                def on_request(request, recorded=recorded, started=started, by_request=by_request):
                    if not request.url.startswith(url):
                        return
                    parsed = urlparse(request.url)
                    path = parsed.path + (f"?{parsed.query}" if parsed.query else "")
                    body = None
                    if request.method == "POST" and parsed.path.startswith("/_dash-update-component"):
                        body = json.loads(request.post_data)
                    record = {"t": time.monotonic() - started, "method": request.method, "path": path, "body": body}
                    recorded.append(record)
                    by_request[id(request)] = (request, record)

                def on_finished(request, started=started, by_request=by_request):
                    if id(request) in by_request:
                        by_request[id(request)][1]["finished"] = time.monotonic() - started

                page.on("request", on_request)
                page.on("requestfinished", on_finished)
                page.on("requestfailed", on_finished)
                page.on("response", lambda r, responses=responses: responses.append(r))
                page.goto(url + spec["path"])
                page.wait_for_timeout(observe_s * 400)
                if nudge is not None:
                    nudge()
                page.wait_for_timeout(observe_s * 600)
                deps, intervals = [], {}
                for response in list(responses):
                    path = urlparse(response.url).path
                    try:
                        if path == "/_dash-dependencies":
                            deps = json.loads(response.body())
                        elif path == "/_dash-layout" or (path == "/_dash-update-component" and response.status == 200
                                                         and "_pages_content" in (response.request.post_data or "")):
                            intervals.update(find_intervals(json.loads(response.body())))
                    except Exception:
                        continue
                out[spec["kind"]] = build_page(spec["kind"], spec["path"], recorded, deps, intervals, names)
                out[spec["kind"]]["user"] = spec.get("user")
                context.close()
        finally:
            browser.close()
    return out
