"""Scheduled briefing packs: cron-like rules in the city's time zone, caught up after downtime.

    add_schedule(store, pack, "daily-city", "30 7 * * *", "daily", "city", "zh", window_hours=24)
    run_due(store, pack, now)   # every due run (also the ones missed while down), oldest first

Only the store's writer runs schedules (one process when scaled, since it alone holds the file).
A run is frozen to its scheduled moment: the window ends at the scheduled time, and the numbers
are computed as of then, so a caught-up run shows what the city had at that time.
"""
from __future__ import annotations

import datetime as dt
import logging
import zoneinfo
from dataclasses import dataclass

from datasources import gateway
from datasources.remote import in_writer
from datasources.store import Store, utcnow
from security.scope import Scope

log = logging.getLogger(__name__)
MAX_CATCH_UP = 31  # runs per schedule and pass: a month of dailies after a long outage


@dataclass(frozen=True)
class Cron:
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]  # 0 = Sunday .. 6 = Saturday

    def matches(self, local: dt.datetime) -> bool:
        return (local.minute in self.minutes and local.hour in self.hours and local.day in self.days
                and local.month in self.months and (local.isoweekday() % 7) in self.weekdays)


def _field(text: str, low: int, high: int) -> frozenset[int]:
    values: set[int] = set()
    for part in text.split(","):
        step = 1
        if "/" in part:
            part, step_text = part.split("/", 1)
            step = int(step_text)
        if part == "*":
            start, end = low, high
        elif "-" in part:
            start, end = (int(x) for x in part.split("-", 1))
        else:
            start = end = int(part)
        if not (low <= start <= end <= high) or step < 1:
            raise ValueError(f"cron field {text!r} out of range {low}-{high}")
        values.update(range(start, end + 1, step))
    return frozenset(values)


def parse_cron(expr: str) -> Cron:
    parts = expr.split()
    if len(parts) != 5:
        raise ValueError("a cron rule has five fields: minute hour day-of-month month day-of-week")
    try:
        return Cron(_field(parts[0], 0, 59), _field(parts[1], 0, 23), _field(parts[2], 1, 31), _field(parts[3], 1, 12),
                    frozenset(d % 7 for d in _field(parts[4], 0, 7)))
    except ValueError as exc:
        raise ValueError(f"bad cron rule {expr!r}: {exc}") from None


def run_times(cron: Cron, after_utc: dt.datetime, until_utc: dt.datetime, timezone: str, limit: int) -> list[dt.datetime]:
    """Scheduled moments (naive UTC) in (after, until], at most `limit`, oldest first."""
    zone = zoneinfo.ZoneInfo(timezone)
    local = after_utc.replace(tzinfo=dt.UTC).astimezone(zone).replace(second=0, microsecond=0) + dt.timedelta(minutes=1)
    end = until_utc.replace(tzinfo=dt.UTC).astimezone(zone)
    out = []
    while local <= end and len(out) < limit:
        if local.month not in cron.months or local.day not in cron.days or (local.isoweekday() % 7) not in cron.weekdays:
            local = (local + dt.timedelta(days=1)).replace(hour=0, minute=0)
            continue
        if local.hour not in cron.hours:
            local = (local + dt.timedelta(hours=1)).replace(minute=0)
            continue
        if local.minute in cron.minutes:
            out.append(local.astimezone(dt.UTC).replace(tzinfo=None))
        local += dt.timedelta(minutes=1)
    return out


def add_schedule(store: Store, pack, name: str, cron: str, template: str, scope: str, lang: str,
                 window_hours: float = 24, now: dt.datetime | None = None) -> None:
    from briefings.build import TEMPLATES, parse_scope

    parse_cron(cron)
    if template not in TEMPLATES:
        raise ValueError(f"unknown template {template!r}")
    parse_scope(pack, scope)
    if lang not in ("zh", "en") or window_hours <= 0:
        raise ValueError("lang must be zh or en and the window positive")
    now = now or utcnow()
    store.execute_write(
        "insert or replace into briefing_schedules values ($name, $cron, $template, $scope, $lang, $hours, $now, $now, true)",
        {"name": name, "cron": cron, "template": template, "scope": scope, "lang": lang, "hours": window_hours, "now": now},
    )


def list_schedules(store: Store) -> list[dict]:
    return gateway.query_rows(store, "briefing_schedules", Scope.city())


@in_writer
def run_due(store: Store, pack, now: dt.datetime | None = None) -> list[tuple[str, dt.datetime, int]]:
    """Build and freeze every due run (missed ones too); returns (schedule, scheduled at, briefing id)."""
    from briefings.build import build_brief
    from briefings.store import freeze

    now = now or utcnow()
    done = []
    for schedule in list_schedules(store):
        cron = parse_cron(schedule["cron"])
        for at in run_times(cron, schedule["last_run_at"], now, pack.timezone, MAX_CATCH_UP):
            brief = build_brief(store, pack, schedule["scope"], schedule["template"],
                                at - dt.timedelta(hours=schedule["window_hours"]), at, schedule["lang"], now=at)
            briefing_id, _ = freeze(store, brief)
            store.execute_write("update briefing_schedules set last_run_at = $at where name = $name",
                                {"at": at, "name": schedule["name"]})
            log.info("scheduled briefing %s for %s: #%s", schedule["name"], at, briefing_id)
            done.append((schedule["name"], at, briefing_id))
    return done
