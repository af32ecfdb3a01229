"""立案率, 处置率, 按期处置率, 返工率, 超期结案率 and 满意率 (ind_workflow.sql) equal an independent
pandas computation over the stored cases and their status history.

Random cases move through the workflow in batches (registered, dispatched, handled, returned,
reworked, closed with a satisfaction score); each batch's status changes land as case events.
The expected values are computed in pandas from the `cases` and `case_events` tables as written.
"""
import datetime as dt
import math
import random

import pandas as pd
import pyarrow as pa
import pytest

from datasources.runtime import sync_pack
from indicators.compute import compute
from security.scope import Scope

WORKFLOW = ("registration_rate", "handling_rate", "on_time_handling_rate", "rework_rate", "overdue_closure_rate",
            "satisfaction_rate")
NEXT = {"accepted": ["registered", "dispatched"], "registered": ["dispatched"], "dispatched": ["handled", "returned"],
        "handled": ["closed", "reworked"], "returned": ["dispatched"], "reworked": ["handled"], "closed": ["closed"]}
SCHEMA = pa.schema([("case_id", pa.string()), ("reported_at", pa.timestamp("us")), ("category", pa.string()),
                    ("status", pa.string()), ("closed_at", pa.timestamp("us")), ("due_at", pa.timestamp("us")),
                    ("department", pa.string()), ("unit_ids", pa.list_(pa.string())), ("satisfaction", pa.int8())])


@pytest.fixture(scope="module")
def flow(tmp_path_factory, beijing):
    from datasources.store import Store

    store = Store(tmp_path_factory.mktemp("workflow") / "workflow.duckdb")
    sync_pack(store, beijing)
    cells = beijing.level("grid").units[["unit_id", "parent_id"]].head(40).itertuples(index=False)
    cells = [[parent, cell] for cell, parent in cells]
    rng = random.Random(11)
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    cases = {}
    for i in range(400):
        reported = now - dt.timedelta(hours=rng.randrange(1, 24 * 20))
        cases[f"W{i}"] = {"case_id": f"W{i}", "reported_at": reported, "category": "road", "status": "accepted",
                          "closed_at": None, "due_at": reported + dt.timedelta(hours=rng.choice([6, 48, 400])),
                          "department": rng.choice(["chengguan", "water", "traffic"]), "unit_ids": rng.choice(cells),
                          "satisfaction": None}
    store.apply("cases", "cases", pa.Table.from_pylist(list(cases.values()), schema=SCHEMA))
    for _ in range(6):
        changed = []
        for row in cases.values():
            if rng.random() < 0.6 and row["status"] != "closed":
                row["status"] = rng.choice(NEXT[row["status"]])
                if row["status"] == "closed":
                    row["closed_at"] = dt.datetime.now(dt.UTC).replace(tzinfo=None)
                    row["satisfaction"] = rng.choice([None, 1, 3, 4, 5, 5])
                changed.append(dict(row))
        store.apply("cases", "cases", pa.Table.from_pylist(changed, schema=SCHEMA))
    yield store
    store.close()


def pandas_workflow(store, key_of, start, end) -> dict:
    cur = store.cursor()
    cases = cur.sql("select case_id, department, unit_ids, reported_at, closed_at, due_at, satisfaction from cases").df()
    events = cur.sql("select case_id, status, event_at from case_events").df()
    cases = cases[(cases.reported_at >= start) & (cases.reported_at < end)].copy()
    cases["unit"] = cases.apply(key_of, axis=1)
    events = events[events.event_at <= end]
    later = {"registered", "dispatched", "handled", "verified", "closed", "extended", "reworked"}
    out = {}
    for unit, group in cases.dropna(subset=["unit"]).groupby("unit"):
        counts = dict(reported=0, registered=0, handled=0, handle_due=0, on_time=0, reworked=0, closed=0, late=0,
                      rated=0, satisfied=0)
        for case in group.itertuples():
            history = events[events.case_id == case.case_id]
            closed = pd.notna(case.closed_at) and case.closed_at <= end
            handled_events = history[history.status.isin(["handled", "verified", "closed"])].event_at
            handled_at = min([*handled_events, *([case.closed_at] if closed else [])], default=None)
            counts["reported"] += 1
            counts["registered"] += bool(history.status.isin(later).any() or closed)
            counts["handled"] += handled_at is not None
            counts["handle_due"] += handled_at is not None or case.due_at <= end
            counts["on_time"] += handled_at is not None and handled_at <= case.due_at
            counts["reworked"] += handled_at is not None and bool(
                (history.status.isin(["returned", "reworked"]) & (history.event_at > handled_at)).any())
            counts["closed"] += closed
            counts["late"] += closed and case.closed_at > case.due_at
            counts["rated"] += closed and pd.notna(case.satisfaction)
            counts["satisfied"] += closed and pd.notna(case.satisfaction) and case.satisfaction >= 4

        def ratio(a, b):
            return counts[a] / counts[b] if counts[b] else None

        out[unit] = {"registration_rate": ratio("registered", "reported"), "handling_rate": ratio("handled", "handle_due"),
                     "on_time_handling_rate": ratio("on_time", "handle_due"), "rework_rate": ratio("reworked", "handled"),
                     "overdue_closure_rate": ratio("late", "closed"), "satisfaction_rate": ratio("satisfied", "rated")}
    return out


@pytest.mark.parametrize("level", ["district", "grid", "department", "city"])
def test_workflow_indicators_equal_pandas(flow, beijing, level):
    end = dt.datetime.now(dt.UTC).replace(tzinfo=None) + dt.timedelta(minutes=1)
    start = end - dt.timedelta(days=14)
    key_of = {"district": lambda r: r.unit_ids[0], "grid": lambda r: r.unit_ids[1],
              "department": lambda r: r.department, "city": lambda r: beijing.id}[level]
    want = pandas_workflow(flow, key_of, pd.Timestamp(start), pd.Timestamp(end))
    got = {}
    for row in compute(flow, beijing, Scope.city(), level, start, end, WORKFLOW):
        got.setdefault(row["unit_id"], {})[row["indicator"]] = row["value"]
    assert want, "the fixture produced no cases in the window"
    interesting = 0
    for unit, values in want.items():
        for indicator, expected in values.items():
            value = got[unit][indicator]
            if expected is None:
                assert value is None, (unit, indicator)
            else:
                assert math.isclose(value, expected, abs_tol=1e-9), (unit, indicator, value, expected)
                interesting += 0 < expected < 1
    # every unit the pandas side does not know has no cases: empty ratios
    for unit in set(got) - set(want):
        assert all(v is None for v in got[unit].values()), unit
    assert interesting > 0, "no indicator strictly between 0 and 1: the fixture tests nothing"
