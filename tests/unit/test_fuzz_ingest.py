"""Property-based fuzz of every feed's parser: no crash, every record accepted or quarantined with a reason."""
import datetime as dt

import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from datasources.ingest import CANONICAL, ingest_frame
from datasources.store import Store

junk = st.one_of(
    st.none(), st.text(max_size=12), st.integers(-10**12, 10**12), st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(), st.sampled_from(["2025-01-01T10:00", "2025-02-30 10:00", "closed", "open", "NYPD", "Noise - Residential",
                                    "40.7", "-73.9", "1e400", "", " ", "2999-01-01", "1/2/2025 3:04 PM", "Z"]),
)


def records(feed):
    fields = CANONICAL[feed] + ["unit.cd", "extra"]
    return st.lists(st.dictionaries(st.sampled_from(fields), junk, max_size=len(fields)), min_size=1, max_size=8)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(feed=st.sampled_from(["cases", "sensors", "devices", "services", "halls"]), data=st.data())
def test_every_record_is_accepted_or_quarantined_with_a_reason(tmp_path_factory, nyc, feed, data):
    rows = data.draw(records(feed))
    store = Store(tmp_path_factory.mktemp("fuzz") / "f.duckdb")
    try:
        frame = pd.DataFrame.from_records(rows) if any(rows) else pd.DataFrame(index=range(len(rows)))
        result, reasons, errors = ingest_frame(store, nyc, feed, frame, now=dt.datetime(2026, 1, 1))
        bad_positions = {i for i, _ in errors}
        assert all(reason for _, reason in errors)
        assert len(bad_positions) == result.quarantined == sum(reasons.values())
        # accepted + updated count distinct keys; duplicates inside a batch collapse, nothing vanishes
        assert result.accepted + result.updated <= len(rows) - len(bad_positions)
        assert result.accepted + result.updated >= (1 if len(rows) > len(bad_positions) else 0)
        stored = store.cursor().execute("select count(*) from quarantine").fetchall()[0][0]
        assert stored <= result.quarantined and (stored > 0) == (result.quarantined > 0)
    finally:
        store.close()
