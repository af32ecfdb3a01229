"""The bounded time domain: every time the product stores or is asked about lies in
[time_min_year, time_max_year] (settings `time_min_year`, `time_max_year`).

Why a bound at all: Python datetimes end at years 1 and 9999, a time near either edge overflows
the moment code adds a time limit or a zone offset, and one such value, once stored, made every
read of its scope fail. So a time outside the domain is refused at the door (a record goes to
quarantine with a reason, a query parameter is a 400) and reads clamp what may already be stored.
Times here are naive UTC, as everywhere behind the ingest layer.
"""
from __future__ import annotations

import datetime as dt
import zoneinfo
from dataclasses import dataclass

import pandas as pd

# Query parameters are read in the city's zone: a local "1970-01-01" or an exclusive end of
# "2101-01-01" may lie up to 14 hours outside the UTC domain and is still a sensible question.
PARAM_SLACK = dt.timedelta(days=1)


class BadTime(ValueError):
    """A time a caller gave (query parameter, command argument) that cannot be used: unreadable or
    outside the domain. The caller answers 400 / exits with the message, never 500."""


@dataclass(frozen=True)
class TimeDomain:
    min_year: int = 1970
    max_year: int = 2100

    def __post_init__(self):
        # One year of headroom on both sides keeps lower - slack and upper + slack representable.
        if not 1 < self.min_year <= self.max_year < 9998:
            raise ValueError(f"time domain {self.min_year}..{self.max_year}: need 1 < time_min_year <= "
                             "time_max_year < 9998")

    @classmethod
    def from_settings(cls, settings) -> "TimeDomain":
        return cls(settings.time_min_year, settings.time_max_year)

    @property
    def lower(self) -> dt.datetime:
        """First instant inside the domain (inclusive)."""
        return dt.datetime(self.min_year, 1, 1)

    @property
    def upper(self) -> dt.datetime:
        """First instant after the domain (exclusive)."""
        return dt.datetime(self.max_year + 1, 1, 1)

    def describe(self) -> str:
        return f"years {self.min_year}-{self.max_year}"

    def outside(self, times: pd.Series) -> pd.Series:
        """Mask of the given (not NaT) times outside the domain."""
        return times.notna() & ((times < self.lower) | (times >= self.upper))

    def check_param(self, name: str, value: dt.datetime, given: str | None = None) -> dt.datetime:
        """`value` (naive UTC) if a query may ask about it, else BadTime naming the parameter and
        quoting what the caller `given` (default: the value in UTC)."""
        if not self.lower - PARAM_SLACK <= value < self.upper + PARAM_SLACK:
            raise BadTime(f"{name} {given or value.isoformat() + 'Z'} is outside the time domain ({self.describe()})")
        return value

    def clamp(self, value: dt.datetime) -> dt.datetime:
        """`value` moved into the domain (reads of times stored before the domain was enforced)."""
        return min(max(value, self.lower), self.upper)


DEFAULT = TimeDomain()


def parse_time(text, timezone: str, domain: TimeDomain = DEFAULT, name: str = "time") -> dt.datetime:
    """A time given by a caller (ISO 8601 date or date-time; without an offset in `timezone`) as
    naive UTC inside `domain`; BadTime naming `name` otherwise. The one parser of user-given times."""
    if not isinstance(text, str):
        raise BadTime(f"{name} must be an ISO 8601 string, not {type(text).__name__}")
    try:
        stamp = dt.datetime.fromisoformat(text.strip().replace("z", "Z"))
    except ValueError:
        raise BadTime(f"{name} is not an ISO 8601 date or date-time: {text!r}") from None
    try:
        if stamp.tzinfo is None:
            stamp = stamp.replace(tzinfo=zoneinfo.ZoneInfo(timezone))
        utc = stamp.astimezone(dt.UTC).replace(tzinfo=None)
    except (OverflowError, ValueError):  # year 1 or 9999 pushed past the calendar by its offset
        raise BadTime(f"{name} {text.strip()} is outside the time domain ({domain.describe()})") from None
    return domain.check_param(name, utc, text.strip())
