"""Scheduled briefings with an injected clock: due runs, catch-up after downtime, no double runs."""
import datetime as dt

import pytest

from briefings.schedule import add_schedule, parse_cron, run_due, run_times
from briefings.store import load_briefing


def test_cron_rules_in_the_city_time_zone():
    daily = parse_cron("30 7 * * *")
    times = run_times(daily, dt.datetime(2026, 3, 1, 0, 0), dt.datetime(2026, 3, 4, 0, 0), "Asia/Shanghai", 10)
    assert times == [dt.datetime(2026, 3, d, 23, 30) for d in (1, 2, 3)]  # 07:30 Beijing = 23:30 UTC the day before
    mondays = run_times(parse_cron("0 8 * * 1"), dt.datetime(2026, 3, 1), dt.datetime(2026, 3, 31), "Asia/Shanghai", 10)
    assert [t.isoweekday() for t in mondays] == [1] * 5 and mondays[0] == dt.datetime(2026, 3, 2, 0, 0)
    for bad in ("30 7 * *", "61 7 * * *", "x 7 * * *", "0 8 * * 9"):
        with pytest.raises(ValueError):
            parse_cron(bad)


def test_missed_runs_are_caught_up_once_each(console_runtime):
    store, pack = console_runtime.store, console_runtime.pack
    created = dt.datetime(2026, 11, 18, 12, 0)
    add_schedule(store, pack, "test-daily", "30 7 * * *", "daily", "district:110105", "zh", 24, now=created)
    down_until = dt.datetime(2026, 11, 21, 1, 0)  # the writer was down for three mornings
    runs = run_due(store, pack, now=down_until)
    assert [at for name, at, _ in runs if name == "test-daily"] == [
        dt.datetime(2026, 11, 18, 23, 30), dt.datetime(2026, 11, 19, 23, 30), dt.datetime(2026, 11, 20, 23, 30)]
    assert [r for r in run_due(store, pack, now=down_until) if r[0] == "test-daily"] == []  # nothing twice
    briefing = load_briefing(store, runs[-1][2])
    assert briefing["end"] == dt.datetime(2026, 11, 20, 23, 30) and briefing["scope"] == "district:110105"
    assert briefing["pdf"][:4] == b"%PDF"
