"""Sliding-window rate limits kept where the data lives (the writer), shared by every web worker.

A per-process counter would let N web workers admit N times the limit, so the count runs in the
writer (`@in_writer`); with one process it runs in place. Counts live in memory: a restart of the
writer starts them afresh.
"""
from __future__ import annotations

import math
import threading
import time
from collections import deque

from datasources.remote import in_writer

MAX_TRACKED = 100_000  # addresses remembered at most (the oldest quiet ones are forgotten first)


class SlidingWindow:
    """At most `limit` events per `window_s` seconds for each key (0 = no limit); callers lock."""

    def __init__(self):
        self._events: dict[str, deque] = {}

    def retry_after(self, key: str, limit: int, window_s: float, now: float) -> float:
        """0 if one more event for `key` fits now, else the seconds until it will (nothing recorded)."""
        if limit <= 0:
            return 0.0
        events = self._events.get(key)
        if events is None:
            return 0.0
        while events and now - events[0] >= window_s:
            events.popleft()
        if len(events) < limit:
            return 0.0
        return window_s - (now - events[-limit])

    def record(self, key: str, limit: int, now: float) -> None:
        if limit <= 0:
            return
        events = self._events.get(key)
        if events is None:
            if len(self._events) >= MAX_TRACKED:
                self._forget_quiet()
            events = self._events[key] = deque()
        events.append(now)
        while len(events) > limit:
            events.popleft()

    def _forget_quiet(self) -> None:
        by_last = sorted(self._events, key=lambda k: self._events[k][-1] if self._events[k] else -math.inf)
        for key in by_last[: len(by_last) // 2]:
            del self._events[key]


_windows: dict[str, SlidingWindow] = {}
_lock = threading.Lock()


def _window(store, name: str) -> SlidingWindow:
    return _windows.setdefault(f"{getattr(store, 'path', id(store))}:{name}", SlidingWindow())


@in_writer
def admit(store, name: str, address: str, per_address: int, address_window_s: float, total: int,
          total_window_s: float, now: float | None = None) -> int:
    """Count one event of kind `name` from `address` if both limits allow it and return 0; else
    count nothing and return the whole seconds to wait (for Retry-After)."""
    now = time.monotonic() if now is None else now
    with _lock:
        by_address, overall = _window(store, f"{name}:address"), _window(store, f"{name}:total")
        wait = max(by_address.retry_after(address, per_address, address_window_s, now),
                   overall.retry_after("*", total, total_window_s, now))
        if wait > 0:
            return max(1, math.ceil(wait))
        by_address.record(address, per_address, now)
        overall.record("*", total, now)
        return 0
