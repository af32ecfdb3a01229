"""Early warning: rules over indicators and raw feeds, one alert per incident.

Rules (evaluated by `evaluate(store, pack, settings, now)`, every `alert_interval_s` in `serve`):
- spike: cases reported in a unit (the pack's first level) in the last hour against the same hour
  of the week in the 4 weeks before; robust score (x - median) / (1.4826 * MAD + 1) >= 3, at
  least 5 cases and twice the median.
- threshold: a rate indicator of a unit (today, local midnight to now) in the catalog's red band.
- device_silence: a device with no reading for 15 minutes.
- feed_silence: a feed whose newest record is past its red threshold.
An incident has a key (rule, place, subject): while its alert is open, re-evaluation updates the
evidence and last_seen; when the condition clears the alert closes itself ("cleared").
"""
from __future__ import annotations

import datetime as dt
import json
import statistics
import zoneinfo
from dataclasses import dataclass

from datasources import gateway
from datasources.citypack import CityPack
from datasources.health import feed_health_for
from datasources.remote import in_writer
from datasources.store import Store, utcnow
from security.scope import Scope

STATES = ("new", "acknowledged", "dispatched", "closed")
ACT_ROLES = frozenset({"commander", "district_leader", "admin"})  # may acknowledge / dispatch / close
THRESHOLD_INDICATORS = ("closure_rate", "on_time_closure_rate", "pm25_mean", "device_online_rate", "wait_mean_minutes")
SILENT_MINUTES = 15
MAX_EVIDENCE_CASES = 200  # case ids kept in a spike's evidence (what a dispatch from it links)


@dataclass
class Candidate:
    key: str
    rule: str
    severity: str
    level: str
    unit_id: str
    unit_path: list[str]
    subject: str
    title_zh: str
    title_en: str
    evidence: dict


def robust_score(x: float, history: list[float]) -> float:
    median = statistics.median(history)
    mad = statistics.median(abs(h - median) for h in history)
    return (x - median) / (1.4826 * mad + 1.0)


def _spikes(store: Store, pack: CityPack, now: dt.datetime) -> list[Candidate]:
    level = pack.levels[0]
    rows = gateway.query_rows(store, "alert_case_spikes", Scope.city(), level_index=level.index, as_of=now)
    out = []
    for row in rows:
        history = [row["week_1"], row["week_2"], row["week_3"], row["week_4"]]
        x = row["last_hour"]
        score = robust_score(x, history)
        if x >= 5 and score >= 3 and x >= 2 * statistics.median(history):
            out.append(Candidate(
                key=f"spike:cases:{level.id}:{row['unit_id']}", rule="spike", severity="high" if score >= 6 else "medium",
                level=level.id, unit_id=row["unit_id"], unit_path=list(row["path"]), subject="cases_reported",
                title_zh=f"{row['name_zh']}近1小时案件激增：{x}件（往周同期中位数{statistics.median(history):g}）",
                title_en=f"{row['name_en']}: {x} cases in the last hour (same hour past weeks: median {statistics.median(history):g})",
                evidence={"last_hour": x, "same_hour_past_4_weeks": history, "robust_score": round(score, 2),
                          "case_ids": list(row["last_hour_case_ids"])[:MAX_EVIDENCE_CASES]},
            ))
    return out


def _thresholds(store: Store, pack: CityPack, now: dt.datetime) -> list[Candidate]:
    from indicators import catalog
    from indicators.compute import compute

    zone = zoneinfo.ZoneInfo(pack.timezone)
    local_midnight = now.replace(tzinfo=dt.UTC).astimezone(zone).replace(hour=0, minute=0, second=0, microsecond=0)
    start = local_midnight.astimezone(dt.UTC).replace(tzinfo=None)
    level = pack.levels[0]
    rows = compute(store, pack, Scope.city(), level.id, start, now, ",".join(THRESHOLD_INDICATORS))
    paths = dict(zip(level.units.unit_id, level.units.path))
    names = pack.units_by_id
    out = []
    for row in rows:
        indicator = catalog.get(row["indicator"])
        if row["value"] is None or indicator.status(row["value"]) != "red" or row["unit_id"] not in paths:
            continue
        unit = names[(level.id, row["unit_id"])]
        value = row["value"]
        shown = f"{value:.1%}" if indicator.unit in ("%", "ratio", "share") or indicator.is_ratio else f"{value:.1f}"
        out.append(Candidate(
            key=f"threshold:{row['indicator']}:{level.id}:{row['unit_id']}", rule="threshold", severity="medium",
            level=level.id, unit_id=row["unit_id"], unit_path=list(paths[row["unit_id"]]), subject=row["indicator"],
            title_zh=f"{unit['name_zh']}{indicator.name_zh}越过红线：{shown}",
            title_en=f"{unit['name_en']}: {indicator.name_en} in the red band ({shown})",
            evidence={"value": value, "numerator": row["numerator"], "denominator": row["denominator"],
                      "thresholds": indicator.thresholds, "better": indicator.better, "window_start": start.isoformat()},
        ))
    return out


def _silent_devices(store: Store, pack: CityPack, now: dt.datetime) -> list[Candidate]:
    rows = gateway.query_rows(store, "silent_devices", Scope.city(), as_of=now, silent_minutes=SILENT_MINUTES)
    level = pack.levels[0]
    paths = dict(zip(level.units.unit_id, level.units.path))
    out = []
    for row in rows:
        unit = (row["unit_ids"] or [None])[0]
        last = row["last_reading_at"]
        since = "从未上报" if last is None else f"自{last:%m-%d %H:%M} UTC起"
        since_en = "never reported" if last is None else f"silent since {last:%Y-%m-%d %H:%M} UTC"
        out.append(Candidate(
            key=f"device_silence:{row['device_id']}", rule="device_silence", severity="medium",
            level=level.id if unit else "", unit_id=unit or "", unit_path=list(paths.get(unit, [])), subject=row["device_id"],
            title_zh=f"设备{row['device_id']}离线（{since}）", title_en=f"Device {row['device_id']} {since_en}",
            evidence={"device_id": row["device_id"], "kind": row["kind"],
                      "last_reading_at": None if last is None else last.isoformat()},
        ))
    return out


def _silent_feeds(store: Store, settings, now: dt.datetime) -> list[Candidate]:
    out = []
    for feed, info in feed_health_for(store, settings, now=now).items():
        if info["state"] == "red":
            out.append(Candidate(
                key=f"feed_silence:{feed}", rule="feed_silence", severity="high", level="", unit_id="", unit_path=[],
                subject=feed, title_zh=f"数据源“{feed}”中断", title_en=f"Feed '{feed}' has stalled",
                evidence={"last_record_at": info["last_record_at"], "age_s": info["age_s"]},
            ))
    return out


@in_writer
def evaluate(store: Store, pack: CityPack, settings, now: dt.datetime | None = None) -> dict:
    """Run every rule, open/update/close alerts; returns counts {"opened", "updated", "closed"}."""
    now = now or utcnow()
    candidates = {c.key: c for c in (*_spikes(store, pack, now), *_thresholds(store, pack, now),
                                     *_silent_devices(store, pack, now), *_silent_feeds(store, settings, now))}
    open_alerts = {row["alert_key"]: row for row in gateway.query_rows(store, "alerts_open", Scope.city())}
    opened = updated = closed = 0
    for key, c in candidates.items():
        evidence = json.dumps(c.evidence, ensure_ascii=False, default=str)
        if key in open_alerts:
            store.execute_write(
                "update alerts set last_seen = $now, evidence = $evidence, severity = $severity, title_zh = $zh, "
                "title_en = $en where alert_id = $id",
                {"now": now, "evidence": evidence, "severity": c.severity, "zh": c.title_zh, "en": c.title_en,
                 "id": open_alerts[key]["alert_id"]},
            )
            updated += 1
        else:
            store.execute_write(
                "insert into alerts (alert_key, rule, severity, level, unit_id, unit_path, subject, title_zh, title_en, "
                "evidence, state, first_seen, last_seen) values ($key, $rule, $severity, $level, $unit, $path, $subject, "
                "$zh, $en, $evidence, 'new', $now, $now)",
                {"key": key, "rule": c.rule, "severity": c.severity, "level": c.level, "unit": c.unit_id, "path": c.unit_path,
                 "subject": c.subject, "zh": c.title_zh, "en": c.title_en, "evidence": evidence, "now": now},
            )
            opened += 1
    for key, row in open_alerts.items():
        if key not in candidates and row["state"] != "dispatched":  # a dispatched incident closes with its order
            store.execute_write(
                "update alerts set state = 'closed', closed_at = $now, closed_by = 'cleared' where alert_id = $id",
                {"now": now, "id": row["alert_id"]},
            )
            closed += 1
    return {"opened": opened, "updated": updated, "closed": closed}


def open_alerts(store: Store, scope: Scope) -> list[dict]:
    """Open alerts the scope may see, most severe first."""
    return gateway.query_rows(store, "alerts_open", scope)


def alert_panel(store: Store, pack: CityPack, scope: Scope, limit: int = 30) -> dict:
    """Open alerts for a console panel: the most severe and newest `limit` of them, with the unit's
    names and the evidence parsed; counts by severity and state over all open alerts in the scope."""
    rows = open_alerts(store, scope)
    items = []
    for row in rows[:limit]:
        unit = pack.units_by_id.get((row["level"], row["unit_id"])) if row["unit_id"] else None
        try:
            evidence = json.loads(row["evidence"] or "{}")
        except ValueError:
            evidence = {}
        items.append({**row, "evidence": evidence,
                      "unit_name_zh": unit["name_zh"] if unit else None, "unit_name_en": unit["name_en"] if unit else None})
    by_severity: dict[str, int] = {}
    by_state: dict[str, int] = {}
    for row in rows:
        by_severity[row["severity"]] = by_severity.get(row["severity"], 0) + 1
        by_state[row["state"]] = by_state.get(row["state"], 0) + 1
    return {"alerts": items, "total": len(rows), "by_severity": by_severity, "by_state": by_state}


def anomaly_units(store: Store, scope: Scope, level_id: str) -> list[str]:
    """Units of `level_id` with an open alert in the scope (spikes and threshold breaches first), for the
    wall's auto-focus; each unit once, most severe first."""
    seen: dict[str, None] = {}
    for row in open_alerts(store, scope):
        if row["level"] == level_id and row["unit_id"] and row["rule"] in ("spike", "threshold", "device_silence"):
            seen.setdefault(row["unit_id"])
    return list(seen)


class AlertError(ValueError):
    """An alert action that cannot be applied."""


def acknowledge(store: Store, scope: Scope, alert_id: int, actor: str, role: str) -> None:
    """Acknowledge an open alert (PermissionError for a role that may not, or an alert outside the scope)."""
    set_state(store, scope, alert_id, "acknowledged", actor, role)


@in_writer
def set_state(store: Store, scope: Scope, alert_id: int, state: str, actor: str, role: str) -> None:
    """Acknowledge / mark dispatched / close an alert the caller can see; audited."""
    if state not in STATES:
        raise ValueError(f"unknown alert state {state!r}")
    if role not in ACT_ROLES:
        raise PermissionError(f"role {role} may not change alerts")
    visible = {row["alert_id"] for row in open_alerts(store, scope)}
    if alert_id not in visible:
        raise PermissionError("no such open alert in your scope")
    with store.write_transaction() as cur:
        write_state(cur, alert_id, state, actor, role, utcnow())


def write_state(cur, alert_id: int, state: str, actor: str, role: str, now: dt.datetime, *, closed_by: str = "",
                detail: str = "", origin: str = "") -> bool:
    """Set an open alert's state in the caller's write transaction, with its audit row; False if the
    alert is closed (or gone). Checks none of set_state's rules: the caller has (e.g. a dispatch
    order launched from the alert, dispatch/service.py)."""
    from security.users import append_audit

    changed = cur.execute(
        "update alerts set state = $state, closed_at = case when $state = 'closed' then $now end, "
        "closed_by = case when $state = 'closed' then $by end where alert_id = $id and state <> 'closed' "
        "returning alert_id",
        {"state": state, "now": now, "by": closed_by or actor, "id": alert_id},
    ).fetchall()
    if changed:
        append_audit(cur, now, actor, role, f"alert_{state}", str(alert_id), detail, origin)
    return bool(changed)
