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
from dataclasses import dataclass

import pandas as pd

# Query parameters are read in the city's zone: a local "1970-01-01" or an exclusive end of
# "2101-01-01" may lie up to 14 hours outside the UTC domain and is still a sensible question.
PARAM_SLACK = dt.timedelta(days=1)


class TimeOutOfRange(ValueError):
    """A time outside the domain (a query parameter: the caller answers 400)."""


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

    def check_param(self, name: str, value: dt.datetime) -> dt.datetime:
        """`value` (naive UTC) if a query may ask about it, else TimeOutOfRange naming the parameter."""
        if not self.lower - PARAM_SLACK <= value < self.upper + PARAM_SLACK:
            raise TimeOutOfRange(f"{name} {value.isoformat()} is outside the time domain ({self.describe()})")
        return value

    def clamp(self, value: dt.datetime) -> dt.datetime:
        """`value` moved into the domain (reads of times stored before the domain was enforced)."""
        return min(max(value, self.lower), self.upper)


DEFAULT = TimeDomain()
