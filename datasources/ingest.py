"""Validate, normalise and locate feed records, then hand them to the one writer.

Every record ends up either applied (accepted or updated) or in quarantine with its raw payload
and a reason. Nothing is dropped silently. Times become naive UTC; units come from coordinates
(point in polygon, every level) or from a unit column named by the mapping.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import zoneinfo
from collections import Counter
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from datasources import filereader, geo, timedomain
from datasources.citypack import CityPack
from datasources.mapping import Mapping
from datasources.store import ApplyResult, Store
from datasources.timedomain import TimeDomain

FEEDS = ("cases", "sensors", "devices", "services", "halls")
STATUSES = ("accepted", "registered", "dispatched", "handled", "verified", "closed", "returned", "extended", "reworked")
STATUS_ALIASES = {"open": "accepted", "new": "accepted", "in_progress": "dispatched", "resolved": "handled"}

CANONICAL = {
    "cases": [
        "case_id", "source", "category", "description", "reported_at", "lat", "lon", "address", "priority",
        "department", "due_at", "status", "closed_at", "satisfaction", "reporter_name", "reporter_phone",
    ],
    "sensors": ["device_id", "observed_at", "metric", "value", "unit"],
    "devices": ["device_id", "kind", "name", "lat", "lon", "metrics"],
    "halls": ["hall_id", "name_zh", "name_en", "lat", "lon"],
    "services": [
        "transaction_id", "hall_id", "service_code", "ticket_at", "called_at", "done_at", "channel", "satisfaction",
        "observed_at", "waiting", "wait_minutes",
    ],
}
PLACED_FEEDS = ("cases", "devices", "halls")  # records with a place: summaries count outside/unlocated
FUTURE_TOLERANCE = dt.timedelta(days=1)
MALFORMED_LINES_SHOWN = 100  # line numbers of malformed lines listed in an import's summary


class IngestReport(NamedTuple):
    result: ApplyResult
    reasons: Counter  # reason -> count of quarantined records
    errors: list[tuple[int, str]]  # (position in the input, reason) per quarantined record


class IngestError(ValueError):
    """The input as a whole cannot be read (not a per-record problem)."""


# ---------------------------------------------------------------------------- reading files


def read_file(path: Path | str, encoding: str | None = None) -> pd.DataFrame:
    """A whole file as one frame (CSV, Parquet, JSON or JSON Lines, by suffix; text encoding as in
    datasources/filereader.py). For small files (replays); imports stream with `ingest_file`.
    IngestError when a line is malformed: this reader has no quarantine to put it in."""
    path = Path(path)
    try:
        chunks = list(filereader.iter_file(path, encoding=encoding, chunk_rows=1_000_000))
    except filereader.FileReadError as exc:
        raise IngestError(str(exc)) from None
    except Exception as exc:
        raise IngestError(f"cannot read {path.name}: {exc}") from None
    rejected = [entry for chunk in chunks for entry in chunk.rejected]
    if rejected:
        raw, reason = rejected[0]
        raise IngestError(f"{path.name}: {len(rejected)} malformed line(s), the first at line "
                          f"{json.loads(raw)['line']}: {reason}")
    frames = [chunk.frame for chunk in chunks]
    return pd.concat(frames, ignore_index=True) if len(frames) > 1 else (frames[0] if frames else pd.DataFrame())


def _clean_text(text: str) -> str:
    # Lone surrogates (legal in JSON escapes, not in UTF-8) and NULs cannot be stored: replace them.
    if text.isascii():
        return text.replace("\x00", "\ufffd")
    return text.encode("utf-8", "replace").decode("utf-8").replace("\x00", "\ufffd")


def _clean_value(value):
    """Scalars as they are; nested objects, arrays and booleans as their JSON text (then validated as text)."""
    if isinstance(value, str):
        return _clean_text(value)
    if isinstance(value, (dict, list, bool)):
        return _clean_text(json.dumps(value, ensure_ascii=False, default=str))
    return value


def frame_of_records(records: list[dict]) -> pd.DataFrame:
    """JSON-like records (pushed, from the bus, from quarantine) as a frame: one row per record,
    keys (as text) as columns, values cleaned so validation sees plain scalars, missing = None."""
    rows = [{_clean_text(str(k)): _clean_value(v) for k, v in record.items()} for record in records]
    frame = pd.DataFrame.from_records(rows, index=pd.RangeIndex(len(rows)))
    return frame.astype(object).where(frame.notna(), None) if len(frame.columns) else frame


# ---------------------------------------------------------------------------- helpers


class Reasons:
    """First reason per row wins; rows with a reason go to quarantine."""

    def __init__(self, index: pd.Index):
        self.values = pd.Series(None, index=index, dtype=object)

    def add(self, mask, reason) -> None:
        mask = pd.Series(mask, index=self.values.index).fillna(False).astype(bool) & self.values.isna()
        if not mask.any():
            return
        if isinstance(reason, pd.Series):
            self.values[mask] = reason[mask]
        else:
            self.values[mask] = reason

    @property
    def bad(self) -> pd.Series:
        return self.values.notna()


def _blank(series: pd.Series) -> pd.Series:
    return series.isna() | (series.astype("string").str.strip() == "")


def parse_times(values: pd.Series, fmt: str | None, timezone: str) -> tuple[pd.Series, pd.Series]:
    """(naive UTC datetimes, mask of values that were given but could not be parsed)."""
    zone = zoneinfo.ZoneInfo(timezone)
    blank = values.isna() if pd.api.types.is_datetime64_any_dtype(values) else _blank(values)
    if pd.api.types.is_datetime64_any_dtype(values):
        series = values
        if getattr(series.dt, "tz", None) is None:
            series = series.dt.tz_localize(zone, ambiguous="NaT", nonexistent="shift_forward")
        return series.dt.tz_convert("UTC").dt.tz_localize(None).astype("datetime64[us]"), pd.Series(False, index=values.index)
    if fmt in ("epoch_s", "epoch_ms"):
        numbers = pd.to_numeric(values, errors="coerce")
        parsed = pd.to_datetime(numbers, unit="s" if fmt == "epoch_s" else "ms", errors="coerce")
        return parsed.astype("datetime64[us]"), parsed.isna() & ~blank

    def one(raw) -> dt.datetime | None:
        try:
            return _one(raw)
        except (ValueError, TypeError, ArithmeticError):  # year 0, year 10000, odd objects
            return None

    def _one(raw) -> dt.datetime | None:
        if isinstance(raw, dt.datetime):
            stamp = raw
        elif isinstance(raw, dt.date):
            stamp = dt.datetime.combine(raw, dt.time())
        else:
            text = str(raw).strip()
            try:
                stamp = dt.datetime.strptime(text, fmt) if fmt else dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
            except ValueError:
                if fmt:
                    return None
                if not any(ch.isdigit() for ch in text):
                    return None  # "now", "today" must not become the current time
                try:
                    stamp = pd.Timestamp(text)
                except (ValueError, TypeError, OverflowError):
                    return None
                if pd.isna(stamp):
                    return None
                stamp = stamp.to_pydatetime()
        if stamp.tzinfo is None:
            stamp = stamp.replace(tzinfo=zone)
        try:
            return stamp.astimezone(dt.UTC).replace(tzinfo=None)
        except OverflowError:  # a real time whose zone offset leaves the calendar: the domain check refuses it
            return dt.datetime.min if stamp.year < 5000 else dt.datetime.max

    fast = pd.Series(pd.NaT, index=values.index, dtype="datetime64[us]")
    if fmt is None and (~blank).any():
        fast[~blank] = _parse_iso_fast(values[~blank], zone)
    # Whatever the fast path left open (odd formats, DST gaps/overlaps, far dates) goes value by value.
    slow = ~blank & fast.isna()
    if not slow.any():
        return fast, slow
    keys = values[slow].map(_hashable)
    lookup = {raw: one(raw) for raw in keys.unique()}
    parsed = keys.map(lookup)
    fast[slow] = pd.to_datetime(parsed, errors="coerce").astype("datetime64[us]")
    return fast, fast.isna() & ~blank


def _hashable(value):
    """Nested values (a JSON object or array where a scalar belongs) as their JSON text."""
    if isinstance(value, (dict, list, set)):
        return json.dumps(value, default=str, ensure_ascii=False, sort_keys=True)
    return value


def _times(mapped: pd.DataFrame, column: str, mapping: Mapping, timezone: str, reasons: Reasons,
           domain: TimeDomain) -> pd.Series:
    """The column's times as naive UTC. Unparseable ones and ones outside the time domain get a
    reason (their record goes to quarantine) and become NaT, so no later step computes with them."""
    if column not in mapped:
        return pd.Series(pd.NaT, index=mapped.index, dtype="datetime64[us]")
    times, bad = parse_times(mapped[column], mapping.formats.get(column), timezone)
    outside = domain.outside(times)
    if bad.any() or outside.any():
        raw = mapped[column].map(_hashable).astype("string")
        reasons.add(bad, raw.radd(f"bad {column} ").astype(object))
        reasons.add(outside, (f"{column} " + raw + f" is outside the time domain ({domain.describe()})").astype(object))
        times = times.where(~outside)
    return times


def _domain(store) -> TimeDomain:
    return getattr(store, "time_domain", None) or timedomain.DEFAULT


# The fast path localizes only times well inside Python's calendar (years 1-9999).
_FAST_LOW, _FAST_HIGH = np.datetime64("0002-01-01", "us"), np.datetime64("9998-01-01", "us")

# An ISO time of day followed by a zone: Z or +hh[:mm]. Anything else is read as local time.
_ZONED = r"\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?\s*(?:[Zz]|[+-]\d{2}(?::?\d{2})?)$"


def _parse_iso_fast(values: pd.Series, zone: zoneinfo.ZoneInfo) -> pd.Series:
    """Vectorised ISO 8601 parse to naive UTC; NaT wherever it is not certain to match `one`.

    Per-value parsing costs ~5 us a value (the bottleneck of streamed sensor feeds); this path
    handles the common shapes in bulk and leaves ambiguous or nonexistent local times (DST) and
    anything unparsed as NaT, so the caller's exact per-value path decides those.
    """
    out = pd.Series(pd.NaT, index=values.index, dtype="datetime64[us]")
    text = values.astype("string").str.strip()
    # Arrow's RE2 is ~15x faster than pandas' per-value regex here.
    matches = pc.match_substring_regex(pa.array(text.to_numpy(dtype=object, na_value=None), pa.string()), _ZONED)
    zoned = pd.Series(matches.fill_null(False).to_numpy(zero_copy_only=False), index=values.index)
    if zoned.any():
        try:
            parsed = pd.to_datetime(text[zoned], format="ISO8601", utc=True, errors="coerce")
            out[zoned] = parsed.dt.tz_localize(None).astype("datetime64[us]")
        except (NotImplementedError, OverflowError, ValueError, TypeError):
            pass  # left to the value-by-value path
    naive = ~zoned
    if naive.any():
        try:
            parsed = pd.to_datetime(text[naive], format="ISO8601", errors="coerce")
        except (ValueError, TypeError):  # e.g. an offset the pattern missed: mixed zones
            return out
        if isinstance(parsed.dtype, np.dtype) and parsed.dtype.kind == "M":
            # Localizing near the calendar's ends fails (pandas needs Python datetimes there): such
            # values are left to the value-by-value path, like DST gaps.
            parsed = parsed.where((parsed > _FAST_LOW) & (parsed < _FAST_HIGH))
            try:
                local = parsed.dt.tz_localize(zone, ambiguous="NaT", nonexistent="NaT")
            except (NotImplementedError, OverflowError, ValueError):
                return out
            out[naive] = local.dt.tz_convert("UTC").dt.tz_localize(None).astype("datetime64[us]")
    return out


def _numbers(frame: pd.DataFrame, column: str, reasons: Reasons, label: str | None = None) -> pd.Series:
    if column not in frame:
        return pd.Series(np.nan, index=frame.index, dtype="float64")
    raw = frame[column]
    numbers = pd.to_numeric(raw, errors="coerce").astype("float64")
    given = ~_blank(raw)
    bad = given & (numbers.isna() | ~np.isfinite(numbers.fillna(0)))
    reasons.add(bad, f"{label or column} is not a number")
    return numbers.where(~bad)


def _text(frame: pd.DataFrame, column: str) -> pd.Series:
    """Stripped strings as objects; blanks and NA become None."""
    if column not in frame:
        return pd.Series([None] * len(frame), index=frame.index, dtype=object)
    values = frame[column].astype("string").str.strip()
    out = values.astype(object)
    out[(values.isna() | (values == "")).to_numpy(dtype=bool)] = None
    return out


def _raw_payloads(frame: pd.DataFrame, mask: pd.Series) -> list[str]:
    subset = frame[mask]
    return [json.dumps({k: v for k, v in rec.items()}, default=str, ensure_ascii=False) for rec in subset.to_dict("records")]


def _locate(pack: CityPack, mapped: pd.DataFrame, lat: pd.Series, lon: pd.Series):
    unit_ids, outside = geo.locate(pack, lat.to_numpy(), lon.to_numpy())
    given_units = [c for c in mapped.columns if c.startswith("unit.")]
    if given_units:
        order = [lv.id for lv in pack.levels]
        finest = max((c for c in given_units if c[5:] in order), key=lambda c: order.index(c[5:]), default=None)
        if finest:
            paths = geo.unit_paths(pack, finest[5:], _text(mapped, finest))
            unit_ids = [p if p is not None else u for p, u in zip(paths, unit_ids)]
    return unit_ids, outside


def _check_coordinates(lat: pd.Series, lon: pd.Series, reasons: Reasons) -> None:
    reasons.add(lat.isna() != lon.isna(), "lat and lon must be given together")
    reasons.add(~lat.between(-90, 90) & lat.notna(), "lat out of range")
    reasons.add(~lon.between(-180, 180) & lon.notna(), "lon out of range")


# ---------------------------------------------------------------------------- feeds


def normalize_cases(store: Store, pack: CityPack, mapped: pd.DataFrame, mapping: Mapping, now: dt.datetime):
    tz = mapping.timezone or pack.timezone
    reasons = Reasons(mapped.index)
    out = pd.DataFrame(index=mapped.index)
    out["case_id"] = _text(mapped, "case_id")
    reasons.add(out.case_id.isna(), "case_id missing")
    existing = _existing_case_ids(store, out.case_id.dropna().unique().tolist())
    is_update = out.case_id.isin(existing)
    for column in ("reported_at", "due_at", "closed_at"):
        out[column] = _times(mapped, column, mapping, tz, reasons, _domain(store))
    reasons.add(out.reported_at.isna() & ~is_update, "reported_at missing")
    reasons.add(out.reported_at > now + FUTURE_TOLERANCE, "reported_at is in the future")
    reasons.add(out.closed_at > now + FUTURE_TOLERANCE, "closed_at is in the future")
    reasons.add(out.closed_at < out.reported_at, "closed_at before reported_at")
    lat, lon = _numbers(mapped, "lat", reasons), _numbers(mapped, "lon", reasons)
    _check_coordinates(lat, lon, reasons)
    out["lat"], out["lon"] = lat, lon
    # status
    status = _text(mapped, "status")
    status = status.map(lambda s: None if not isinstance(s, str) else STATUS_ALIASES.get(s.lower().replace(" ", "_"), s.lower()))
    unknown_status = status.notna() & ~status.isin(STATUSES)
    reasons.add(unknown_status, status.radd("unknown status "))
    default_status = np.where(out.closed_at.notna(), "closed", "accepted")
    status = status.where(status.notna() | is_update, pd.Series(default_status, index=mapped.index))
    reasons.add((status == "closed") & out.closed_at.isna() & ~is_update, "status closed without closed_at")
    # closed_at belongs to closed cases only (an Open311 updated_datetime on an open request is not a closure)
    out.loc[status.notna() & (status != "closed"), "closed_at"] = pd.NaT
    out["status"] = status
    # category and department, checked against the pack
    categories = pack.categories.set_index("category_id")
    by_name = {**{n: i for i, n in categories.name_en.items()}, **{n: i for i, n in categories.name_zh.items()}}
    category = _text(mapped, "category").map(lambda c: c if c is None or c in categories.index else by_name.get(c, c))
    reasons.add(category.isna() & ~is_update, "category missing")
    reasons.add(category.notna() & ~category.isin(categories.index), category.radd("unknown category "))
    out["category"] = category
    departments = set(pack.departments.department_id)
    department = _text(mapped, "department")
    reasons.add(department.notna() & ~department.isin(departments), department.radd("unknown department "))
    lead = category.map(categories.lead_department.to_dict())
    out["department"] = department.where(department.notna() | is_update, lead)
    # numbers
    priority = _numbers(mapped, "priority", reasons)
    reasons.add(priority.notna() & ~priority.isin([1, 2, 3, 4]), "priority must be 1-4")
    out["priority"] = priority.where(priority.notna() | is_update, 3)
    satisfaction = _numbers(mapped, "satisfaction", reasons)
    reasons.add(satisfaction.notna() & ~satisfaction.isin([1, 2, 3, 4, 5]), "satisfaction must be 1-5")
    out["satisfaction"] = satisfaction
    for column in ("description", "address", "reporter_name", "reporter_phone"):
        out[column] = _text(mapped, column)
    source = _text(mapped, "source")
    out["source"] = source.where(source.notna() | is_update, mapping.name or "file")
    # due time: given, or report time + the category's time limit (natural or working calendar)
    missing_due = out.due_at.isna() & out.reported_at.notna() & category.isin(categories.index)
    if missing_due.any():
        hours = category.map(categories.time_limit_hours.to_dict()).astype("float64")
        natural = missing_due & (category.map(categories.calendar.to_dict()) != "working")
        out.loc[natural, "due_at"] = out.reported_at[natural] + pd.to_timedelta(hours[natural], unit="h")
        working = missing_due & ~natural
        keys = pd.DataFrame({"at": out.reported_at[working], "h": hours[working]}).drop_duplicates()
        due = {(r.at, r.h): pack.calendar.add_hours(r.at.to_pydatetime(), r.h) for r in keys.itertuples()}
        out.loc[working, "due_at"] = pd.Series(
            [due[(a, h)] for a, h in zip(out.reported_at[working], hours[working])], index=out.index[working],
            dtype="datetime64[us]",
        )
    unit_ids, outside = _locate(pack, mapped, lat, lon)
    out["unit_ids"] = unit_ids
    out["outside_city"] = outside
    return out, reasons


def _existing_case_ids(store: Store, ids: list[str]) -> set[str]:
    from datasources import gateway
    from security.scope import Scope

    if not ids:
        return set()
    # Internal validation read: the writer's own lookup, city-wide by necessity.
    table = gateway.query(store, "existing_case_ids", Scope.city(), ids=ids)
    return set(table.column("case_id").to_pylist())


def normalize_sensors(store, pack, mapped, mapping, now):
    tz = mapping.timezone or pack.timezone
    reasons = Reasons(mapped.index)
    out = pd.DataFrame(index=mapped.index)
    out["device_id"] = _text(mapped, "device_id")
    reasons.add(out.device_id.isna(), "device_id missing")
    out["metric"] = _text(mapped, "metric")
    reasons.add(out.metric.isna(), "metric missing")
    if "observed_at" not in mapped:
        reasons.add(pd.Series(True, index=mapped.index), "observed_at missing")
        out["observed_at"] = pd.NaT
    else:
        out["observed_at"] = _times(mapped, "observed_at", mapping, tz, reasons, _domain(store))
        reasons.add(out.observed_at.isna(), "observed_at missing")
        reasons.add(out.observed_at > now + FUTURE_TOLERANCE, "observed_at is in the future")
    value = _numbers(mapped, "value", reasons)
    reasons.add(value.isna(), "value missing")
    reasons.add(out.metric.isin(["pm25", "pm10", "noise"]) & (value < 0), "negative value")
    out["value"] = value
    out["unit"] = _text(mapped, "unit")
    return out, reasons


def _normalize_places(pack, mapped, key: str, text_columns: list[str]):
    reasons = Reasons(mapped.index)
    out = pd.DataFrame(index=mapped.index)
    out[key] = _text(mapped, key)
    reasons.add(out[key].isna(), f"{key} missing")
    for column in text_columns:
        out[column] = _text(mapped, column)
    lat, lon = _numbers(mapped, "lat", reasons), _numbers(mapped, "lon", reasons)
    _check_coordinates(lat, lon, reasons)
    out["lat"], out["lon"] = lat, lon
    unit_ids, outside = _locate(pack, mapped, lat, lon)
    out["unit_ids"], out["outside_city"] = unit_ids, outside
    return out, reasons


def normalize_devices(store, pack, mapped, mapping, now):
    out, reasons = _normalize_places(pack, mapped, "device_id", ["kind", "name"])
    metrics = _text(mapped, "metrics")
    out["metrics"] = metrics.map(lambda m: None if m is None else [x.strip() for x in m.split(";") if x.strip()])
    return out, reasons


def normalize_halls(store, pack, mapped, mapping, now):
    return _normalize_places(pack, mapped, "hall_id", ["name_zh", "name_en"])


def normalize_services(store, pack, mapped, mapping, now):
    """Transactions (ticket/call/done times) or hall snapshots (observed_at, waiting, wait_minutes)."""
    tz = mapping.timezone or pack.timezone
    reasons = Reasons(mapped.index)
    out = pd.DataFrame(index=mapped.index)
    out["hall_id"] = _text(mapped, "hall_id")
    reasons.add(out.hall_id.isna(), "hall_id missing")
    snapshot = "ticket_at" not in mapped
    times = ("observed_at",) if snapshot else ("ticket_at", "called_at", "done_at")
    for column in times:
        out[column] = _times(mapped, column, mapping, tz, reasons, _domain(store))
        reasons.add(out[column] > now + FUTURE_TOLERANCE, f"{column} is in the future")
    reasons.add(out[times[0]].isna(), f"{times[0]} missing")
    if snapshot:
        waiting = _numbers(mapped, "waiting", reasons)
        minutes = _numbers(mapped, "wait_minutes", reasons)
        reasons.add(waiting < 0, "waiting is negative")
        reasons.add(minutes < 0, "wait_minutes is negative")
        reasons.add(minutes.isna() & waiting.isna(), "neither waiting nor wait_minutes given")
        out["waiting"], out["wait_minutes"] = waiting, minutes
        return out, reasons, "hall_snapshots"
    reasons.add(out.called_at < out.ticket_at, "called_at before ticket_at")
    reasons.add(out.done_at < out.called_at, "done_at before called_at")
    satisfaction = _numbers(mapped, "satisfaction", reasons)
    reasons.add(satisfaction.notna() & ~satisfaction.isin([1, 2, 3, 4, 5]), "satisfaction must be 1-5")
    out["satisfaction"] = satisfaction
    out["service_code"] = _text(mapped, "service_code")
    out["channel"] = _text(mapped, "channel")
    given_id = _text(mapped, "transaction_id")
    derived = [
        hashlib.sha1(f"{h}|{s}|{t}|{c}".encode()).hexdigest()[:20]
        for h, s, t, c in zip(out.hall_id, out.service_code, out.ticket_at, out.channel)
    ]
    out["transaction_id"] = given_id.where(given_id.notna(), pd.Series(derived, index=mapped.index))
    return out, reasons, "service_transactions"


NORMALIZERS = {
    "cases": (normalize_cases, "cases"),
    "sensors": (normalize_sensors, "readings"),
    "devices": (normalize_devices, "devices"),
    "halls": (normalize_halls, "halls"),
    "services": (normalize_services, None),
}


def _to_arrow(frame: pd.DataFrame) -> pa.Table:
    columns = {}
    for name in frame.columns:
        series = frame[name]
        if name in ("unit_ids", "metrics"):
            columns[name] = pa.array(series.tolist(), pa.list_(pa.string()))
        elif pd.api.types.is_datetime64_any_dtype(series):
            columns[name] = pa.array(series.astype("datetime64[us]"), pa.timestamp("us"), from_pandas=True)
        elif series.dtype == object or pd.api.types.is_string_dtype(series):
            columns[name] = pa.Array.from_pandas(series.astype("string")).cast(pa.string())
        else:
            columns[name] = pa.array(series, from_pandas=True)
    return pa.table(columns)


def ingest_frame(
    store: Store,
    pack: CityPack,
    feed: str,
    frame: pd.DataFrame,
    mapping: Mapping | None = None,
    origin: str | None = None,
    now: dt.datetime | None = None,
    rejected: list[tuple[str, str]] = (),
    raw_payloads: list[str] | None = None,
) -> IngestReport:
    """Validate and apply one frame of foreign records: the writer's result, reasons, per-record errors.

    `rejected`: (raw payload, reason) of input refused before it became a record (a malformed file
    line), quarantined in the same commit; `errors` lists only the frame's own records.
    `raw_payloads` (one per row of `frame`) are what quarantine keeps for a rejected row instead of
    the row re-serialised: a re-processed record that fails again for the same reason then stays
    one row in quarantine instead of gaining a copy.
    """
    if feed not in NORMALIZERS:
        raise IngestError(f"unknown feed {feed!r}; feeds are {', '.join(FEEDS)}")
    mapping = mapping or Mapping()
    now = now or dt.datetime.now(dt.UTC).replace(tzinfo=None)
    if mapping.melt or raw_payloads is None or len(raw_payloads) != len(frame):
        raw_payloads = None  # a melt makes several records of one row: serialise the records
    frame = mapping.prepare(frame).reset_index(drop=True)
    mapped = mapping.apply(frame, CANONICAL[feed])
    normalizer, kind = NORMALIZERS[feed]
    result = normalizer(store, pack, mapped, mapping, now)
    if len(result) == 3:
        out, reasons, kind = result
    else:
        out, reasons = result
    bad = reasons.bad
    raws = _raw_payloads(frame, bad) if raw_payloads is None else [raw_payloads[i] for i in np.flatnonzero(bad)]
    quarantined = list(rejected) + list(zip(raws, reasons.values[bad].astype(str)))
    good = out[~bad]
    applied = store.apply(feed, kind, _to_arrow(good) if len(good) else None, quarantined, origin=origin)
    errors = [(int(i), str(reason)) for i, reason in reasons.values[bad].items()]
    return IngestReport(applied, Counter(reason for _, reason in quarantined), errors)


def empty_counts(feed: str) -> dict:
    """An ingest summary's counts before any record: for a feed with places also `outside` (new
    records with coordinates in no unit of the first level) and `unlocated` (neither coordinates nor
    a unit), as ApplyResult counts them."""
    counts = {"accepted": 0, "updated": 0, "quarantined": 0}
    return {**counts, "outside": 0, "unlocated": 0} if feed in PLACED_FEEDS else counts


def _summary(counts: dict, reasons: Counter) -> dict:
    """The counts and the reasons, in the order of the CLI's last line (CONTRACT §2)."""
    places = {key: counts[key] for key in ("outside", "unlocated") if key in counts}
    return {key: counts[key] for key in ("accepted", "updated", "quarantined")} | {
        "reasons": dict(reasons.most_common())} | places


def summary_line(result: ApplyResult, reasons: Counter) -> dict:
    return _summary(result.as_dict(), reasons)


def ingest_file(store: Store, pack: CityPack, feed: str, path: Path, mapping_path: Path | None = None,
                chunk_rows: int = filereader.DEFAULT_CHUNK_ROWS, max_bytes: int | None = None,
                max_json_bytes: int | None = None) -> dict:
    """Import a file streamed in chunks of `chunk_rows` (memory bounded by the chunk, not the file);
    the CLI prints the returned summary as its last line.

    Refused as a whole (IngestError, nothing stored): a file above `max_bytes` (a plain JSON
    document above `max_json_bytes`), an undecodable one, a mapping that does not fit its columns.
    A malformed line (wrong number of fields, broken quoting, bad JSON) is quarantined with its
    line number and text, in the same commit as its chunk; the rest is imported.
    """
    mapping = Mapping.load(mapping_path)
    path = Path(path)
    try:
        chunks = filereader.iter_file(path, encoding=mapping.encoding, chunk_rows=chunk_rows, max_bytes=max_bytes,
                                      max_json_bytes=max_json_bytes)
    except filereader.FileReadError as exc:
        raise IngestError(str(exc)) from None
    total = empty_counts(feed)
    reasons: Counter = Counter()
    malformed: list[int] = []
    while True:
        try:
            chunk = next(chunks)
        except StopIteration:
            break
        except filereader.FileReadError as exc:
            raise IngestError(str(exc)) from None
        except (OSError, ValueError) as exc:  # e.g. a truncated Parquet file
            raise IngestError(f"cannot read {path.name}: {exc}") from None
        malformed.extend(json.loads(raw)["line"] for raw, _ in chunk.rejected)
        result, chunk_reasons, _ = ingest_frame(store, pack, feed, chunk.frame, mapping, origin=f"file:{path.name}",
                                                rejected=chunk.rejected)
        for key, value in result.as_dict().items():
            total[key] += value
        reasons.update(chunk_reasons)
    summary = _summary(total, reasons)
    if malformed:
        summary["malformed_lines"] = malformed[:MALFORMED_LINES_SHOWN]
    return summary


def _quarantined_records(raw: str) -> list[dict] | None:
    """The records a quarantine row holds: one JSON object, or a JSON array of objects (a bus entry
    quarantined as a whole); None when the payload cannot be records (not JSON, a number, a string...)."""
    try:
        data = json.loads(raw)
    except (ValueError, TypeError, RecursionError):
        return None
    if isinstance(data, dict):
        return [data]
    if isinstance(data, list) and data and all(isinstance(item, dict) for item in data):
        return data
    return None


def reprocess_quarantine(store: Store, pack: CityPack, feed: str, mapping_path: Path | None = None,
                         reason_like: str = "") -> dict:
    """Re-run a feed's quarantined raw records (e.g. after a mapping or pack fix).

    Records that now pass are applied and their quarantine rows marked re-processed; records that
    fail again stay quarantined (a new reason gets a row of its own). A row holding several records
    (a bus entry) is marked once each of its records is applied or quarantined on its own. Rows that
    hold no records at all (not JSON, a bare number or string) stay as they are: `unreadable`.
    Nothing is deleted.
    """
    from datasources import gateway
    from security.scope import Scope

    pending = gateway.query_rows(store, "quarantine_pending", Scope.city(), feed=feed, reason_like=reason_like)
    # a malformed file line is no record a mapping could fix: it waits for a corrected file
    pending = [row for row in pending if not row["reason"].startswith(filereader.MALFORMED)]
    summary = {"reprocessed": 0, "unreadable": 0, "accepted": 0, "updated": 0, "quarantined": 0, "reasons": {}}
    records, raws, owners = [], [], []  # per record: its payload and the pending row it came from
    for row_index, row in enumerate(pending):
        found = _quarantined_records(row["raw"])
        if found is None:
            summary["unreadable"] += 1
            continue
        records.extend(found)
        raws.extend([row["raw"]] if len(found) == 1 else [json.dumps(r, default=str, ensure_ascii=False) for r in found])
        owners.extend([row_index] * len(found))
    if not records:
        return summary
    report = ingest_frame(store, pack, feed, frame_of_records(records), Mapping.load(mapping_path),
                          origin="reprocess", raw_payloads=raws)
    # A single record failing for the row's own reason is still that row; anything else moved on.
    per_row = Counter(owners)
    single = {i for i, n in per_row.items() if n == 1}
    still = {owners[i] for i, reason in report.errors if owners[i] in single and reason == pending[owners[i]]["reason"]}
    fixed = [pending[i]["quarantine_id"] for i in sorted(set(owners)) if i not in still]
    store.mark_reprocessed(fixed)
    summary.update(reprocessed=len(fixed), **summary_line(report.result, report.reasons))
    return summary
