"""Processes in production: the writer, the web tier under gunicorn, and `serve` supervising both.

    serve --workers 1      one process: Werkzeug's threaded server + the writer (development, baseline)
    serve --workers N      a supervisor: one writer process + gunicorn (gthread) with N web workers;
                           restarts the writer if it dies (gunicorn replaces its own workers)
    writer                 the writer alone (owns the DuckDB file; feeds, simulator, alerts,
                           escalation, scheduler, webhooks; serves reads and commands on its socket)
    web --workers N        the web tier alone, reaching the writer at --writer ADDRESS

Domain code never imports from here; see datasources/remote.py for the link between the tiers.
"""
