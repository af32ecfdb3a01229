"""Early warning on a controlled store: each rule fires, one incident is one alert, clearing closes it."""
import datetime as dt

import pandas as pd

from alerts.engine import evaluate, open_alerts, robust_score, set_state
from datasources.ingest import ingest_frame
from datasources.runtime import sync_pack
from security.scope import Scope
from settings import Settings

NOW = dt.datetime(2026, 3, 10, 6, 0)  # 14:00 in Beijing, a Tuesday
CHAOYANG = (39.95, 116.52)


def cases(rows):
    return pd.DataFrame(rows, columns=["case_id", "reported_at", "category", "lat", "lon"])


def test_robust_score():
    assert robust_score(12, [1, 1, 1, 1]) == 11
    assert robust_score(3, [2, 3, 4, 3]) == 0


def test_rules_dedupe_scope_and_clearing(store, beijing):
    sync_pack(store, beijing)
    settings = Settings.load(env={})
    rows = []
    for week in range(1, 5):  # one case in the same hour of each of the past four weeks
        rows.append((f"base{week}", (NOW - dt.timedelta(weeks=week, minutes=30)).isoformat() + "Z", "noise", *CHAOYANG))
    for i in range(12):  # twelve in the last hour: a spike
        rows.append((f"spike{i}", (NOW - dt.timedelta(minutes=50 - i)).isoformat() + "Z", "noise", *CHAOYANG))
    for i in range(3):  # early today, 4 h limit, never closed: closure rate 0 -> red band
        rows.append((f"late{i}", "2026-03-09T17:00:00Z", "manhole_cover", *CHAOYANG))
    ingest_frame(store, beijing, "cases", cases(rows), now=NOW)
    silent = beijing.devices[~beijing.devices.device_id.str.contains("110105")].device_id.iloc[0]
    readings = pd.DataFrame([{"device_id": d, "observed_at": (NOW - dt.timedelta(minutes=2)).isoformat() + "Z",
                              "metric": "noise", "value": 50.0} for d in beijing.devices.device_id if d != silent])
    ingest_frame(store, beijing, "sensors", readings, now=NOW)

    first = evaluate(store, beijing, settings, now=NOW)
    alerts = {a["alert_key"]: a for a in open_alerts(store, Scope.city())}
    assert "spike:cases:district:110105" in alerts
    assert alerts["spike:cases:district:110105"]["severity"] == "high"
    assert "threshold:closure_rate:district:110105" in alerts
    assert f"device_silence:{silent}" in alerts
    assert [k for k in alerts if k.startswith("device_silence")] == [f"device_silence:{silent}"]
    assert "feed_silence:services" in alerts and "feed_silence:sensors" not in alerts
    assert first["opened"] == len(alerts)

    again = evaluate(store, beijing, settings, now=NOW + dt.timedelta(minutes=1))
    assert again["opened"] == 0 and again["updated"] == len(alerts)  # one incident, one alert
    assert len(open_alerts(store, Scope.city())) == len(alerts)

    leader = Scope(level_index=1, unit_ids=("110105",))
    seen = {a["alert_key"] for a in open_alerts(store, leader)}
    assert "spike:cases:district:110105" in seen
    assert "feed_silence:services" not in seen and f"device_silence:{silent}" not in seen

    spike_id = alerts["spike:cases:district:110105"]["alert_id"]
    set_state(store, leader, spike_id, "acknowledged", "zhang", "district_leader")
    later = evaluate(store, beijing, settings, now=NOW + dt.timedelta(hours=2))
    assert later["closed"] >= 1
    keys = {a["alert_key"] for a in open_alerts(store, Scope.city())}
    assert "spike:cases:district:110105" not in keys  # the hour passed: cleared and closed
    audit = store.cursor().execute("select actor, action from audit").fetchall()
    assert ("zhang", "alert_acknowledged") in audit
