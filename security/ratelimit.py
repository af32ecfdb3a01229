"""Sliding-window rate limits: logins (per web process) and public POSTs (in the writer).

    limits = LoginLimits(per_address=10, per_account=10, overall=300)
    if not limits.allow(address, name):   # counts the attempt when allowed
        ... answer 429

Login limits are kept in the memory of each web process (a guess costs an argon2 verification
there: this bounds that work per process). The lockout itself is counted in the writer
(security/users.py), so it holds across processes whatever these limits let through.

`admit` (Open311 POSTs) counts in the writer (`@in_writer`): a per-process count would let N web
workers admit N times the limit. Counts live in memory; a restart of the writer starts them afresh.
"""
from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict, deque

from datasources.remote import in_writer

MAX_KEYS = 10_000  # distinct addresses or names remembered; the oldest are forgotten first


class SlidingWindow:
    """At most `limit` events per key within `window_s` seconds (limit <= 0: no limit)."""

    def __init__(self, limit: int, window_s: float = 60.0, max_keys: int = MAX_KEYS):
        self.limit = limit
        self.window_s = window_s
        self.max_keys = max_keys
        self._events: OrderedDict[str, deque] = OrderedDict()

    def full(self, key: str, now: float) -> bool:
        """Whether `key` has used its allowance (forgets events older than the window)."""
        if self.limit <= 0:
            return False
        events = self._events.get(key)
        if events is None:
            return False
        while events and now - events[0] > self.window_s:
            events.popleft()
        if not events:
            del self._events[key]
            return False
        return len(events) >= self.limit

    def retry_after(self, key: str, now: float) -> float:
        """0 while `key` has allowance left, else the seconds until an event of it leaves the window."""
        if not self.full(key, now):
            return 0.0
        return self.window_s - (now - self._events[key][-self.limit])

    def add(self, key: str, now: float) -> None:
        if self.limit <= 0:
            return
        events = self._events.pop(key, None) or deque()
        events.append(now)
        self._events[key] = events  # most recently used last
        while len(self._events) > self.max_keys:
            self._events.popitem(last=False)


class LoginLimits:
    """The three login limits together: an attempt is allowed (and counted in all three) only when
    none of its address, its account name and the process as a whole is at its limit."""

    def __init__(self, per_address: int, per_account: int, overall: int, window_s: float = 60.0):
        self._lock = threading.Lock()
        self.windows = (SlidingWindow(per_address, window_s), SlidingWindow(per_account, window_s),
                        SlidingWindow(overall, window_s, max_keys=1))

    def allow(self, address: str, name: str, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        keys = (address, (name or "").strip().lower()[:64], "*")
        with self._lock:
            if any(window.full(key, now) for window, key in zip(self.windows, keys)):
                return False
            for window, key in zip(self.windows, keys):
                window.add(key, now)
        return True


_windows: dict[tuple, SlidingWindow] = {}
_windows_lock = threading.Lock()


def _window(store, name: str, limit: int, window_s: float, max_keys: int = MAX_KEYS) -> SlidingWindow:
    """The store's window `name` (one per data folder), with the limits of this call (settings may change)."""
    key = (str(getattr(store, "path", id(store))), name)
    window = _windows.get(key) or _windows.setdefault(key, SlidingWindow(limit, window_s, max_keys))
    window.limit, window.window_s = limit, window_s
    return window


@in_writer
def admit(store, name: str, address: str, per_address: int, address_window_s: float, overall: int,
          overall_window_s: float, now: float | None = None) -> int:
    """Count one event of kind `name` from `address` when both limits allow it and return 0; else
    count nothing and return the whole seconds to wait (for Retry-After). A limit <= 0: none."""
    now = time.monotonic() if now is None else now
    with _windows_lock:
        windows = ((_window(store, f"{name}:address", per_address, address_window_s), address),
                   (_window(store, f"{name}:overall", overall, overall_window_s, max_keys=1), "*"))
        if any(window.full(key, now) for window, key in windows):
            return max(1, math.ceil(max(window.retry_after(key, now) for window, key in windows)))
        for window, key in windows:
            window.add(key, now)
        return 0
