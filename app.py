"""CityBrain: the Dash console and the command line.

    python app.py serve [--host H] [--port N] [--no-simulate]
    python app.py citypack check DIR
    python app.py ingest {cases|sensors|devices|services|halls} FILE [--mapping M.toml]
    python app.py consume [--redis-url URL]      (the store's writer for Redis Stream feeds)
    python app.py users token NAME [--role ROLE] [--scope LEVEL:ID]...
    python app.py brief --template daily|weekly|incident --scope city|LEVEL:ID --start ISO --end ISO --out F.pdf

Every command takes --city DIR and --data-dir DIR (before or after the subcommand).
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from settings import ROOT, Settings

log = logging.getLogger("citybrain")


# ---------------------------------------------------------------------------- the web app


def create_app(runtime):
    """The Dash app (pages from layouts/, callbacks from callbacks/) on top of a Runtime."""
    import dash

    import callbacks
    from api import auth, register_routes
    from layouts import shell

    callbacks.ensure_registered()
    app = dash.Dash(
        __name__,
        use_pages=True,
        pages_folder=str(ROOT / "layouts"),
        assets_folder=str(ROOT / "assets"),
        external_scripts=["/vendor/deckgl.js"],
        serve_locally=True,
        title="CityBrain",
        update_title=None,
        suppress_callback_exceptions=True,
    )
    app.server.extensions["citybrain"] = runtime
    auth.install(app.server, runtime)
    register_routes(app.server, runtime)
    app.layout = shell.layout(runtime.settings.poll_ms, dash.page_container)
    return app


def serve(settings: Settings, simulate: bool) -> None:
    from datasources.runtime import open_runtime

    runtime = open_runtime(settings, simulate=simulate)
    app = create_app(runtime)
    if settings.demo:
        from security.users import demo_users

        print("Demo users (new passwords at every start; not created outside demo mode):", flush=True)
        for name, role, password in demo_users(runtime.store, runtime.pack):
            print(f"  {name:10} {role:16} {password}", flush=True)
    print(f"CityBrain console on http://{settings.host}:{settings.port}  (city: {runtime.pack.name_en}, "
          f"data: {settings.db_path})", flush=True)
    try:
        # The version check of Dash's dev tools phones home: off (command centers run offline).
        app.run(host=settings.host, port=settings.port, debug=False, threaded=True, dev_tools_disable_version_check=True)
    finally:
        runtime.close()


def consume(settings: Settings, args) -> int:
    """Be the store's single writer for the Redis feed streams until SIGTERM/SIGINT."""
    import signal
    import threading

    from datasources.bus import RedisStreamBus
    from datasources.citypack import PackError, load_pack
    from datasources.runtime import sync_pack
    from datasources.store import Store

    if not settings.redis_url:
        print("error: consume needs --redis-url or REDIS_URL", file=sys.stderr)
        return 2
    try:
        pack = load_pack(settings.city)
    except PackError as exc:
        print(f"city pack {settings.city} is invalid:\n{exc}", file=sys.stderr)
        return 2
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    store = Store(settings.db_path)
    bus = RedisStreamBus(settings.redis_url, claim_idle_ms=args.claim_idle_ms)
    try:
        sync_pack(store, pack)
        print(f"consuming feeds from {settings.redis_url} into {settings.db_path}", flush=True)
        bus.consume(store, pack, stop, batch_entries=args.batch_entries, block_ms=args.block_ms)
    finally:
        bus.close()
        store.close()
    print(json.dumps(dict(bus.stats)), flush=True)
    return 0


def indicators_command(settings: Settings, args) -> int:
    """`indicators list | compute | explain` (CONTRACT §2), city-wide, read-only."""
    from datasources.citypack import PackError, load_pack
    from indicators.catalog import catalog

    if args.indicators_command == "list":
        for ind in catalog():
            print(json.dumps({"id": ind.id, "name_zh": ind.name_zh, "name_en": ind.name_en, "unit": ind.unit,
                              "definition": ind.definition}, ensure_ascii=False))
        return 0

    import duckdb

    from datasources.store import Store
    from indicators.compute import IndicatorError, compute, explain, parse_time, to_csv
    from security.scope import Scope

    try:
        pack = load_pack(settings.city)
    except PackError as exc:
        print(f"city pack {settings.city} is invalid:\n{exc}", file=sys.stderr)
        return 2
    try:
        store = Store(settings.db_path)
    except duckdb.IOException as exc:
        print(f"error: cannot open {settings.db_path} (is `serve` running on it?): {exc}", file=sys.stderr)
        return 2
    try:
        start, end = parse_time(args.start, pack.timezone), parse_time(args.end, pack.timezone)
        if args.indicators_command == "explain":
            lineage = explain(store, pack, Scope.city(), args.indicator, args.level, args.unit, start, end)
            print(json.dumps(lineage, ensure_ascii=False))
            return 0
        rows = compute(store, pack, Scope.city(), args.level, start, end, args.indicators)
    except IndicatorError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        store.close()
    if args.format == "json":
        print(json.dumps(rows, ensure_ascii=False))
    else:
        sys.stdout.write(to_csv(rows))
    return 0


def brief_command(settings: Settings, args) -> int:
    """`brief`: a frozen briefing pack (PDF, plus the HTML beside it), stored in table briefings."""
    import duckdb

    from briefings import BriefError, build_brief, freeze
    from datasources.citypack import PackError, load_pack
    from datasources.store import Store
    from indicators.compute import IndicatorError, parse_time

    try:
        pack = load_pack(settings.city)
    except PackError as exc:
        print(f"city pack {settings.city} is invalid:\n{exc}", file=sys.stderr)
        return 2
    try:
        store = Store(settings.db_path)
    except duckdb.IOException as exc:
        print(f"error: cannot open {settings.db_path} (is `serve` running on it?): {exc}", file=sys.stderr)
        return 2
    try:
        start, end = parse_time(args.start, pack.timezone), parse_time(args.end, pack.timezone)
        brief = build_brief(store, pack, args.scope, args.template, start, end, args.lang or pack.default_lang)
        briefing_id, pdf = freeze(store, brief)
    except (BriefError, IndicatorError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        store.close()
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(pdf)
    html_path = out.with_suffix(".html")
    from briefings import render_html

    html_path.write_text(render_html(brief.snapshot), encoding="utf-8")
    print(json.dumps({"briefing_id": briefing_id, "pdf": str(out), "html": str(html_path), "bytes": len(pdf)}))
    return 0


def users_command(settings: Settings, args) -> int:
    """users add | list | token: console users (argon2 passwords) and API bearer tokens."""
    import duckdb

    from datasources.citypack import load_pack
    from datasources.store import Store
    from security.tokens import holder, issue_token
    from security.users import add_user, get_user, list_users

    try:
        store = Store(settings.db_path)
    except duckdb.IOException as exc:
        print(f"error: cannot open {settings.db_path} (is `serve` running on it?): {exc}", file=sys.stderr)
        return 2
    try:
        if args.users_command == "list":
            for row in list_users(store):
                print(json.dumps(row, default=str, ensure_ascii=False))
            return 0
        if args.users_command == "add":
            if not args.password_stdin:
                print("error: give the password on standard input with --password-stdin", file=sys.stderr)
                return 2
            password = sys.stdin.readline().rstrip("\n")
            user = add_user(store, load_pack(settings.city), args.name, args.role, args.scope, password)
            print(f"user {user.name} ({user.role}{', ' + ', '.join(user.scopes) if user.scopes else ''}) saved")
            return 0
        if args.users_command == "revoke":
            from security.tokens import revoke_token

            print(f"revoked {revoke_token(store, args.name)} token(s) of {args.name}")
            return 0
        # token: a user's token carries the user's role and scopes; other holders are feed sources
        user = get_user(store, args.name)
        known = holder(store, args.name)
        if user is not None:
            role, scopes = user["role"], list(user["scopes"] or ())
        else:
            role = args.role or (known["role"] if known else "source")
            scopes = args.scope or (list(known["scopes"]) if known and not args.role else [])
        token = issue_token(store, args.name, role, scopes)
        print(f"token for {args.name} (role {role}); shown once, keep it secret:", file=sys.stderr)
        print(token)
        return 0
    except (ValueError, KeyError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        store.close()


# ---------------------------------------------------------------------------- the CLI


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
    ind_explain.add_argument("--indicator", required=True)
    ind_explain.add_argument("--unit", required=True, help="unit id at --level")

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
    revoke_p = users_commands.add_parser("revoke", help="revoke every live API token of a holder")
    _common(revoke_p, top=False)
    revoke_p.add_argument("name")
    token_p = users_commands.add_parser("token", help="issue a bearer token for the HTTP API (printed as the last line)")
    _common(token_p, top=False)
    token_p.add_argument("name", help="token holder: a user or a feed source")
    token_p.add_argument("--role", default=None,
                         help="role of a new holder (default: source; an existing holder keeps its role)")
    token_p.add_argument("--scope", action="append", default=[], metavar="LEVEL:ID",
                         help="scope of a new holder (LEVEL:ID or department:ID); repeatable")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    settings = Settings.load(city=getattr(args, "city", None), data_dir=getattr(args, "data_dir", None),
                             host=getattr(args, "host", None), port=getattr(args, "port", None),
                             redis_url=getattr(args, "redis_url", None))
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    if args.command == "citypack":
        from datasources.citypack import check_pack

        problems = check_pack(args.dir)
        for problem in problems:
            print(problem)
        if not problems:
            print(f"{args.dir}: valid city pack")
        return 1 if problems else 0

    if args.command == "ingest":
        from datasources.citypack import PackError, load_pack
        from datasources.ingest import IngestError, ingest_file
        from datasources.mapping import MappingError
        from datasources.runtime import sync_pack
        from datasources.store import Store

        try:
            pack = load_pack(settings.city)
        except PackError as exc:
            print(f"city pack {settings.city} is invalid:\n{exc}", file=sys.stderr)
            return 2
        store = Store(settings.db_path)
        try:
            sync_pack(store, pack)
            summary = ingest_file(store, pack, args.feed, args.file, args.mapping)
        except (IngestError, MappingError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        finally:
            store.close()
        for reason, count in list(summary["reasons"].items())[:10]:
            print(f"quarantined {count}: {reason}", file=sys.stderr)
        print(json.dumps(summary, ensure_ascii=False))
        return 0

    if args.command == "users":
        return users_command(settings, args)

    if args.command == "brief":
        return brief_command(settings, args)

    if args.command == "indicators":
        return indicators_command(settings, args)

    if args.command == "consume":
        return consume(settings, args)

    if args.command == "simulate":
        from datasources.citypack import load_pack
        from datasources.mapping import Mapping
        from datasources.replay import http_publisher, load_replay, replay

        redis_url = args.redis_url or settings.redis_url
        if args.push_url:
            if not args.token:
                print("error: --push-url needs --token", file=sys.stderr)
                return 2
            publish = http_publisher(args.push_url, args.token)
        elif redis_url:
            from datasources.bus import RedisStreamBus

            publish = RedisStreamBus(redis_url).publish
        else:
            print("error: a replay goes to Redis (--redis-url or REDIS_URL) or to a running console "
                  "(--push-url URL --token T)", file=sys.stderr)
            return 2
        pack = load_pack(settings.city)
        frame = load_replay(args.replay, args.feed, Mapping.load(args.mapping), pack)
        print(f"replaying {len(frame)} {args.feed} records at {args.speed:g}x", flush=True)
        try:
            count = replay(frame, args.feed, publish, speed=args.speed, retime=not args.keep_times)
        except KeyboardInterrupt:
            return 130
        print(json.dumps({"published": count}))
        return 0

    if args.command == "schedules":
        from briefings.schedule import add_schedule, list_schedules, run_due
        from datasources.citypack import load_pack
        from datasources.store import Store

        pack = load_pack(settings.city)
        store = Store(settings.db_path)
        try:
            if args.schedules_command == "add":
                add_schedule(store, pack, args.name, args.cron, args.template, args.scope, args.lang or pack.default_lang,
                             args.window_hours)
            elif args.schedules_command == "run":
                for name, at, briefing_id in run_due(store, pack):
                    print(json.dumps({"schedule": name, "scheduled_at": at.isoformat() + "Z", "briefing_id": briefing_id}))
            for row in list_schedules(store) if args.schedules_command != "run" else []:
                print(json.dumps(row, default=str, ensure_ascii=False))
            return 0
        except ValueError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        finally:
            store.close()

    if args.command == "alerts":
        from alerts.engine import evaluate, open_alerts
        from datasources.citypack import load_pack
        from datasources.runtime import sync_pack
        from datasources.store import Store
        from security.scope import Scope

        pack = load_pack(settings.city)
        store = Store(settings.db_path)
        try:
            if args.alerts_command == "evaluate":
                sync_pack(store, pack)
                print(json.dumps(evaluate(store, pack, settings)))
            for row in open_alerts(store, Scope.city()) if args.alerts_command == "list" else []:
                print(json.dumps(row, default=str, ensure_ascii=False))
            return 0
        finally:
            store.close()

    if args.command == "quarantine":
        from datasources import gateway
        from datasources.citypack import load_pack
        from datasources.ingest import reprocess_quarantine
        from datasources.runtime import sync_pack
        from datasources.store import Store
        from security.scope import Scope

        pack = load_pack(settings.city)
        store = Store(settings.db_path)
        try:
            if args.quarantine_command == "list":
                for row in gateway.query_rows(store, "quarantine_summary", Scope.city()):
                    print(json.dumps(row, default=str, ensure_ascii=False))
                return 0
            sync_pack(store, pack)
            print(json.dumps(reprocess_quarantine(store, pack, args.feed, args.mapping, args.reason), ensure_ascii=False))
            return 0
        finally:
            store.close()

    if args.command == "serve":
        serve(settings, simulate=settings.simulate and not args.no_simulate)
        return 0
    return 2


if __name__ == "__main__":
    sys.exit(main())
