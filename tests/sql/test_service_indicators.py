"""service_on_time_rate against an independent pandas computation, and the pack's services.csv.

Transactions are generated around the edges the definition names: not called, called after as-of,
done after as-of, still in process past the standard, services without a standard; the halls are
the Beijing pack's (one per district).
"""
from __future__ import annotations

import datetime as dt
import shutil

import numpy as np
import pandas as pd
import pytest

from datasources.citypack import load_pack
from datasources.ingest import ingest_frame
from datasources.runtime import sync_pack
from indicators.compute import compute
from security.scope import Scope

T0 = dt.datetime(2026, 3, 2, 1, 0)


def _transactions(halls, n=3000, seed=5) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    ticket = pd.Timestamp(T0) + pd.to_timedelta(rng.random(n) * 3 * 86400, unit="s")
    called = ticket + pd.to_timedelta(rng.exponential(20, n), unit="m")
    done = called + pd.to_timedelta(rng.lognormal(2.3, 0.6, n), unit="m")
    frame = pd.DataFrame({
        "hall_id": rng.choice(halls, n),
        "service_code": rng.choice(["social_security", "business_license", "residence", "tax", "housing", "notary"], n),
        "ticket_at": ticket, "called_at": called.where(rng.random(n) > 0.05),
        "done_at": done.where(rng.random(n) > 0.1), "channel": "offline", "satisfaction": 5,
    })
    frame.loc[frame.called_at.isna(), "done_at"] = pd.NaT
    frame["transaction_id"] = [f"T{i}" for i in range(n)]
    return frame


def _expected(frame, limits, start, end) -> pd.DataFrame:
    f = frame[(frame.ticket_at >= start) & (frame.ticket_at < end) & (frame.called_at <= end)
              & frame.service_code.isin(limits)].copy()
    limit_at = f.called_at + pd.to_timedelta(f.service_code.map(limits), unit="m")
    done = f.done_at <= end
    f["due"] = done | (limit_at <= end)
    f["on_time"] = done & (f.done_at <= limit_at)
    return f.groupby("district")[["due", "on_time"]].sum()


@pytest.mark.parametrize("window", [(T0, T0 + dt.timedelta(days=3)), (T0 + dt.timedelta(hours=30), T0 + dt.timedelta(hours=31, minutes=7))])
def test_service_on_time_rate_equals_pandas(store, beijing, window):
    sync_pack(store, beijing)
    halls = beijing.halls.hall_id.tolist()
    frame = _transactions(halls)
    result = ingest_frame(store, beijing, "services", frame.drop(columns=["transaction_id"]).assign(
        **{c: frame[c].dt.tz_localize("UTC") for c in ("ticket_at", "called_at", "done_at")}))
    assert result.result.accepted == len(frame), result.reasons
    limits = dict(zip(beijing.services.service_code, beijing.services.time_limit_minutes))
    assert "notary" not in limits  # a service without a standard is not judged
    start, end = window
    hall_district = store.cursor().execute("select hall_id, unit_ids[1] from halls").fetchall()
    frame["district"] = frame.hall_id.map(dict(hall_district))
    want = _expected(frame, limits, pd.Timestamp(start), pd.Timestamp(end))
    got = {r["unit_id"]: r for r in compute(store, beijing, Scope.city(), "district", start, end, ["service_on_time_rate"])}
    assert got and set(got) == set(beijing.level("district").units.unit_id)
    for unit, row in got.items():
        due = int(want.due.get(unit, 0))
        on_time = int(want.on_time.get(unit, 0))
        assert (row["denominator"], row["numerator"]) == (due, on_time), unit
        assert row["value"] == (pytest.approx(on_time / due, abs=1e-12) if due else None), unit
    assert 0 < want.on_time.sum() < want.due.sum()  # both outcomes occur
    city = compute(store, beijing, Scope.city(), "city", start, end, ["service_on_time_rate"])[0]
    assert city["denominator"] == int(want.due.sum())


def test_a_bad_services_file_is_reported(tmp_path, beijing):
    pack_dir = tmp_path / "pack"
    shutil.copytree(beijing.root, pack_dir)
    (pack_dir / "services.csv").write_text("service_code,name_zh,name_en,time_limit_minutes\n"
                                           "tax,税务,Tax,fifteen\nhousing,住房,Housing,-3\n")
    with pytest.raises(Exception) as failure:
        load_pack(pack_dir)
    message = str(failure.value)
    assert "services: row 2 (tax)" in message and "services: row 3 (housing)" in message
