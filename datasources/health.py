"""Feed freshness: the newest record of each feed and whether it is live, late or stalled."""
from __future__ import annotations

import datetime as dt

from datasources import gateway
from datasources.store import Store, utcnow
from security.scope import Scope

FEEDS_SHOWN = ("cases", "sensors", "services")


def feed_health_for(store: Store, settings, now: dt.datetime | None = None) -> dict[str, dict]:
    """feed_health with the configured thresholds: cases may be quiet longer than sensors.

    Sensors and service halls report every minute, so a few minutes of silence means a stall;
    citizens' cases arrive irregularly (a quiet night is not an outage), so their feed has its own,
    longer thresholds.
    """
    return feed_health(store, settings.feed_amber_s, settings.feed_red_s, now=now,
                       per_feed={"cases": (settings.case_feed_amber_s, settings.case_feed_red_s)})


def feed_health(store: Store, amber_s: float, red_s: float, now: dt.datetime | None = None,
                per_feed: dict[str, tuple[float, float]] | None = None) -> dict[str, dict]:
    """Per feed: last_record_at, last_commit_at, totals, age_s (since the newest record) and state.

    State is judged on the newest record time: a feed that keeps committing old records is still
    stale. A feed never seen is 'red' (the console must not look healthy with no data).
    """
    now = now or utcnow()
    rows = {row["feed"]: row for row in gateway.query_rows(store, "feed_health", Scope.city())}
    rates = {row["feed"]: row for row in gateway.query_rows(store, "feed_rates", Scope.city(), as_of=now)}
    out = {}
    for feed in FEEDS_SHOWN:  # devices and halls are reference data, not live feeds
        row = rows.get(feed, {})
        last = row.get("last_record_at")
        age = None if last is None else max(0.0, (now - last).total_seconds())
        amber, red = (per_feed or {}).get(feed, (amber_s, red_s))
        state = "red" if age is None or age >= red else "amber" if age >= amber else "ok"
        out[feed] = {
            "last_record_at": None if last is None else last.isoformat() + "Z",
            "last_commit_at": None if row.get("last_commit_at") is None else row["last_commit_at"].isoformat() + "Z",
            "records_total": row.get("records_total", 0),
            "quarantined_total": row.get("quarantined_total", 0),
            "age_s": None if age is None else round(age, 1),
            "state": state,
            "rate_per_min": round(rates.get(feed, {}).get("rate_per_min") or 0.0, 1),
            "quarantine_rate_1h": rates.get(feed, {}).get("quarantine_rate_1h"),
        }
    return out


def quarantine_summary(store: Store, scope: Scope) -> list[dict]:
    """Quarantined records waiting for a fix, per feed and reason (city-wide scopes only)."""
    return gateway.query_rows(store, "quarantine_summary", scope)


def unplaced_cases(store: Store, scope: Scope) -> dict:
    """Stored cases in no unit of the first level (datasources/sql/cases_unplaced.sql): `outside_cases`
    (coordinates in no unit) and `unlocated_cases` (no place at all), and of each the open ones
    (`outside_open`, `unlocated_open`). They count in the city's totals but in no unit's, so the
    units' sum falls short of the city by these numbers."""
    return gateway.query_rows(store, "cases_unplaced", scope)[0]
