"""环比 / 同比 / sibling ranks (indicators/compare.py) on a hand-built store (NYC pack), checked cell by
cell against an independent computation in plain Python; plus the window arithmetic (DST, Feb 29),
the CLI `--compare` columns and the API's `compare=1`."""
from __future__ import annotations

import csv
import datetime as dt
import io
import json
import random
from pathlib import Path

import pytest

from datasources.ingest import ingest_file
from datasources.runtime import sync_pack
from indicators.compare import (COMPARE_COLUMNS, change, compare, direction, last_year_window, previous_window,
                                rank_values)
from indicators.compute import ROW_COLUMNS
from security.scope import Scope
from tests.conftest import run_cli

NY = "America/New_York"
START, END = dt.datetime(2024, 3, 1, 5), dt.datetime(2024, 3, 8, 5)     # local midnights in New York
PREV = (dt.datetime(2024, 2, 23, 5), START)
YOY = (dt.datetime(2023, 3, 1, 5), dt.datetime(2023, 3, 8, 5))
UNITS = ["01 Brooklyn", "02 Brooklyn", "03 Brooklyn", "04 Brooklyn", "01 Manhattan", "02 Manhattan"]
FIELDS = ["case_id", "category", "reported_at", "due_at", "closed_at", "status", "unit.cd", "department"]
INDICATORS = ["cases_reported", "cases_closed", "cases_due", "closure_rate", "open_backlog"]
BETTER = {"cases_reported": "down", "cases_closed": "up", "cases_due": "down", "closure_rate": "up",
          "open_backlog": "down"}


def iso(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def make_cases() -> list[dict]:
    """Cases spread over the three windows; '04 Brooklyn' has none now (empty closure rate), and
    '01 Brooklyn' / '02 Brooklyn' get the same counts now (a tie)."""
    rng = random.Random(7)
    cases = []
    plan = {  # (window, unit): number of cases
        **{(w, u): rng.randint(2, 9) for w in ("now", "prev", "yoy") for u in UNITS},
        ("now", "04 Brooklyn"): 0, ("prev", "03 Brooklyn"): 0,
    }
    plan[("now", "02 Brooklyn")] = plan[("now", "01 Brooklyn")]
    spans = {"now": (START, END), "prev": PREV, "yoy": YOY}
    for (window, unit), count in sorted(plan.items()):
        lo, hi = spans[window]
        for n in range(count):
            reported = lo + dt.timedelta(minutes=rng.randrange(int((hi - lo).total_seconds() // 60)))
            due = reported + dt.timedelta(hours=rng.choice([12, 48, 24 * 20]))
            closed = reported + dt.timedelta(hours=rng.choice([1, 30, 200])) if rng.random() < 0.6 else None
            if unit == "01 Brooklyn" and window == "now":  # same values for the tie with 02 Brooklyn
                due, closed = reported + dt.timedelta(hours=12), (reported + dt.timedelta(hours=1) if n % 2 else None)
            if unit == "02 Brooklyn" and window == "now":
                due, closed = reported + dt.timedelta(hours=12), (reported + dt.timedelta(hours=1) if n % 2 else None)
            cases.append({"case_id": f"{window}-{unit}-{n}", "reported_at": reported, "due_at": due,
                          "closed_at": closed, "unit.cd": unit})
    # the data start long before every window compared (see the coverage test)
    cases.append({"case_id": "anchor", "reported_at": dt.datetime(2022, 1, 3), "due_at": dt.datetime(2022, 1, 5),
                  "closed_at": dt.datetime(2022, 1, 4), "unit.cd": "05 Brooklyn"})
    return cases


CASES = make_cases()


def write_cases(path: Path, records: list[dict]) -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, FIELDS)
        writer.writeheader()
        for record in records:
            writer.writerow({"category": "Noise - Residential", "department": "NYPD",
                             "status": "closed" if record["closed_at"] else "accepted",
                             "case_id": record["case_id"], "unit.cd": record["unit.cd"],
                             "reported_at": iso(record["reported_at"]), "due_at": iso(record["due_at"]),
                             "closed_at": iso(record["closed_at"]) if record["closed_at"] else ""})
    return path


@pytest.fixture
def filled(store, nyc, tmp_path):
    sync_pack(store, nyc)
    summary = ingest_file(store, nyc, "cases", write_cases(tmp_path / "cases.csv", CASES))
    assert summary["accepted"] == len(CASES), summary
    return store


def truth(unit: str, start: dt.datetime, end: dt.datetime) -> dict:
    """CONTRACT §6 by hand for one unit and window."""
    mine = [c for c in CASES if c["unit.cd"] == unit]
    reported = [c for c in mine if start <= c["reported_at"] < end]
    closed = [c for c in reported if c["closed_at"] is not None and c["closed_at"] <= end]
    due = [c for c in reported if (c["closed_at"] is not None and c["closed_at"] <= end) or c["due_at"] <= end]
    backlog = [c for c in mine if c["reported_at"] < end and (c["closed_at"] is None or c["closed_at"] > end)]
    return {"cases_reported": len(reported), "cases_closed": len(closed), "cases_due": len(due),
            "closure_rate": len(closed) / len(due) if due else None, "open_backlog": len(backlog)}


def test_windows_follow_the_local_calendar():
    assert previous_window(START, END, NY) == PREV
    assert last_year_window(START, END, NY) == YOY
    # the DST day (23 h): the previous "day" is the whole previous local day (24 h), midnight to midnight
    dst_day = (dt.datetime(2024, 3, 10, 5), dt.datetime(2024, 3, 11, 4))
    assert previous_window(*dst_day, NY) == (dt.datetime(2024, 3, 9, 5), dt.datetime(2024, 3, 10, 5))
    assert last_year_window(*dst_day, NY) == (dt.datetime(2023, 3, 10, 5), dt.datetime(2023, 3, 11, 5))
    # Feb 29: no twin; the comparison window is never empty
    assert last_year_window(dt.datetime(2024, 2, 29, 5), dt.datetime(2024, 3, 1, 5), NY) == \
        (dt.datetime(2023, 2, 28, 5), dt.datetime(2023, 3, 1, 5))
    assert last_year_window(dt.datetime(2024, 2, 28, 5), dt.datetime(2024, 2, 29, 5), NY) == \
        (dt.datetime(2023, 2, 28, 5), dt.datetime(2023, 3, 1, 5))
    # a month: same length before, and the same month a year earlier
    march = (dt.datetime(2024, 3, 1, 5), dt.datetime(2024, 4, 1, 4))
    assert last_year_window(*march, NY) == (dt.datetime(2023, 3, 1, 5), dt.datetime(2023, 4, 1, 4))
    assert previous_window(*march, "Asia/Shanghai")[1] == march[0]


def test_pure_parts():
    assert change(5, 4) == (1, 0.25) and change(3, 4) == (-1, -0.25)
    assert change(2, 0) == (2, None) and change(None, 3) == (None, None) and change(3, None) == (None, None)
    assert change(-1.0, -2.0) == (1.0, 0.5)
    assert [direction("up", d) for d in (1, -1, 0, None)] == ["good", "bad", "flat", None]
    assert [direction("down", d) for d in (1, -1, 0.0)] == ["bad", "good", "flat"]
    assert rank_values({"a": 3, "b": 5, "c": 5, "d": None, "e": 1}, "up") == {"a": 3, "b": 1, "c": 1, "d": None, "e": 4}
    assert rank_values({"a": 3, "b": 5, "c": 5, "d": None, "e": 1}, "down") == {"a": 2, "b": 3, "c": 3, "d": None, "e": 1}
    assert rank_values({}, "up") == {}


def test_compare_equals_an_independent_computation(filled, nyc):
    rows = compare(filled, nyc, Scope.city(), "cd", START, END, INDICATORS)
    assert rows and all(tuple(r)[:len(ROW_COLUMNS)] == ROW_COLUMNS for r in rows)
    assert all(set(COMPARE_COLUMNS) <= r.keys() for r in rows)
    parents = {u: nyc.units_by_id[("cd", u)]["parent_id"] for u in nyc.level("cd").units.unit_id}
    now = {u: truth(u, START, END) for u in parents}
    prev = {u: truth(u, *PREV) for u in parents}
    yoy = {u: truth(u, *YOY) for u in parents}
    by_key = {(r["indicator"], r["unit_id"]): r for r in rows}
    assert len(by_key) == len(rows) == len(INDICATORS) * len(parents)
    for (ind, unit), row in by_key.items():
        value = now[unit][ind]
        assert row["value"] == pytest.approx(value, abs=1e-12) if value is not None else row["value"] is None
        for prefix, base_of in (("prev", prev), ("yoy", yoy)):
            base = base_of[unit][ind]
            assert row[f"{prefix}_value"] == base or row[f"{prefix}_value"] == pytest.approx(base, abs=1e-12), (ind, unit)
            if value is None or base is None:
                assert row[f"{prefix}_change"] is None and row[f"{prefix}_direction"] is None
                continue
            assert row[f"{prefix}_change"] == pytest.approx(value - base, abs=1e-12)
            expected_rel = (value - base) / abs(base) if base else None
            assert row[f"{prefix}_change_rel"] == (pytest.approx(expected_rel, abs=1e-12) if base else None)
            good = value > base if BETTER[ind] == "up" else value < base
            assert row[f"{prefix}_direction"] == ("flat" if value == base else "good" if good else "bad")
        # rank: 1 + number of siblings (same borough) strictly better; empty values unranked
        siblings = [s for s in parents if parents[s] == parents[unit] and now[s][ind] is not None]
        assert row["rank_of"] == len(siblings)
        if value is None:
            assert row["rank"] is None
        else:
            better = [s for s in siblings
                      if (now[s][ind] > value if BETTER[ind] == "up" else now[s][ind] < value)]
            assert row["rank"] == 1 + len(better), (ind, unit)
    # the hand-made features are really there: a tie, an empty closure rate, a zero previous count
    assert by_key[("cases_reported", "01 Brooklyn")]["rank"] == by_key[("cases_reported", "02 Brooklyn")]["rank"]
    assert by_key[("closure_rate", "04 Brooklyn")]["rank"] is None
    assert by_key[("cases_reported", "03 Brooklyn")]["prev_value"] == 0
    assert by_key[("cases_reported", "03 Brooklyn")]["prev_change_rel"] is None


def test_compare_respects_scope(filled, nyc):
    brooklyn = nyc.units_by_id[("cd", "01 Brooklyn")]["parent_id"]
    rows = compare(filled, nyc, Scope(level_index=1, unit_ids=(brooklyn,)), "cd", START, END, ["cases_reported"])
    assert rows and all(nyc.units_by_id[("cd", r["unit_id"])]["parent_id"] == brooklyn for r in rows)


def test_cli_compare_adds_columns_and_keeps_the_contract_ones(nyc, tmp_path):
    data_dir = tmp_path / "data"

    def run(*args):
        out = run_cli(*args, "--city", nyc.root, "--data-dir", data_dir)
        assert out.returncode == 0, out.stderr
        return out.stdout

    run("ingest", "cases", str(write_cases(tmp_path / "cases.csv", CASES)))
    base = ["indicators", "compute", "--level", "cd", "--start", "2024-03-01", "--end", "2024-03-08",
            "--indicators", "cases_reported,closure_rate"]
    plain_rows = list(csv.DictReader(io.StringIO(run(*base))))
    compared_rows = list(csv.DictReader(io.StringIO(run(*base, "--compare"))))
    assert list(compared_rows[0]) == [*ROW_COLUMNS, *COMPARE_COLUMNS]
    assert [{c: r[c] for c in ROW_COLUMNS} for r in compared_rows] == plain_rows
    one = next(r for r in compared_rows if r["indicator"] == "cases_reported" and r["unit_id"] == "03 Brooklyn")
    assert one["prev_value"] == "0" and one["prev_change_rel"] == "" and one["rank"]
    as_json = json.loads(run(*base, "--compare", "--format", "json"))
    assert as_json[0].keys() >= set(COMPARE_COLUMNS)


def test_http_compare(console_runtime, console_client):
    from security.tokens import issue_token

    token = issue_token(console_runtime.store, "compare-reader", "wall")
    url = "/api/v1/indicators?level=district&start=2020-01-01&end=2030-01-01&indicators=cases_reported"
    plain = console_client.get(url, headers={"Authorization": f"Bearer {token}"}).get_json()["rows"]
    answer = console_client.get(url + "&compare=1", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 200, answer.get_json()
    rows = answer.get_json()["rows"]
    assert [{c: r[c] for c in ROW_COLUMNS} for r in rows] == plain
    assert all(set(COMPARE_COLUMNS) <= r.keys() for r in rows)
    ranked = sorted(r["rank"] for r in rows if r["rank"] is not None)
    assert ranked and ranked[0] == 1 and all(r["rank_of"] == len(ranked) for r in rows)
    params = console_client.get("/api/v1/openapi.json").get_json()["paths"]["/api/v1/indicators"]["get"]["parameters"]
    assert "compare" in {p["name"] for p in params}


def test_a_base_window_before_the_first_record_has_no_value(store, nyc, tmp_path):
    """Data starting inside the current window: zeros before it would be 'no data', not 'none'."""
    sync_pack(store, nyc)
    late = [c for c in CASES if c["case_id"].startswith("now-")]
    assert ingest_file(store, nyc, "cases", write_cases(tmp_path / "late.csv", late))["accepted"] == len(late)
    rows = compare(store, nyc, Scope.city(), "cd", START, END, ["cases_reported"])
    assert rows and all(r["prev_value"] is None and r["yoy_value"] is None and r["prev_direction"] is None
                        for r in rows)
    assert any(r["rank"] == 1 for r in rows)
