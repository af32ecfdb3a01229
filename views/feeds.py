"""Feed freshness (header badges, /feeds, /healthz) and the quarantine waiting for a fix.

Freshness is read once a second per process whatever the number of open consoles (ages grow with
the clock, so the rhythm is the second, not the version)."""
from __future__ import annotations

from datasources import health
from views.cache import view


@view("feeds.health", rhythm_s=1.0)
def feed_health(store, settings) -> dict:
    return health.feed_health_for(store, settings)


@view("feeds.quarantine")
def quarantine_summary(store, scope) -> list[dict]:
    return health.quarantine_summary(store, scope)


@view("feeds.unplaced", rhythm_s=15.0, versioned=False)
def unplaced_cases(store, scope) -> dict:
    """Cases in no unit of the first level. A scan of every case (~70 ms per 5M): at most once per
    15 s, not at every new version while a /feeds page is open."""
    return health.unplaced_cases(store, scope)
