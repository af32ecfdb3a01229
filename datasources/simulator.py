"""Live feeds for the demo city: cases, sensor readings, service-hall transactions.

Everything goes through the same path as real feeds (`ingest.ingest_frame` -> validation ->
location -> the one writer). Deterministic for a seed and a clock.

Calibration (facts of the real data in ../shared/data, not copies of it; tests/unit/test_simulator
re-derives them):
- PM2.5: hourly log-values of the 12 Beijing stations 2013-17 have sd 1.14, lag-1 autocorrelation
  0.955 and a diurnal swing (night +25 %); the median (55 ug/m3 then) is scaled by 0.55 to recent
  annual levels (~30 ug/m3).
- Service waits: California DMV offices, walk-in median 41 min (p95 118), with appointment median
  14 min (p95 38): log-normal with those medians and sd ln(p95/median)/1.645.
- Cases: handling times are heavy-tailed (log-normal, sd 1.0) around half the category's limit, so
  roughly one case in eight runs late.
"""
from __future__ import annotations

import datetime as dt
import heapq
import logging
import math
import threading
from collections.abc import Callable

import numpy as np
import pandas as pd
import shapely

from datasources.citypack import CityPack
from datasources.ingest import ingest_frame
from datasources.store import Store, utcnow

log = logging.getLogger(__name__)

PM25_LOG_SD = 1.14
PM25_AR1 = 0.955
PM25_MEDIAN = 55.0 * 0.55
WAIT_WALKIN = (41.0, math.log(118 / 41) / 1.645)
WAIT_APPOINTMENT = (14.0, math.log(38 / 14) / 1.645)
CASES_PER_DAY = 3000
HOURLY_SHAPE = np.array(  # relative case intake by local hour (hotline pattern: quiet nights, late-morning peak)
    [0.2, 0.12, 0.08, 0.06, 0.06, 0.1, 0.3, 0.7, 1.2, 1.6, 1.7, 1.6, 1.3, 1.4, 1.5, 1.5, 1.4, 1.3, 1.1, 1.0, 0.9, 0.7, 0.5, 0.3]
)
WEEKDAY_SHAPE = np.array([1.1, 1.05, 1.0, 1.0, 1.0, 0.8, 0.75])  # Monday .. Sunday
CATEGORY_WEIGHTS = {
    "garbage_exposed": 14, "illegal_parking": 14, "street_vending": 10, "noise": 9, "street_light": 7,
    "road_facility": 6, "heating": 6, "construction_dust": 5, "trash_bin": 5, "manhole_cover": 4,
    "illegal_construction": 4, "public_toilet": 3, "sewage_overflow": 3, "food_safety": 3, "traffic_signal": 2,
    "fallen_tree": 2, "safety_hazard": 2, "vulnerable_person": 2, "waterlogging": 1, "open_burning": 1,
}
SURNAMES = list("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗")


class Simulator:
    """Generates history once, then live batches on `step()` (a thread calls it every few seconds)."""

    def __init__(self, store: Store, pack: CityPack, seed: int = 7, clock: Callable[[], dt.datetime] = utcnow):
        self.store, self.pack, self.clock = store, pack, clock
        self.rng = np.random.default_rng(seed)
        self.districts = pack.levels[0].units
        # Intake follows population where the pack says it ([simulator] weights), else sqrt(area).
        configured = pack.config.get("simulator", {}).get("weights", {})
        area = self.districts.to_crs(self.districts.estimate_utm_crs()).area.to_numpy()
        weight = np.array([float(configured.get(u, 0)) for u in self.districts.unit_id]) if configured else np.sqrt(area)
        if weight.sum() <= 0:
            weight = np.sqrt(area)
        self.district_weights = weight / weight.sum()
        known = set(pack.categories.category_id)
        weights = {c: w for c, w in CATEGORY_WEIGHTS.items() if c in known} or {c: 1 for c in known}
        self.categories = np.array(list(weights))
        self.category_p = np.array(list(weights.values()), dtype=float) / sum(weights.values())
        limits = pack.categories.set_index("category_id").time_limit_hours
        self.limits = limits.to_dict()
        self.hotspots = self._pick_hotspots(3)
        self.silent_devices = set(self.rng.choice(pack.devices.device_id.to_numpy(), size=min(3, len(pack.devices)), replace=False))
        self.pm25_state = {d: 0.0 for d in pack.devices.device_id}
        self.closures: list[tuple[dt.datetime, str]] = []
        self.last_step: dt.datetime | None = None
        self.transactions_until: dt.datetime = clock()
        self.serial = 0
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ geometry
    def _pick_hotspots(self, n: int) -> list[tuple[float, float]]:
        central = self.districts.iloc[np.argsort(-self.district_weights)[:n]]
        return [(g.representative_point().x, g.representative_point().y) for g in central.geometry]

    def _points_in(self, geometry, n: int) -> tuple[np.ndarray, np.ndarray]:
        minx, miny, maxx, maxy = geometry.bounds
        xs, ys = [], []
        shapely.prepare(geometry)
        while sum(map(len, xs)) < n:
            x = self.rng.uniform(minx, maxx, n * 3)
            y = self.rng.uniform(miny, maxy, n * 3)
            inside = shapely.contains_xy(geometry, x, y)
            xs.append(x[inside])
            ys.append(y[inside])
        return np.concatenate(xs)[:n], np.concatenate(ys)[:n]

    # ------------------------------------------------------------------ cases
    def _report_times(self, start: dt.datetime, end: dt.datetime) -> np.ndarray:
        """Report times in [start, end): Poisson per clock hour, with daily and weekly rhythm."""
        offset = self._utc_offset()
        times = []
        slot = pd.Timestamp(start).floor("h")
        while slot < pd.Timestamp(end):
            lo, hi = max(pd.Timestamp(start), slot), min(pd.Timestamp(end), slot + pd.Timedelta(hours=1))
            local = slot + offset
            rate = CASES_PER_DAY / 24 * HOURLY_SHAPE[local.hour] * WEEKDAY_SHAPE[local.day_of_week] / HOURLY_SHAPE.mean()
            span_s = (hi - lo).total_seconds()
            n = self.rng.poisson(rate * span_s / 3600)
            times.extend(lo + pd.to_timedelta(np.round(np.sort(self.rng.random(n)) * span_s * 1e6), unit="us"))
            slot += pd.Timedelta(hours=1)
        return np.array([t.to_pydatetime() for t in times], dtype=object)

    def _utc_offset(self) -> dt.timedelta:
        import zoneinfo

        return dt.datetime.now(zoneinfo.ZoneInfo(self.pack.timezone)).utcoffset()

    def make_cases(self, start: dt.datetime, end: dt.datetime, now: dt.datetime) -> pd.DataFrame:
        reported = self._report_times(start, end)
        n = len(reported)
        if n == 0:
            return pd.DataFrame()
        categories = self.rng.choice(self.categories, size=n, p=self.category_p)
        lon, lat = np.empty(n), np.empty(n)
        hot = self.rng.random(n) < 0.12
        centers = self.rng.integers(0, len(self.hotspots), n)
        lon[hot] = [self.hotspots[c][0] for c in centers[hot]] + self.rng.normal(0, 0.006, hot.sum())
        lat[hot] = [self.hotspots[c][1] for c in centers[hot]] + self.rng.normal(0, 0.006, hot.sum())
        district = self.rng.choice(len(self.districts), size=n, p=self.district_weights)
        for d in np.unique(district[~hot]):
            idx = np.flatnonzero((district == d) & ~hot)
            x, y = self._points_in(self.districts.geometry.iloc[d], len(idx))
            lon[idx], lat[idx] = x, y
        limits = np.array([self.limits[c] for c in categories])
        handling = limits * 0.5 * np.exp(self.rng.normal(0, 1.0, n))
        stuck = self.rng.random(n) < 0.03  # passed between departments: the cases a command center exists for
        handling[stuck] *= 8
        closed = np.array([r + dt.timedelta(hours=float(h)) for r, h in zip(reported, handling)])
        is_closed = closed <= now
        ids = [f"SIM{r:%Y%m%d}{self._next_serial():06d}" for r in reported]
        for case_id, at, done in zip(ids, closed, is_closed):
            if not done:
                heapq.heappush(self.closures, (at, case_id))
        statuses = np.where(is_closed, "closed", self.rng.choice(["registered", "dispatched", "handled"], n, p=[0.2, 0.6, 0.2]))
        return pd.DataFrame(
            {
                "case_id": ids,
                "source": self.rng.choice(["hotline", "app", "grid_inspector", "wechat"], n, p=[0.5, 0.25, 0.2, 0.05]),
                "category": categories,
                "reported_at": pd.to_datetime(reported).astype("datetime64[us]").tz_localize("UTC"),
                "lat": lat.round(6),
                "lon": lon.round(6),
                "priority": self.rng.choice([1, 2, 3, 4], n, p=[0.05, 0.2, 0.6, 0.15]),
                "status": statuses,
                "closed_at": pd.to_datetime(np.where(is_closed, closed, None)).astype("datetime64[us]").tz_localize("UTC"),
                "satisfaction": np.where(is_closed, self.rng.choice([1, 2, 3, 4, 5], n, p=[0.04, 0.06, 0.15, 0.35, 0.4]), np.nan),
                "reporter_name": [f"{self.rng.choice(SURNAMES)}{'先生' if self.rng.random() < 0.5 else '女士'}" for _ in range(n)],
                "reporter_phone": [f"1{self.rng.integers(30, 90)}{self.rng.integers(0, 10**8):08d}" for _ in range(n)],
            }
        )

    def _next_serial(self) -> int:
        self.serial += 1
        return self.serial

    def due_closures(self, now: dt.datetime) -> pd.DataFrame:
        rows = []
        while self.closures and self.closures[0][0] <= now:
            at, case_id = heapq.heappop(self.closures)
            rows.append({"case_id": case_id, "status": "closed", "closed_at": at})
        if not rows:
            return pd.DataFrame()
        frame = pd.DataFrame(rows)
        frame["closed_at"] = pd.to_datetime(frame.closed_at).astype("datetime64[us]").dt.tz_localize("UTC")
        return frame

    # ------------------------------------------------------------------ sensors
    def make_readings(self, times: pd.DatetimeIndex, now: dt.datetime) -> pd.DataFrame:
        devices = self.pack.devices
        if devices.empty or len(times) == 0:
            return pd.DataFrame()
        frames = []
        local_hours = (times + self._utc_offset()).hour.to_numpy()
        diurnal = 1 + 0.25 * np.cos((local_hours - 1) / 24 * 2 * np.pi)
        innovation_sd = PM25_LOG_SD * math.sqrt(1 - PM25_AR1**2)
        for device in devices.itertuples():
            live = times
            if device.device_id in self.silent_devices:
                live = times[times < now - dt.timedelta(hours=2)]
            if len(live) == 0:
                continue
            mask = times.isin(live)
            metrics = device.metrics.split(";")
            for metric in metrics:
                if metric in ("pm25", "pm10"):
                    state = self.pm25_state[device.device_id]
                    shocks = self.rng.normal(0, innovation_sd, len(times))
                    series = np.empty(len(times))
                    for i, shock in enumerate(shocks):
                        state = PM25_AR1 * state + shock
                        series[i] = state
                    self.pm25_state[device.device_id] = state
                    values = PM25_MEDIAN * np.exp(series) * diurnal
                    if metric == "pm10":
                        values = values * 1.6
                elif metric == "water_level":
                    values = 1.2 + 0.3 * np.sin(np.arange(len(times)) / 50) + self.rng.normal(0, 0.05, len(times))
                else:  # noise, dB(A): louder by day
                    values = 48 + 12 * (diurnal - 1) * -1 + 8 * ((local_hours >= 7) & (local_hours <= 22)) + self.rng.normal(0, 3, len(times))
                unit = {"pm25": "ug/m3", "pm10": "ug/m3", "water_level": "m", "noise": "dB(A)"}.get(metric, "")
                frames.append(
                    pd.DataFrame(
                        {"device_id": device.device_id, "observed_at": times[mask], "metric": metric,
                         "value": np.round(values[mask], 2), "unit": unit}
                    )
                )
        frame = pd.concat(frames, ignore_index=True)
        frame["observed_at"] = frame.observed_at.dt.tz_localize("UTC")
        return frame

    # ------------------------------------------------------------------ service halls
    def make_transactions(self, start: dt.datetime, end: dt.datetime) -> pd.DataFrame:
        halls = self.pack.halls
        if halls.empty:
            return pd.DataFrame()
        hours = pd.date_range(start, end, freq="h", inclusive="left")
        local = hours + self._utc_offset()
        open_hours = hours[(local.hour >= 9) & (local.hour < 17) & (local.day_of_week < 5)]
        rows = []
        for hall in halls.hall_id:
            counts = self.rng.poisson(12, len(open_hours))
            for hour, count in zip(open_hours, counts):
                ticket = hour + pd.to_timedelta(self.rng.random(count) * 3600, unit="s")
                online = self.rng.random(count) < 0.45
                median = np.where(online, WAIT_APPOINTMENT[0], WAIT_WALKIN[0])
                sd = np.where(online, WAIT_APPOINTMENT[1], WAIT_WALKIN[1])
                wait = median * np.exp(self.rng.normal(0, 1, count) * sd)
                service = 6 * np.exp(self.rng.normal(0, 0.5, count))
                called = ticket + pd.to_timedelta(wait, unit="m")
                done = called + pd.to_timedelta(service, unit="m")
                rows.append(
                    pd.DataFrame(
                        {
                            "hall_id": hall,
                            "service_code": self.rng.choice(["social_security", "business_license", "residence", "tax", "housing"], count),
                            "ticket_at": ticket, "called_at": called, "done_at": done,
                            "channel": np.where(online, "online", "offline"),
                            "satisfaction": self.rng.choice([3, 4, 5], count, p=[0.1, 0.3, 0.6]),
                        }
                    )
                )
        if not rows:
            return pd.DataFrame()
        frame = pd.concat(rows, ignore_index=True)
        frame = frame[frame.done_at <= pd.Timestamp(end)]
        for column in ("ticket_at", "called_at", "done_at"):
            frame[column] = frame[column].astype("datetime64[us]").dt.tz_localize("UTC")
        return frame

    def make_snapshots(self, times: pd.DatetimeIndex) -> pd.DataFrame:
        """Queue-system snapshots every few minutes: people waiting, and the posted wait while open.

        A closed hall posts nobody waiting and no wait (not a wait of 0: that would pull the
        halls' mean wait towards 0 every night and weekend)."""
        halls = self.pack.halls
        if halls.empty or len(times) == 0:
            return pd.DataFrame()
        local = times + self._utc_offset()
        open_now = np.asarray((local.hour >= 9) & (local.hour < 17) & (local.day_of_week < 5))
        rows = []
        for hall in halls.hall_id:
            waiting = np.where(open_now, self.rng.poisson(9, len(times)), 0)
            minutes = np.where(open_now, WAIT_WALKIN[0] * 0.6 * np.exp(self.rng.normal(0, WAIT_WALKIN[1], len(times))), np.nan)
            rows.append(pd.DataFrame({"hall_id": hall, "observed_at": times, "waiting": waiting, "wait_minutes": minutes.round(1)}))
        frame = pd.concat(rows, ignore_index=True)
        frame["observed_at"] = frame.observed_at.dt.tz_localize("UTC")
        return frame

    # ------------------------------------------------------------------ driving
    def _ingest(self, feed: str, frame: pd.DataFrame) -> None:
        if not frame.empty:
            ingest_frame(self.store, self.pack, feed, frame, origin="simulator")

    def backfill(self, days: int) -> None:
        """History for an empty store: `days` of cases, hourly sensor readings and transactions."""
        now = self.clock()
        start = (now - dt.timedelta(days=days)).replace(minute=0, second=0, microsecond=0)
        with self._lock:
            for day in range(days + 1):
                day_start = start + dt.timedelta(days=day)
                day_end = min(day_start + dt.timedelta(days=1), now)
                if day_start >= day_end:
                    break
                self._ingest("cases", self.make_cases(day_start, day_end, now))
                self._ingest("services", self.make_transactions(day_start, day_end))
            # Hourly history, then minute readings for the last hour (the live cadence).
            last_hour = pd.Timestamp(now).floor("h")
            self._ingest("sensors", self.make_readings(pd.date_range(start, last_hour, freq="h", inclusive="left"), now))
            self._ingest("sensors", self.make_readings(pd.date_range(last_hour, now, freq="min", inclusive="left"), now))
            recent = pd.date_range(pd.Timestamp(now - dt.timedelta(hours=1)).ceil("min"), now, freq="min")
            self._ingest("services", self.make_snapshots(recent))
            self.last_step = self.transactions_until = now
        log.info("simulator: backfilled %d days", days)

    def resume(self) -> None:
        """After a restart: plan closures for cases still open, continue from the store's newest data."""
        from datasources import gateway
        from security.scope import Scope

        now = self.clock()
        open_cases = gateway.query(self.store, "simulator_open_cases", Scope.city(), as_of=now).to_pylist()
        for row in open_cases:
            limit = self.limits.get(row["category"], 24)
            planned = row["reported_at"] + dt.timedelta(hours=float(limit * 0.5 * math.exp(self.rng.normal(0, 1.0))))
            if planned <= now:  # its handling was due while we were down: it is late now, close it later
                planned = now + dt.timedelta(hours=float(self.rng.exponential(6)))
            heapq.heappush(self.closures, (planned, row["case_id"]))
        self.serial = len(open_cases) + int(self.rng.integers(10**5, 10**6))
        self.last_step = self.transactions_until = now

    def step(self) -> None:
        """One live batch: new cases since the last step, due closures, fresh readings each minute."""
        with self._lock:
            now = self.clock()
            last = self.last_step or now - dt.timedelta(seconds=5)
            if now <= last:
                return
            self._ingest("cases", self.make_cases(last, now, now))
            self._ingest("cases", self.due_closures(now))
            minutes = pd.date_range(pd.Timestamp(last).ceil("min"), now, freq="min", inclusive="left")
            self._ingest("sensors", self.make_readings(minutes, now))
            self._ingest("services", self.make_snapshots(minutes))
            if pd.Timestamp(self.transactions_until).floor("h") != pd.Timestamp(now).floor("h"):
                self._ingest("services", self.make_transactions(self.transactions_until, now))
                self.transactions_until = now
            self.last_step = now


def run_forever(simulator: Simulator, interval_s: float, stop: threading.Event) -> None:
    while not stop.wait(interval_s):
        try:
            simulator.step()
        except Exception:  # the simulator must never take the server down
            log.exception("simulator step failed")
