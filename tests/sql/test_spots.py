"""Hot and blind spots (indicators/spots.py) on a hand-built store (NYC pack, community districts):
the per-(department, unit) numbers equal an independent count, and the rules pick exactly the
units built to be hot or blind, in a fixed order, with their evidence."""
from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import pytest

from datasources import gateway
from datasources.ingest import ingest_file
from datasources.runtime import sync_pack
from indicators.compare import baseline_start
from indicators.spots import SpotsError, blind_spots, hot_spots, spots
from security.scope import Scope

START, END = dt.datetime(2024, 3, 1, 5), dt.datetime(2024, 3, 8, 5)  # local midnights in New York
SINCE = dt.datetime(2024, 2, 16, 5)                                     # two weeks before (periods=2)
FIELDS = ["case_id", "category", "reported_at", "due_at", "closed_at", "status", "unit.cd", "department"]


def batch(dept, unit, n, first, *, closed_after=None, closed_first=None, due_after=dt.timedelta(days=60)):
    """n cases reported an hour apart from `first`; the first `closed_first` (default all when
    closed_after is given) closed `closed_after` after their report."""
    out = []
    for k in range(n):
        reported = first + dt.timedelta(hours=k)
        closes = closed_after is not None and (closed_first is None or k < closed_first)
        out.append({"case_id": f"{dept}-{unit}-{first:%m%d}-{k}", "department": dept, "unit.cd": unit,
                    "reported_at": reported, "due_at": reported + due_after,
                    "closed_at": reported + closed_after if closes else None})
    return out


DAY = dt.timedelta(days=1)
CASES = [
    # NYPD 01 Brooklyn: 2 a week before, 10 now (8 of them closed within the window): hot, handled
    *batch("NYPD", "01 Brooklyn", 2, dt.datetime(2024, 2, 17, 12), closed_after=DAY),
    *batch("NYPD", "01 Brooklyn", 2, dt.datetime(2024, 2, 24, 12), closed_after=DAY),
    *batch("NYPD", "01 Brooklyn", 10, dt.datetime(2024, 3, 2, 12), closed_after=DAY, closed_first=8),
    # NYPD 02 Brooklyn: 4 now after nothing: too few to be hot
    *batch("NYPD", "02 Brooklyn", 4, dt.datetime(2024, 3, 3, 12), closed_after=DAY),
    # NYPD 03 Brooklyn: 10 a week before, 14 now: rise 4 but ratio (15/11) too small
    *batch("NYPD", "03 Brooklyn", 20, dt.datetime(2024, 2, 16, 12), closed_after=DAY),
    *batch("NYPD", "03 Brooklyn", 14, dt.datetime(2024, 3, 2, 0), closed_after=DAY, closed_first=10),
    # NYPD 04 Brooklyn: an old backlog of 5 still open, not yet due, nothing closed now: blind (no closure)
    *batch("NYPD", "04 Brooklyn", 5, dt.datetime(2024, 1, 5, 12), due_after=dt.timedelta(days=120)),
    # DSNY 01 Manhattan: 6 now after nothing, none closed, 5 past due at as-of: hot and blind (3 reasons)
    *batch("DSNY", "01 Manhattan", 5, dt.datetime(2024, 3, 2, 12), due_after=2 * DAY),
    *batch("DSNY", "01 Manhattan", 1, dt.datetime(2024, 3, 7, 12), due_after=2 * DAY),
    # DSNY 02 Manhattan: closed before the window only: nothing
    *batch("DSNY", "02 Manhattan", 3, dt.datetime(2024, 2, 20, 12), closed_after=DAY),
]


def iso(moment):
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ") if moment else ""


@pytest.fixture
def filled(store, nyc, tmp_path):
    sync_pack(store, nyc)
    path = tmp_path / "cases.csv"
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, FIELDS)
        writer.writeheader()
        for c in CASES:
            writer.writerow({**c, "category": "Noise - Residential", "status": "closed" if c["closed_at"] else "accepted",
                             "reported_at": iso(c["reported_at"]), "due_at": iso(c["due_at"]), "closed_at": iso(c["closed_at"])})
    summary = ingest_file(store, nyc, "cases", path)
    assert summary["accepted"] == len(CASES), summary
    return store


def truth_rows() -> dict:
    """spots_cases.sql by hand."""
    out = {}
    for key in sorted({(c["department"], c["unit.cd"]) for c in CASES}):
        mine = [c for c in CASES if (c["department"], c["unit.cd"]) == key]
        open_at_end = [c for c in mine if c["reported_at"] < END and (c["closed_at"] is None or c["closed_at"] > END)]
        now = [c for c in mine if START <= c["reported_at"] < END]
        row = {
            "reported_now": len(now),
            "reported_before": sum(SINCE <= c["reported_at"] < START for c in mine),
            "closed_of_reported": sum(c["closed_at"] is not None and c["closed_at"] <= END for c in now),
            "due_of_reported": sum((c["closed_at"] is not None and c["closed_at"] <= END) or c["due_at"] <= END for c in now),
            "closures_in_window": sum(c["closed_at"] is not None and START <= c["closed_at"] <= END for c in mine),
            "open_now": len(open_at_end),
            "overdue_now": sum(c["due_at"] < END for c in open_at_end),
            "oldest_open_hours": max(((END - c["reported_at"]).total_seconds() / 3600 for c in open_at_end), default=None),
        }
        if any(v for k, v in row.items() if k != "oldest_open_hours"):
            out[key] = row
    return out


def test_baseline_start_is_whole_local_periods():
    assert baseline_start(START, END, "America/New_York", 2) == SINCE
    # across the spring DST change: still local midnight
    assert baseline_start(dt.datetime(2024, 3, 11, 4), dt.datetime(2024, 3, 12, 4), "America/New_York", 2) == \
        dt.datetime(2024, 3, 9, 5)


def test_sql_counts_equal_an_independent_count(filled, nyc):
    rows = gateway.query_rows(filled, "spots_cases", Scope.city(), level_index=nyc.level("cd").index,
                              since=SINCE, start=START, end=END)
    got = {(r["department"], r["unit_id"]): {k: r[k] for k in r if k not in ("department", "unit_id")} for r in rows}
    expected = truth_rows()
    assert got.keys() >= expected.keys()
    for key, row in expected.items():
        for name, value in row.items():
            assert got[key][name] == (pytest.approx(value, abs=1e-9) if value is not None else None), (key, name)


def test_hot_and_blind_spots_by_the_rules(filled, nyc):
    found = spots(filled, nyc, Scope.city(), START, END, level="cd", periods=2)
    assert found["since"] == SINCE and found["level"] == "cd"
    hot = [(s["department"], s["unit_id"]) for s in found["hot"]]
    assert hot == [("NYPD", "01 Brooklyn"), ("DSNY", "01 Manhattan")]
    first = found["hot"][0]
    assert (first["reported_now"], first["reported_before"], first["baseline_mean"], first["rise"], first["ratio"]) == \
        (10, 4, 2.0, 8.0, 5.0)
    assert found["hot"][1]["ratio"] is None and found["hot"][1]["smoothed_ratio"] == 7.0
    blind = [(s["department"], s["unit_id"], s["reasons"]) for s in found["blind"]]
    assert blind == [("DSNY", "01 Manhattan", ["overdue", "no_closure", "low_closure"]),
                     ("NYPD", "04 Brooklyn", ["no_closure"])]
    dsny = found["blind"][0]
    assert (dsny["reported_now"], dsny["open_now"], dsny["overdue_now"], dsny["closure_share"]) == (6, 6, 5, 0.0)
    assert found["hot_by_department"] == {"DSNY": [found["hot"][1]], "NYPD": [found["hot"][0]]}
    # deterministic: the same call gives the same answer
    assert spots(filled, nyc, Scope.city(), START, END, level="cd", periods=2) == found


def test_department_and_unit_scopes(filled, nyc):
    only_dsny = spots(filled, nyc, Scope(department="DSNY"), START, END, level="cd", periods=2)
    assert {s["department"] for s in only_dsny["hot"] + only_dsny["blind"]} == {"DSNY"}
    brooklyn = nyc.units_by_id[("cd", "01 Brooklyn")]["parent_id"]
    scoped = spots(filled, nyc, Scope(level_index=1, unit_ids=(brooklyn,)), START, END, periods=2)
    assert scoped["level"] == "cd"  # the scope's child level
    assert [s["unit_id"] for s in scoped["hot"]] == ["01 Brooklyn"]
    assert [s["unit_id"] for s in scoped["blind"]] == ["04 Brooklyn"]
    with pytest.raises(SpotsError):
        spots(filled, nyc, Scope.city(), END, START)
    with pytest.raises(SpotsError):
        spots(filled, nyc, Scope.city(), START, END, level="galaxy")


def test_rules_on_plain_rows():
    row = {"department": "D", "unit_id": "u", "reported_now": 5, "reported_before": 0, "closed_of_reported": 5,
           "due_of_reported": 5,
           "closures_in_window": 5, "open_now": 0, "overdue_now": 0, "oldest_open_hours": None}
    assert [s["rise"] for s in hot_spots([row], 4, 5, 3, 1.5)] == [5.0]
    assert hot_spots([{**row, "reported_now": 4}], 4, 5, 3, 1.5) == []
    assert blind_spots([row], 5, 3, 0.5) == []
    low = blind_spots([{**row, "closed_of_reported": 2}], 5, 3, 0.5)
    assert low[0]["reasons"] == ["low_closure"] and low[0]["closure_share"] == 0.4
    assert blind_spots([{**row, "closed_of_reported": 2, "due_of_reported": 4}], 5, 3, 0.5) == []  # too few due
    # overdue must also be a real share of the open cases
    busy = {**row, "open_now": 100, "overdue_now": 10}
    assert blind_spots([busy], 5, 3, 0.5, 0.25) == [] and blind_spots([busy], 5, 3, 0.5, 0.1)[0]["reasons"] == ["overdue"]
