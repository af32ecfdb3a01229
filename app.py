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
import signal
import sys

import cli
from settings import ROOT, Settings

log = logging.getLogger("citybrain")


# ---------------------------------------------------------------------------- the web app


def create_app(runtime):
    """The Dash app (pages from layouts/, callbacks from callbacks/) on top of a Runtime."""
    import dash

    import callbacks
    from api import auth, push, register_routes
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
    push.install(app.server, runtime)  # GET /events: the data version by server push
    app.layout = shell.layout(runtime.settings.poll_ms, dash.page_container)
    _ready_before_serving(app)
    return app


def _ready_before_serving(app) -> None:
    """Dash finishes its setup on the first request of a process (registering the script paths it
    serves, copying the callbacks, adding the pages router) behind flags it sets *before* doing the
    work: requests arriving meanwhile on other threads found scripts "not registered" (500) and
    callbacks missing, and the page stayed blank. That is the normal case for a fresh gunicorn
    worker, which gets a browser's parallel script requests at once. One request here, before the
    process serves anyone, does that setup while nobody else can ask."""
    response = app.server.test_client().get("/_favicon.ico")
    if response.status_code != 200:
        raise RuntimeError(f"the console's setup request failed: {response.status_code}")


def serve(settings: Settings, simulate: bool) -> None:
    """One process (`serve --workers 1`): the writer and Werkzeug's threaded server together.
    Development and the load benchmark's baseline; production runs serving/supervisor.py."""
    from datasources.runtime import open_runtime
    from datasources.writer_service import WriterService

    runtime = open_runtime(settings, simulate=simulate)
    service = WriterService(runtime)  # the CLI works through it while this runs
    service.start()
    app = create_app(runtime)
    if settings.demo:
        from serving.writer import announce_demo

        announce_demo(runtime)
    print(f"CityBrain console on http://{settings.host}:{settings.port}  (city: {runtime.pack.name_en}, "
          f"data: {settings.db_path})", flush=True)
    def stop(*_):  # SIGTERM (systemd, docker stop) ends like Ctrl-C: threads stopped, store closed
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    try:
        # The version check of Dash's dev tools phones home: off (command centers run offline).
        app.run(host=settings.host, port=settings.port, debug=False, threaded=True, dev_tools_disable_version_check=True)
    except KeyboardInterrupt:
        pass
    finally:
        service.close()
        runtime.close()
        print("CityBrain console stopped", flush=True)


main = cli.main  # `python app.py COMMAND`: the command line lives in cli.py


if __name__ == "__main__":
    sys.exit(main())
