"""The bounded time domain (datasources/timedomain.py) and every feed's times checked against it."""
from __future__ import annotations

import datetime as dt
import json

import pandas as pd
import pytest

from datasources.bus import _frame
from datasources.ingest import frame_of_records, ingest_frame, parse_times
from datasources.runtime import sync_pack
from datasources.timedomain import BadTime, TimeDomain, parse_time
from settings import Settings

NOW = dt.datetime(2026, 3, 2)
ODD = ["9999-12-31T23:59:59", "0001-01-01T00:00:00", "-0044-03-15", "+275760-09-13", "1900-01-01", "2262-04-12",
       12345, 1e20, float("inf"), {"a": 1}, [1, 2], True, "nan"]


def test_the_domain_comes_from_settings_and_refuses_nonsense():
    domain = TimeDomain.from_settings(Settings.load(env={"CITYBRAIN_TIME_MIN_YEAR": "2000"}))
    assert (domain.min_year, domain.max_year) == (2000, 2100)
    assert domain.lower == dt.datetime(2000, 1, 1) and domain.upper == dt.datetime(2101, 1, 1)
    for low, high in ((1, 2100), (2000, 1999), (1970, 9999)):
        with pytest.raises(ValueError):
            TimeDomain(low, high)


def test_parse_time_reads_the_zone_and_names_the_parameter():
    assert parse_time("2026-03-01", "Asia/Shanghai") == dt.datetime(2026, 2, 28, 16)
    assert parse_time("2026-03-01T08:00Z", "Asia/Shanghai") == dt.datetime(2026, 3, 1, 8)
    # a local midnight on the domain's first day and an exclusive end just after it are fine
    assert parse_time("1970-01-01", "Asia/Shanghai") == dt.datetime(1969, 12, 31, 16)
    assert parse_time("2101-01-01", "America/New_York") == dt.datetime(2101, 1, 1, 5)
    for text, words in (("1900-01-01", "since 1900-01-01 is outside the time domain (years 1970-2100)"),
                        ("0001-01-01", "since 0001-01-01 is outside the time domain"),
                        ("9999-12-31T23:59:59-14:00", "outside the time domain"),
                        ("-0044-03-15", "since is not an ISO 8601 date or date-time"),
                        ("yesterday", "since is not an ISO 8601")):
        with pytest.raises(BadTime, match=words.replace("(", r"\(").replace(")", r"\)")):
            parse_time(text, "Asia/Shanghai", name="since")
    with pytest.raises(BadTime, match="due_at must be an ISO 8601 string"):
        parse_time(12, "UTC", name="due_at")
    assert parse_time("1950-06-01", "UTC", TimeDomain(1900, 2000)) == dt.datetime(1950, 6, 1)


def test_parse_times_never_raises_and_flags_what_it_cannot_read():
    values = pd.Series(ODD + ["2026-03-01T08:00:00+08:00", None], dtype=object)
    parsed, bad = parse_times(values, None, "America/New_York")
    assert parsed.iloc[-2] == pd.Timestamp("2026-03-01T00:00:00")
    assert not bad.iloc[-1] and pd.isna(parsed.iloc[-1])  # blank: missing, not bad
    # every odd value is either unreadable or a time the domain check will refuse
    outside = TimeDomain().outside(parsed)
    assert (bad | outside).iloc[: len(ODD)].all()


FEED_ODD = ["9999-12-31T23:59:59", "0001-01-01T00:00:00", "-0044-03-15", {"a": 1}, 1e20]
FEED_TIMES = {
    "cases": (["reported_at", "due_at", "closed_at"],
              {"case_id": "c", "reported_at": "2026-03-01T08:00:00+08:00", "category": "street_light", "lat": 39.9,
               "lon": 116.4}),
    "sensors": (["observed_at"], {"device_id": "AI-110101-01", "observed_at": "2026-03-01T08:00:00+08:00",
                                  "metric": "pm25", "value": 3}),
    "services": (["ticket_at", "called_at", "done_at"],
                 {"hall_id": "H110101", "ticket_at": "2026-03-01T08:00:00+08:00",
                  "called_at": "2026-03-01T08:10:00+08:00", "done_at": "2026-03-01T08:20:00+08:00"}),
}


@pytest.fixture(scope="module")
def synced(tmp_path_factory, beijing):
    from datasources.store import Store

    store = Store(tmp_path_factory.mktemp("domain") / "d.duckdb")
    sync_pack(store, beijing)
    yield store
    store.close()


@pytest.mark.parametrize("feed,column", [(f, c) for f, (cols, _) in FEED_TIMES.items() for c in cols])
@pytest.mark.parametrize("build", ["pushed", "bus"])
def test_one_odd_time_quarantines_its_record_only_in_every_feed(synced, beijing, feed, column, build):
    store = synced
    columns, template = FEED_TIMES[feed]
    day = columns.index(column) + (10 if build == "bus" else 1)  # records unique per test
    for n, odd in enumerate(FEED_ODD):
        records = []
        for i in range(4):
            record = dict(template)
            key = {"cases": "case_id", "sensors": "value", "services": "transaction_id"}[feed]
            record[key] = f"{build}-{column}-{n}-{i}" if feed != "sensors" else n * 10 + i
            if feed == "sensors":
                record["observed_at"] = f"2026-02-{day:02d}T08:{n:02d}:{i:02d}+08:00"
            records.append(record)
        records[2][column] = odd
        if column == "closed_at":
            records[2]["status"] = "closed"
        # records as the push API and the bus turn them into frames (nested values included)
        frame = frame_of_records(records) if build == "pushed" else _frame(json.loads(json.dumps(records)))
        report = ingest_frame(store, beijing, feed, frame, origin="test", now=NOW)
        assert [i for i, _ in report.errors] == [2], (odd, report.errors)
        assert report.result.accepted == 3, odd
        reason = report.errors[0][1]
        assert reason.startswith(f"bad {column} ") or "outside the time domain" in reason, reason
