"""The command line: `python app.py COMMAND` (CONTRACT §2). One function per command.

Every command takes --city DIR and --data-dir DIR (before or after the subcommand). A command that
cannot start (an invalid pack, a data folder held by a running console, a bad argument) prints one
clear `error:` line and exits 2.
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
from contextlib import contextmanager
from pathlib import Path

from datasources.errors import WriterUnavailable
from settings import Settings


class CommandError(Exception):
    """A clear reason the command cannot do its work (printed as `error: ...`, exit 2)."""


def _pack(settings: Settings):
    from datasources.citypack import PackError, load_pack

    try:
        return load_pack(settings.city)
    except PackError as exc:
        raise CommandError(_invalid_pack(settings.city, exc.problems)) from None


def _invalid_pack(root, problems: list[str]) -> str:
    """One line for one problem (the usual case: the fix is in it), else one line per problem."""
    if len(problems) == 1:
        return f"city pack {root} is invalid: {problems[0]}"
    return f"city pack {root} is invalid:\n" + "\n".join(problems)


@contextmanager
def _store(settings: Settings, pack=None):
    """The store for one command: the running writer's (through its socket: admin while the
    console runs), else the file opened here, with `pack`'s reference data synced first."""
    import duckdb

    from datasources.remote import RemoteError, local_writer
    from datasources.runtime import sync_pack
    from datasources.store import Store
    from datasources.timedomain import TimeDomain

    remote = local_writer(settings.data_dir)
    if remote is not None:
        try:
            if pack is not None and remote.pack_id != pack.id:
                raise CommandError(f"the writer running on {settings.data_dir} serves city {remote.pack_id!r}, "
                                   f"not {pack.id!r}")
            yield remote
        except RemoteError as exc:
            raise CommandError(str(exc)) from None
        finally:
            remote.close()
        return
    try:
        store = Store(settings.db_path)
        store.case_index_days = settings.case_index_days
        store.time_domain = TimeDomain.from_settings(settings)
    except duckdb.IOException as exc:
        raise CommandError(f"cannot open {settings.db_path} (is `serve` running on it?): {exc}") from None
    try:
        if pack is not None:
            sync_pack(store, pack)
        yield store
    finally:
        store.close()


def _print_rows(rows) -> None:
    for row in rows:
        print(json.dumps(row, default=str, ensure_ascii=False))


def _common(parser: argparse.ArgumentParser, top: bool) -> None:
    # On subcommands the defaults are SUPPRESS so a value given before the subcommand survives.
    default = None if top else argparse.SUPPRESS
    parser.add_argument("--city", type=Path, default=default, help="city pack folder (default: the demo pack)")
    parser.add_argument("--data-dir", type=Path, default=default, help="data folder (default: var/)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="app.py", description="CityBrain city command center")
    _common(parser, top=True)
    commands = parser.add_subparsers(dest="command", required=True)

    serve_p = commands.add_parser("serve", help="serve the console")
    _common(serve_p, top=False)
    serve_p.add_argument("--host", default=None)
    serve_p.add_argument("--port", type=int, default=None)
    serve_p.add_argument("--no-simulate", action="store_true", help="no simulated live feeds")
    serve_p.add_argument("--workers", type=int, default=None,
                         help="web processes (default: the machine's cores); 1 = one process with the development server")

    writer_p = commands.add_parser("writer", help="the store's writer alone (feeds, simulator, alerts, commands)")
    _common(writer_p, top=False)
    writer_p.add_argument("--no-simulate", action="store_true", help="no simulated live feeds")
    writer_p.add_argument("--listen", default=None,
                          help="also serve web tiers on other machines: HOST:PORT (default: the data folder's socket only)")

    web_p = commands.add_parser("web", help="the web tier alone (gunicorn), reaching a running writer")
    _common(web_p, top=False)
    web_p.add_argument("--host", default=None)
    web_p.add_argument("--port", type=int, default=None)
    web_p.add_argument("--workers", type=int, default=None, help="web processes (default: the machine's cores)")
    web_p.add_argument("--threads", type=int, default=None, help="threads per web process (default 64)")
    web_p.add_argument("--writer", default=None,
                       help="the writer's address: HOST:PORT of `writer --listen`, or a socket path (default: the data folder's)")

    backup_p = commands.add_parser("backup", help="a consistent copy of the store into DIR (works while the console runs)")
    _common(backup_p, top=False)
    backup_p.add_argument("dir", type=Path)
    restore_p = commands.add_parser("restore", help="bring a backup DIR back (stop the console first)")
    _common(restore_p, top=False)
    restore_p.add_argument("dir", type=Path)

    pack_p = commands.add_parser("citypack", help="city pack tools")
    _common(pack_p, top=False)
    pack_commands = pack_p.add_subparsers(dest="pack_command", required=True)
    check_p = pack_commands.add_parser("check", help="validate a city pack; exit 1 with one line per problem")
    _common(check_p, top=False)
    check_p.add_argument("dir", type=Path)

    ingest_p = commands.add_parser("ingest", help="import a CSV, Parquet, JSON or JSON Lines file")
    _common(ingest_p, top=False)
    ingest_p.add_argument("feed", choices=["cases", "sensors", "devices", "services", "halls"])
    ingest_p.add_argument("file", type=Path)
    ingest_p.add_argument("--mapping", type=Path, default=None, help="mapping TOML (see README)")

    simulate_p = commands.add_parser("simulate", help="replay a real file through the live feed path")
    _common(simulate_p, top=False)
    simulate_p.add_argument("--replay", type=Path, required=True, help="CSV, Parquet, JSON or JSON Lines file")
    simulate_p.add_argument("--mapping", type=Path, default=None)
    simulate_p.add_argument("--feed", choices=["cases", "sensors", "services"], default="sensors")
    simulate_p.add_argument("--speed", type=float, default=60.0, help="N x real time (default 60)")
    simulate_p.add_argument("--keep-times", action="store_true", help="publish original times instead of re-timing to now")
    simulate_p.add_argument("--redis-url", default=None, help="publish to Redis Streams (default: REDIS_URL)")
    simulate_p.add_argument("--push-url", default=None, help="without Redis: a running console, e.g. http://127.0.0.1:8050")
    simulate_p.add_argument("--token", default=None, help="bearer token for --push-url (python app.py users token NAME)")

    schedules_p = commands.add_parser("schedules", help="scheduled briefing packs (run by the writer: `serve`)")
    _common(schedules_p, top=False)
    schedules_commands = schedules_p.add_subparsers(dest="schedules_command", required=True)
    sched_add = schedules_commands.add_parser("add", help="add or replace a schedule")
    _common(sched_add, top=False)
    sched_add.add_argument("name")
    sched_add.add_argument("--cron", required=True, help='"minute hour day month weekday" in the city\'s zone, e.g. "30 7 * * *"')
    sched_add.add_argument("--template", required=True, choices=["daily", "weekly", "incident"])
    sched_add.add_argument("--scope", default="city", help="city or LEVEL:ID")
    sched_add.add_argument("--lang", default=None, choices=["zh", "en"])
    sched_add.add_argument("--window-hours", type=float, default=24.0, help="the period each pack covers, ending at its run")
    for name, text in (("list", "schedules"), ("run", "run every due (and missed) run now")):
        sub = schedules_commands.add_parser(name, help=text)
        _common(sub, top=False)

    alerts_p = commands.add_parser("alerts", help="early-warning alerts")
    _common(alerts_p, top=False)
    alerts_commands = alerts_p.add_subparsers(dest="alerts_command", required=True)
    for name, text in (("evaluate", "run every rule now (opens, updates and closes alerts)"), ("list", "open alerts")):
        sub = alerts_commands.add_parser(name, help=text)
        _common(sub, top=False)

    quarantine_p = commands.add_parser("quarantine", help="list or re-process quarantined records")
    _common(quarantine_p, top=False)
    quarantine_commands = quarantine_p.add_subparsers(dest="quarantine_command", required=True)
    q_list = quarantine_commands.add_parser("list", help="quarantined records per feed and reason")
    _common(q_list, top=False)
    q_re = quarantine_commands.add_parser("reprocess", help="re-run a feed's quarantined records (after a fix)")
    _common(q_re, top=False)
    q_re.add_argument("feed", choices=["cases", "sensors", "devices", "services", "halls"])
    q_re.add_argument("--mapping", type=Path, default=None, help="the (fixed) mapping the raw records need")
    q_re.add_argument("--reason", default="", help="only records whose reason contains this text")

    consume_p = commands.add_parser("consume", help="apply feeds from Redis Streams (the store's single writer)")
    _common(consume_p, top=False)
    consume_p.add_argument("--redis-url", default=None, help="default: REDIS_URL")
    consume_p.add_argument("--batch-entries", type=int, default=100, help="stream entries per read and stream")
    consume_p.add_argument("--block-ms", type=int, default=1000, help="longest wait for new entries")
    consume_p.add_argument("--claim-idle-ms", type=int, default=10_000,
                           help="reclaim entries a crashed consumer left pending this long")

    indicators_p = commands.add_parser("indicators", help="the indicator catalog and indicator values")
    _common(indicators_p, top=False)
    ind_commands = indicators_p.add_subparsers(dest="indicators_command", required=True)
    ind_list = ind_commands.add_parser("list", help="every indicator: id, names, unit, definition")
    _common(ind_list, top=False)
    ind_compute = ind_commands.add_parser("compute", help="values per unit of a level for a window [start, end)")
    _common(ind_compute, top=False)
    ind_explain = ind_commands.add_parser("explain", help="case ids in a case indicator's numerator and denominator")
    _common(ind_explain, top=False)
    for sub in (ind_compute, ind_explain):
        sub.add_argument("--level", required=True, help="city, department or a level of the city pack")
        sub.add_argument("--start", required=True, help="ISO date/datetime; without an offset in the city's zone")
        sub.add_argument("--end", required=True, help="ISO date/datetime (exclusive; the as-of time)")
    ind_compute.add_argument("--indicators", default=None, help="comma-separated ids (default: all)")
    ind_compute.add_argument("--format", choices=["csv", "json"], default="csv")
    ind_compute.add_argument("--compare", action="store_true",
                             help="add previous-period (环比), last-year (同比) and sibling-rank columns")
    ind_explain.add_argument("--indicator", required=True)
    ind_explain.add_argument("--unit", required=True, help="unit id at --level")
    ind_spots = ind_commands.add_parser(
        "spots", help="hot spots (demand rose most) and blind spots (demand, slow or no handling) per department")
    _common(ind_spots, top=False)
    ind_spots.add_argument("--level", default=None, help="a level of the city pack (default: the first)")
    ind_spots.add_argument("--start", required=True, help="ISO date/datetime; without an offset in the city's zone")
    ind_spots.add_argument("--end", required=True, help="ISO date/datetime (exclusive; the as-of time)")

    brief_p = commands.add_parser("brief", help="a briefing pack (PDF + HTML beside it), frozen in the store")
    _common(brief_p, top=False)
    brief_p.add_argument("--template", required=True, choices=["daily", "weekly", "incident"])
    brief_p.add_argument("--scope", default="city", help="city (default) or LEVEL:ID, e.g. district:110105")
    brief_p.add_argument("--start", required=True, help="ISO date/datetime; without an offset in the city's zone")
    brief_p.add_argument("--end", required=True, help="ISO date/datetime (exclusive; the as-of time)")
    brief_p.add_argument("--out", required=True, type=Path, help="FILE.pdf (FILE.html is written beside it)")
    brief_p.add_argument("--lang", choices=["zh", "en"], default=None, help="default: the city's language")

    users_p = commands.add_parser("users", help="users and API tokens")
    _common(users_p, top=False)
    users_commands = users_p.add_subparsers(dest="users_command", required=True)
    add_p = users_commands.add_parser("add", help="add or replace a console user")
    _common(add_p, top=False)
    add_p.add_argument("name")
    add_p.add_argument("--role", required=True, choices=["commander", "district_leader", "department", "briefing", "wall", "admin"])
    add_p.add_argument("--scope", action="append", default=[], metavar="LEVEL:ID",
                       help="district_leader: LEVEL:ID (repeatable, one level); department: department:ID")
    add_p.add_argument("--password-stdin", action="store_true", help="read the password from the first line of stdin")
    list_p = users_commands.add_parser("list", help="users, roles and scopes (no password hashes)")
    _common(list_p, top=False)
    disable_p = users_commands.add_parser("disable", help="disable a user: sessions and tokens stop working at once")
    _common(disable_p, top=False)
    disable_p.add_argument("name")
    role_p = users_commands.add_parser("role", help="change a user's role and scopes: its sessions and tokens follow at once")
    _common(role_p, top=False)
    role_p.add_argument("name")
    role_p.add_argument("role", choices=["commander", "district_leader", "department", "briefing", "wall", "admin"])
    role_p.add_argument("--scope", action="append", default=[], metavar="LEVEL:ID",
                        help="district_leader: LEVEL:ID (repeatable, one level); department: department:ID")
    revoke_p = users_commands.add_parser(
        "revoke", help="NAME: every live API token of the holder and, for a user, every console session; "
                       "TOKEN: that one token")
    _common(revoke_p, top=False)
    revoke_p.add_argument("name", metavar="NAME|TOKEN")
    token_p = users_commands.add_parser("token", help="issue a bearer token for the HTTP API (printed as the last line)")
    _common(token_p, top=False)
    token_p.add_argument("name", help="token holder: a user or a feed source")
    token_p.add_argument("--role", default=None,
                         help="role of a new holder (default: source; an existing holder keeps its role)")
    token_p.add_argument("--scope", action="append", default=[], metavar="LEVEL:ID",
                         help="scope of a new holder (LEVEL:ID or department:ID); repeatable")
    _dispatch_parsers(commands)
    return parser


def _subcommand(group, name: str, text: str) -> argparse.ArgumentParser:
    sub = group.add_parser(name, help=text)
    _common(sub, top=False)
    return sub


def _dispatch_parsers(commands) -> None:
    """`webhooks ...` (department webhooks of dispatch events) and `audit export`."""
    hooks = _subcommand(commands, "webhooks", "outbound webhooks per department (dispatch events)").add_subparsers(
        dest="webhooks_command", required=True)
    add_p = _subcommand(hooks, "add", "add or replace a department's webhook (prints its secret as the last line)")
    add_p.add_argument("department", help="department id of the city pack")
    add_p.add_argument("url", help="http(s) URL receiving the JSON POSTs")
    add_p.add_argument("--secret-stdin", action="store_true",
                       help="read the HMAC secret from the first line of stdin (default: a random one)")
    add_p.add_argument("--disabled", action="store_true", help="add it paused")
    _subcommand(hooks, "list", "webhooks (no secrets) and their pending deliveries")
    for name, text in (("remove", "remove a webhook (its pending deliveries are cancelled)"),
                       ("enable", "resume a webhook"), ("disable", "pause a webhook (pending deliveries wait)")):
        _subcommand(hooks, name, text).add_argument("department")
    log_p = _subcommand(hooks, "log", "deliveries, newest first, each with its attempts")
    log_p.add_argument("--department", default="")
    log_p.add_argument("--state", default="", choices=["", "pending", "delivered", "failed", "cancelled"])
    log_p.add_argument("--limit", type=int, default=50)
    _subcommand(hooks, "redeliver", "queue a failed or cancelled delivery again").add_argument("delivery_id", type=int)

    audit_commands = _subcommand(commands, "audit", "the append-only audit trail").add_subparsers(
        dest="audit_command", required=True)
    export_p = _subcommand(audit_commands, "export", "audit rows as CSV (to --out or standard output)")
    export_p.add_argument("--since", default="1970-01-01T00:00:00+00:00",
                          help="ISO date/datetime; without an offset in the city's zone (default: everything)")
    export_p.add_argument("--out", type=Path, default=None, help="CSV file (default: standard output)")


# ---------------------------------------------------------------------------- commands


def cmd_citypack(settings: Settings, args) -> int:
    from datasources.citypack import check_pack

    warnings: list[str] = []
    problems = check_pack(args.dir, warnings)
    for warning in warnings:
        print(f"warning: {warning}")
    for problem in problems:
        print(problem)
    if not problems:
        print(f"{args.dir}: valid city pack")
    return 1 if problems else 0


def cmd_serve(settings: Settings, args) -> int:
    from serving.web import default_workers

    simulate = settings.simulate and not args.no_simulate
    workers = args.workers if args.workers is not None else default_workers()
    if workers < 1:
        raise CommandError("--workers must be at least 1")
    if workers == 1:
        from app import serve

        _pack(settings)  # a broken pack is refused here; the runtime takes the loaded one from the cache
        serve(settings, simulate=simulate)
        return 0
    from datasources.citypack import check_pack
    from serving.supervisor import supervise

    problems = check_pack(settings.city)  # refused before any process starts; the supervisor keeps no pack
    if problems:
        raise CommandError(_invalid_pack(settings.city, problems))
    return supervise(settings, workers, simulate)


def cmd_writer(settings: Settings, args) -> int:
    import duckdb

    from serving.writer import run_writer

    try:
        run_writer(settings, simulate=settings.simulate and not args.no_simulate, listen=args.listen)
    except duckdb.IOException as exc:
        raise CommandError(f"cannot open {settings.db_path} (is another writer running on it?): {exc}") from None
    return 0


def cmd_web(settings: Settings, args) -> int:
    from serving.web import DEFAULT_THREADS, default_workers, run_web

    run_web(settings, args.workers or default_workers(), args.writer, args.threads or DEFAULT_THREADS)
    return 0


def cmd_backup(settings: Settings, args) -> int:
    """A consistent copy: through the running writer (no stop), else from the file opened here."""
    from datasources.writer_service import backup

    pack = _pack(settings)
    with _store(settings) as store:
        if getattr(store, "remote", False):
            manifest = store.backup(str(args.dir.resolve()))
        else:
            manifest = backup(store, pack.id, args.dir)
    print(json.dumps(manifest, ensure_ascii=False))
    return 0


def cmd_restore(settings: Settings, args) -> int:
    from serving.supervisor import restore

    print(json.dumps(restore(settings, args.dir), ensure_ascii=False))
    return 0


def cmd_ingest(settings: Settings, args) -> int:
    from datasources.ingest import IngestError, ingest_file
    from datasources.mapping import MappingError

    pack = _pack(settings)
    with _store(settings, pack) as store:
        try:
            summary = ingest_file(store, pack, args.feed, args.file, args.mapping,
                                  chunk_rows=settings.import_chunk_rows, max_bytes=settings.import_max_mb * 2**20,
                                  max_json_bytes=settings.import_max_json_mb * 2**20)
        except (IngestError, MappingError) as exc:
            raise CommandError(str(exc)) from None
    for reason, count in list(summary["reasons"].items())[:10]:
        print(f"quarantined {count}: {reason}", file=sys.stderr)
    print(json.dumps(summary, ensure_ascii=False))
    return 0


def cmd_quarantine(settings: Settings, args) -> int:
    from datasources import gateway
    from datasources.ingest import IngestError, reprocess_quarantine
    from datasources.mapping import MappingError
    from security.scope import Scope

    pack = _pack(settings)
    with _store(settings, pack if args.quarantine_command == "reprocess" else None) as store:
        if args.quarantine_command == "list":
            _print_rows(gateway.query_rows(store, "quarantine_summary", Scope.city()))
        else:
            try:
                summary = reprocess_quarantine(store, pack, args.feed, args.mapping, args.reason)
            except (IngestError, MappingError) as exc:
                raise CommandError(str(exc)) from None
            print(json.dumps(summary, ensure_ascii=False))
    return 0


def cmd_simulate(settings: Settings, args) -> int:
    from datasources.mapping import Mapping
    from datasources.replay import http_publisher, load_replay, replay

    if args.push_url:
        if not args.token:
            raise CommandError("--push-url needs --token")
        publish = http_publisher(args.push_url, args.token)
    elif settings.redis_url:
        from datasources.bus import RedisStreamBus

        publish = RedisStreamBus(settings.redis_url).publish
    else:
        raise CommandError("a replay goes to Redis (--redis-url or REDIS_URL) or to a running console "
                           "(--push-url URL --token T)")
    frame = load_replay(args.replay, args.feed, Mapping.load(args.mapping), _pack(settings))
    print(f"replaying {len(frame)} {args.feed} records at {args.speed:g}x", flush=True)
    try:
        count = replay(frame, args.feed, publish, speed=args.speed, retime=not args.keep_times)
    except KeyboardInterrupt:
        return 130
    print(json.dumps({"published": count}))
    return 0


def cmd_schedules(settings: Settings, args) -> int:
    from briefings.schedule import add_schedule, list_schedules, run_due

    pack = _pack(settings)
    with _store(settings) as store:
        if args.schedules_command == "run":
            for name, at, briefing_id in run_due(store, pack):
                print(json.dumps({"schedule": name, "scheduled_at": at.isoformat() + "Z", "briefing_id": briefing_id}))
            return 0
        if args.schedules_command == "add":
            add_schedule(store, pack, args.name, args.cron, args.template, args.scope, args.lang or pack.default_lang,
                         args.window_hours)
        _print_rows(list_schedules(store))
    return 0


def cmd_alerts(settings: Settings, args) -> int:
    from alerts.engine import evaluate, open_alerts
    from security.scope import Scope

    pack = _pack(settings)
    evaluating = args.alerts_command == "evaluate"
    with _store(settings, pack if evaluating else None) as store:
        if evaluating:
            print(json.dumps(evaluate(store, pack, settings)))
        else:
            _print_rows(open_alerts(store, Scope.city()))
    return 0


def cmd_consume(settings: Settings, args) -> int:
    """Be the store's single writer for the Redis feed streams until SIGTERM/SIGINT."""
    import signal
    import threading

    from datasources.bus import RedisStreamBus

    if not settings.redis_url:
        raise CommandError("consume needs --redis-url or REDIS_URL")
    pack = _pack(settings)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    with _store(settings, pack) as store:
        bus = RedisStreamBus(settings.redis_url, claim_idle_ms=args.claim_idle_ms)
        try:
            print(f"consuming feeds from {settings.redis_url} into {settings.db_path}", flush=True)
            bus.consume(store, pack, stop, batch_entries=args.batch_entries, block_ms=args.block_ms)
        finally:
            bus.close()
    print(json.dumps(dict(bus.stats)), flush=True)
    return 0


def cmd_indicators(settings: Settings, args) -> int:
    """`indicators list | compute | explain | spots` (CONTRACT §2), city-wide, read-only."""
    from indicators.catalog import catalog
    from indicators.compare import COLUMNS, compare
    from indicators.compute import ROW_COLUMNS, IndicatorError, compute, explain, parse_time, to_csv
    from indicators.spots import SpotsError, spots
    from security.scope import Scope

    if args.indicators_command == "list":
        _print_rows({"id": ind.id, "name_zh": ind.name_zh, "name_en": ind.name_en, "unit": ind.unit,
                     "definition": ind.definition} for ind in catalog())
        return 0
    pack = _pack(settings)
    with _store(settings) as store:
        try:
            start, end = (parse_time(text, pack.timezone, store.time_domain, name)
                          for name, text in (("--start", args.start), ("--end", args.end)))
            if args.indicators_command == "spots":
                found = spots(store, pack, Scope.city(), start, end, args.level)
                print(json.dumps(found, ensure_ascii=False, default=str))
                return 0
            if args.indicators_command == "explain":
                lineage = explain(store, pack, Scope.city(), args.indicator, args.level, args.unit, start, end)
                print(json.dumps(lineage, ensure_ascii=False))
                return 0
            rows = (compare if args.compare else compute)(store, pack, Scope.city(), args.level, start, end,
                                                          args.indicators)
        except (IndicatorError, SpotsError) as exc:
            raise CommandError(str(exc)) from None
    if args.format == "json":
        print(json.dumps(rows, ensure_ascii=False))
    else:
        sys.stdout.write(to_csv(rows, COLUMNS if args.compare else ROW_COLUMNS))
    return 0


def cmd_brief(settings: Settings, args) -> int:
    """`brief`: a frozen briefing pack (PDF, plus the HTML beside it), stored in table briefings."""
    from briefings import BriefError, build_brief, freeze, render_html
    from indicators.compute import IndicatorError, parse_time

    pack = _pack(settings)
    with _store(settings) as store:
        try:
            start, end = (parse_time(text, pack.timezone, store.time_domain, name)
                          for name, text in (("--start", args.start), ("--end", args.end)))
            brief = build_brief(store, pack, args.scope, args.template, start, end, args.lang or pack.default_lang)
            briefing_id, pdf = freeze(store, brief)
        except (BriefError, IndicatorError) as exc:
            raise CommandError(str(exc)) from None
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(pdf)
    html_path = out.with_suffix(".html")
    html_path.write_text(render_html(brief.snapshot), encoding="utf-8")
    print(json.dumps({"briefing_id": briefing_id, "pdf": str(out), "html": str(html_path), "bytes": len(pdf)}))
    return 0


def cmd_users(settings: Settings, args) -> int:
    """users add | list | role | disable | revoke | token: console users (argon2 passwords) and API bearer tokens.
    Through the running writer when there is one: every web worker follows at its next request."""
    from security.tokens import holder, issue_token, revoke
    from security.users import add_user, disable_user, get_user, list_users, set_role

    with _store(settings) as store:
        if args.users_command == "list":
            _print_rows(list_users(store))
        elif args.users_command == "add":
            if not args.password_stdin:
                raise CommandError("give the password on standard input with --password-stdin")
            password = sys.stdin.readline().rstrip("\n")
            user = add_user(store, _pack(settings), args.name, args.role, args.scope, password)
            print(f"user {user.name} ({user.role}{', ' + ', '.join(user.scopes) if user.scopes else ''}) saved")
        elif args.users_command == "disable":
            if not disable_user(store, args.name):
                raise CommandError(f"no user {args.name!r}")
            print(f"user {args.name} disabled")
        elif args.users_command == "role":
            if not set_role(store, _pack(settings), args.name, args.role, args.scope):
                raise CommandError(f"no user {args.name!r}")
            print(f"user {args.name} is now {args.role}{' (' + ', '.join(args.scope) + ')' if args.scope else ''}")
        elif args.users_command == "revoke":
            done = revoke(store, args.name)
            if not done["holders"]:
                raise CommandError("no such user, token holder or live token")
            ended = "; console sessions ended" if done["sessions_ended"] else ""
            print(f"revoked {done['tokens']} token(s) of {', '.join(done['holders'])}{ended}")
        else:  # token: a user's token carries the user's role and scopes; other holders are feed sources
            user, known = get_user(store, args.name), holder(store, args.name)
            if user is not None:
                role, scopes = user["role"], list(user["scopes"] or ())
            else:
                role = args.role or (known["role"] if known else "source")
                scopes = args.scope or (list(known["scopes"]) if known and not args.role else [])
            token = issue_token(store, args.name, role, scopes)
            print(f"token for {args.name} (role {role}); shown once, keep it secret:", file=sys.stderr)
            print(token)
    return 0


def cmd_webhooks(settings: Settings, args) -> int:
    """webhooks add | list | remove | enable | disable | log | redeliver (dispatch/webhooks.py)."""
    from dispatch import webhooks
    from security.scope import Scope

    command = args.webhooks_command
    pack = _pack(settings) if command == "add" else None
    with _store(settings) as store:
        if command == "add":
            secret = sys.stdin.readline().rstrip("\n") if args.secret_stdin else None
            secret = webhooks.add_webhook(store, pack, args.department, args.url, secret, enabled=not args.disabled)
            print(f"webhook for {args.department} saved; signing secret (keep it secret):", file=sys.stderr)
            print(secret)
        elif command == "list":
            _print_rows(webhooks.list_webhooks(store))
        elif command in ("remove", "enable", "disable"):
            if command == "remove":
                found = webhooks.remove_webhook(store, args.department)
            else:
                found = webhooks.set_enabled(store, args.department, command == "enable")
            if not found:
                raise CommandError(f"no webhook for department {args.department!r}")
            print(f"webhook for {args.department}: {command}d")
        elif command == "log":
            _print_rows(webhooks.delivery_log(store, Scope.city(), department=args.department, state=args.state,
                                              limit=args.limit)["rows"])
        elif not webhooks.redeliver(store, args.delivery_id):
            raise CommandError(f"delivery {args.delivery_id} is not failed or cancelled (or does not exist)")
        else:
            print(f"delivery {args.delivery_id} queued again")
    return 0


def cmd_audit(settings: Settings, args) -> int:
    """audit export: the audit trail as CSV (the same as GET /api/v1/audit?format=csv)."""
    from datasources.timedomain import TimeDomain
    from dispatch.audit_export import audit_csv
    from indicators.compute import IndicatorError, parse_time

    pack = _pack(settings)
    try:
        since = parse_time(args.since, pack.timezone, TimeDomain.from_settings(settings), "--since")
    except (IndicatorError, ValueError) as exc:
        raise CommandError(str(exc)) from None
    with _store(settings) as store:
        if args.out is None:
            for chunk in audit_csv(store, since):
                sys.stdout.write(chunk)
            return 0
        args.out.parent.mkdir(parents=True, exist_ok=True)
        with open(args.out, "w", encoding="utf-8", newline="") as out:
            for chunk in audit_csv(store, since):
                out.write(chunk)
    print(json.dumps({"out": str(args.out)}))
    return 0


COMMANDS = {
    "serve": cmd_serve, "writer": cmd_writer, "web": cmd_web, "backup": cmd_backup, "restore": cmd_restore,
    "citypack": cmd_citypack, "ingest": cmd_ingest, "quarantine": cmd_quarantine,
    "simulate": cmd_simulate, "schedules": cmd_schedules, "alerts": cmd_alerts, "consume": cmd_consume,
    "indicators": cmd_indicators, "brief": cmd_brief, "users": cmd_users,
    "webhooks": cmd_webhooks, "audit": cmd_audit,
}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    settings = Settings.load(city=getattr(args, "city", None), data_dir=getattr(args, "data_dir", None),
                             host=getattr(args, "host", None), port=getattr(args, "port", None),
                             redis_url=getattr(args, "redis_url", None))
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        return COMMANDS[args.command](settings, args)
    except (CommandError, ValueError, KeyError) as exc:  # ValueError/KeyError: bad arguments found by the domain
        print(f"error: {exc.args[0] if isinstance(exc, KeyError) and exc.args else exc}", file=sys.stderr)
        return 2
    except WriterUnavailable as exc:  # not the input's fault (writer restarting, disk full): try again later
        print(f"error: {exc}; nothing was stored by the failed step, try again later", file=sys.stderr)
        return 75  # EX_TEMPFAIL
