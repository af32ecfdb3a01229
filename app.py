"""CityBrain: the Dash console and the command line.

    python app.py serve [--host H] [--port N] [--no-simulate]
    python app.py citypack check DIR
    python app.py ingest {cases|sensors|devices|services|halls} FILE [--mapping M.toml]
    python app.py consume [--redis-url URL]      (the store's writer for Redis Stream feeds)
    python app.py users token NAME [--role ROLE] [--scope LEVEL:ID]...
    python app.py brief --template daily|weekly|incident --scope city|LEVEL:ID --start ISO --end ISO --out F.pdf

Every command takes --city DIR and --data-dir DIR (before or after the subcommand); the command
line lives in cli.py, the web app here.
"""
from __future__ import annotations

import logging
import sys

import cli
from settings import ROOT, Settings

log = logging.getLogger("citybrain")


# ---------------------------------------------------------------------------- the web app


def create_app(runtime):
    """The Dash app (pages from layouts/, callbacks from callbacks/) on top of a Runtime."""
    import dash

    import callbacks
    from api import auth, register_routes
    from callbacks.context import remember_lang
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
    remember_lang(app.server)
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
            print(f"  {name:20} {role:16} {password}", flush=True)
        from dispatch.demo import seed_orders

        seeded = seed_orders(runtime.store, runtime.pack)  # a first start: a few joint orders to look at
        if seeded:
            print(f"Demo dispatch orders: {', '.join(seeded)}", flush=True)
    print(f"CityBrain console on http://{settings.host}:{settings.port}  (city: {runtime.pack.name_en}, "
          f"data: {settings.db_path})", flush=True)
    try:
        # The version check of Dash's dev tools phones home: off (command centers run offline).
        app.run(host=settings.host, port=settings.port, debug=False, threaded=True, dev_tools_disable_version_check=True)
    finally:
        runtime.close()


main = cli.main  # `python app.py COMMAND`: the command line lives in cli.py


if __name__ == "__main__":
    sys.exit(main())
