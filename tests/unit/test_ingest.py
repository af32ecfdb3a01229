"""File import on real data: NYC 311 and council cases onto the NYC pack."""
import datetime as dt
import json

import pandas as pd
import pytest

from datasources.ingest import ingest_file, ingest_frame, parse_times
from datasources.mapping import Mapping, MappingError
from tests.conftest import NYC, ROOT, run_cli

MAPPINGS = ROOT / "mappings"


def counts(store):
    return store.cursor().execute("select count(*), count(closed_at) from cases").fetchall()[0]


def test_311_2025_import_locates_points_and_is_idempotent(store, nyc, shared_data):
    path = shared_data / "nyc-311-samples" / "311_animal_complaints_2025q1.csv"
    first = ingest_file(store, nyc, "cases", path, MAPPINGS / "nyc311.toml")
    raw = pd.read_csv(path, dtype=str)
    assert first["accepted"] + first["quarantined"] == len(raw)
    assert first["accepted"] == len(raw)  # this file is clean
    before = counts(store), store.data_version
    again = ingest_file(store, nyc, "cases", path, MAPPINGS / "nyc311.toml")
    assert (again["accepted"], again["updated"]) == (0, 0)
    assert (counts(store), store.data_version) == before
    # point in polygon reproduces the file's own Community Board for nearly every located case
    located = store.cursor().execute(
        "select case_id, unit_ids[2] from cases where unit_ids is not null").fetchall()
    board = dict(zip(raw["Unique Key"], raw["Community Board"].str.upper()))
    agree = sum(board[c] == (u or "").upper() for c, u in located)
    assert agree / len(located) > 0.98
    # cases without coordinates are kept (no unit), not dropped
    no_point = raw["Latitude"].isna().sum()
    assert store.cursor().execute("select count(*) from cases where lat is null").fetchall()[0][0] == no_point


def test_311_2011_times_and_bad_records(store, nyc, shared_data):
    path = shared_data / "nyc-311-samples" / "311_mixed_2011_sample.csv"
    summary = ingest_file(store, nyc, "cases", path, MAPPINGS / "nyc311.toml")
    raw = pd.read_csv(path, dtype=str)
    assert summary["accepted"] + summary["quarantined"] == len(raw)
    # the one record "closed" in 1900 (a placeholder, before it was created) is quarantined with its
    # reason and raw payload: 1900 lies outside the time domain (settings time_min_year)
    reason = "closed_at 01/01/1900 12:00:00 AM is outside the time domain (years 1970-2100)"
    assert summary["reasons"] == {reason: 1}
    row = store.cursor().execute("select raw, reason from quarantine").fetchall()[0]
    assert json.loads(row[0])["Unique Key"] and row[1] == reason
    # '03/01/2011 02:27:57 PM' New York (EST) -> 19:27:57 UTC
    got = store.cursor().execute("select reported_at from cases where case_id = '19937896'").fetchall()[0][0]
    assert got == dt.datetime(2011, 3, 1, 19, 27, 57)


def test_council_cases_take_units_from_a_column(store, nyc, shared_data):
    path = shared_data / "nyc-council-cases" / "council_constituent_cases.parquet"
    frame = pd.read_parquet(path).head(20000)
    result, reasons, _ = ingest_frame(store, nyc, "cases", frame, Mapping.load(MAPPINGS / "nyc_council_cases.toml"))
    stored = store.cursor().execute(
        "select count(*), count(unit_ids), count(*) filter (where unit_ids[2] is not null) from cases").fetchall()[0]
    valid = frame[frame.complaint_type.notna()]
    assert result.quarantined == len(frame) - len(valid) == sum(reasons.values())
    assert result.accepted == valid.unique_key.nunique()  # a key repeated in the source is one case
    expected_located = frame.drop_duplicates("unique_key", keep="last")
    expected_located = expected_located[expected_located.complaint_type.notna() & expected_located.community_board.notna()]
    # every case whose community board names a CD of the pack is placed in it (and in its borough)
    known = set(nyc.level("cd").units.unit_id.str.upper())
    placeable = expected_located.community_board.str.upper().isin(known).sum()
    assert stored[2] == placeable and stored[1] == placeable
    assert set(reasons) <= {"category missing"}


def test_a_closure_file_updates_existing_cases(store, nyc, tmp_path):
    opened = pd.DataFrame({"case_id": ["c1", "c2"], "reported_at": ["2025-01-02T09:00:00", "2025-01-02T10:00:00"],
                           "category": ["Noise - Residential", "Noise - Residential"], "lat": [40.75, 40.70], "lon": [-73.99, -73.95]})
    ingest_frame(store, nyc, "cases", opened)
    closure = tmp_path / "closures.jsonl"
    closure.write_text(json.dumps({"case_id": "c1", "status": "closed", "closed_at": "2025-01-03T09:00:00-05:00"}) + "\n")
    run = run_cli("ingest", "cases", closure, "--city", NYC, "--data-dir", store.path.parent / "cli")
    assert run.returncode == 0, run.stderr
    summary = json.loads(run.stdout.strip().splitlines()[-1])
    assert summary == {"accepted": 0, "updated": 0, "quarantined": 1, "reasons": {"reported_at missing": 1},
                       "outside": 0, "unlocated": 0}  # another store: c1 is unknown there
    result, _, _ = ingest_frame(store, nyc, "cases", pd.read_json(closure, lines=True, dtype=False))
    assert (result.accepted, result.updated) == (0, 1)
    assert store.cursor().execute("select case_id, status, closed_at from cases order by 1").fetchall() == [
        ("c1", "closed", dt.datetime(2025, 1, 3, 14, 0)), ("c2", "accepted", None)]


def test_validation_reasons(store, nyc):
    frame = pd.DataFrame({
        "case_id": ["ok", "", "future", "badlat", "cat", "dept", "prio", "when"],
        "reported_at": ["2025-01-01T10:00", "2025-01-01T10:00", "2099-01-01T00:00", "2025-01-01T10:00",
                        "2025-01-01T10:00", "2025-01-01T10:00", "2025-01-01T10:00", "yesterday-ish"],
        "category": ["Noise - Residential"] * 4 + ["Martians", "Noise - Residential", "Noise - Residential", "Noise - Residential"],
        "department": [None, None, None, None, None, "CIA", None, None],
        "priority": [None, None, None, None, None, None, "9", None],
        "lat": [40.7, 40.7, 40.7, 95.0, 40.7, 40.7, 40.7, 40.7],
        "lon": [-73.9] * 8,
    })
    result, reasons, errors = ingest_frame(store, nyc, "cases", frame)
    assert result.accepted == 1
    assert errors[0] == (1, "case_id missing") and len(errors) == 7
    assert dict(reasons) == {
        "case_id missing": 1, "reported_at is in the future": 1, "lat out of range": 1,
        "unknown category Martians": 1, "unknown department CIA": 1, "priority must be 1-4": 1,
        "bad reported_at yesterday-ish": 1,
    }
    # the accepted case got its department and due time from the category
    row = store.cursor().execute("select department, due_at, priority from cases").fetchall()[0]
    assert row == ("NYPD", dt.datetime(2025, 1, 4, 15, 0), 3)


def test_points_outside_the_city_are_kept_and_flagged(store, nyc):
    frame = pd.DataFrame({"case_id": ["paris"], "reported_at": ["2025-01-01T10:00"], "category": ["Noise - Residential"],
                          "lat": [48.85], "lon": [2.35]})
    result, _, _ = ingest_frame(store, nyc, "cases", frame)
    assert result.accepted == 1
    assert store.cursor().execute("select outside_city, unit_ids from cases").fetchall() == [(True, None)]


def test_parse_times_zones_and_formats():
    values = pd.Series(["2025-01-01 08:00", "2025-06-01T08:00:00Z", "2025-06-01T08:00:00+08:00", "", None, "nope"])
    parsed, bad = parse_times(values, None, "America/New_York")
    assert list(parsed[:3]) == [pd.Timestamp("2025-01-01 13:00"), pd.Timestamp("2025-06-01 08:00"), pd.Timestamp("2025-06-01 00:00")]
    assert list(bad) == [False, False, False, False, False, True]
    parsed, bad = parse_times(pd.Series(["01/02/2025 03:04 PM"]), "%m/%d/%Y %I:%M %p", "UTC")
    assert parsed[0] == pd.Timestamp("2025-01-02 15:04") and not bad[0]


def test_mapping_errors_are_clear(tmp_path):
    bad = tmp_path / "m.toml"
    bad.write_text("[fields]\ncase_id = 3\n")
    with pytest.raises(MappingError, match=r"\[fields\] case_id must be a string"):
        Mapping.load(bad)
    with pytest.raises(MappingError, match="not in the file"):
        Mapping.from_dict({"fields": {"case_id": "Nope"}}).apply(pd.DataFrame({"a": [1]}), ["case_id"])
