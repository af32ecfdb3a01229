"""CityBrain: the Dash console and the command line.

    python app.py serve [--host H] [--port N] [--no-simulate]
    python app.py citypack check DIR
    python app.py ingest {cases|sensors|devices|services|halls} FILE [--mapping M.toml]

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
    from dash import dcc, html

    import callbacks  # noqa: F401  (registers every callback module)
    from api import register_routes
    from layouts import shell

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
    register_routes(app.server, runtime)
    app.layout = shell.layout(runtime.settings.poll_ms, dash.page_container)
    return app


def serve(settings: Settings, simulate: bool) -> None:
    from datasources.runtime import open_runtime

    runtime = open_runtime(settings, simulate=simulate)
    app = create_app(runtime)
    print(f"CityBrain console on http://{settings.host}:{settings.port}  (city: {runtime.pack.name_en}, "
          f"data: {settings.db_path})", flush=True)
    try:
        # The version check of Dash's dev tools phones home: off (command centers run offline).
        app.run(host=settings.host, port=settings.port, debug=False, threaded=True, dev_tools_disable_version_check=True)
    finally:
        runtime.close()


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
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    settings = Settings.load(city=getattr(args, "city", None), data_dir=getattr(args, "data_dir", None),
                             host=getattr(args, "host", None), port=getattr(args, "port", None))
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

    if args.command == "serve":
        serve(settings, simulate=settings.simulate and not args.no_simulate)
        return 0
    return 2


if __name__ == "__main__":
    sys.exit(main())
