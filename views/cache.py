"""Compute once per data version, serve everyone.

    @per_version("kpi_board")
    def kpi_board(store, pack, scope, minute): ...

A call is keyed by (view, its arguments, the store's data and admin versions, a time slot). The
first caller computes; callers arriving meanwhile with the same key wait for that result instead of
computing it again (single flight); later callers get it from memory until the version moves.
Arguments must be hashable (Scope is a frozen dataclass). Results are shared: treat them as
read-only. Time-dependent views take the time as an argument, truncated to their rhythm (a minute,
a few seconds), so the key moves with it.
"""
from __future__ import annotations

import functools
import hashlib
import pickle
import threading
import time
from collections import OrderedDict

MAX_ENTRIES = 2048


class VersionCache:
    def __init__(self, max_entries: int = MAX_ENTRIES):
        self._entries: OrderedDict = OrderedDict()
        self._flights: dict = {}
        self._lock = threading.Lock()
        self.max_entries = max_entries
        self.hits = self.misses = self.waits = 0
        self.compute_ms: dict[str, float] = {}

    def get(self, key, compute):
        with self._lock:
            if key in self._entries:
                self._entries.move_to_end(key)
                self.hits += 1
                return self._entries[key]
            flight = self._flights.get(key)
            if flight is None:
                flight = self._flights[key] = _Flight()
                leader = True
                self.misses += 1
            else:
                leader = False
                self.waits += 1
        if not leader:
            return flight.result()
        started = time.perf_counter()
        try:
            value = compute()
        except BaseException as exc:
            with self._lock:
                del self._flights[key]
            flight.fail(exc)
            raise
        with self._lock:
            self._entries[key] = value
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
            del self._flights[key]
            self.compute_ms[key[0]] = (time.perf_counter() - started) * 1000
        flight.done(value)
        return value

    def stats(self) -> dict:
        with self._lock:
            return {"entries": len(self._entries), "hits": self.hits, "misses": self.misses, "waits": self.waits,
                    "last_compute_ms": {k: round(v, 1) for k, v in sorted(self.compute_ms.items())}}


class _Flight:
    def __init__(self):
        self._event = threading.Event()
        self._value = self._error = None

    def done(self, value) -> None:
        self._value = value
        self._event.set()

    def fail(self, error: BaseException) -> None:
        self._error = error
        self._event.set()

    def result(self):
        self._event.wait()
        if self._error is not None:
            raise self._error
        return self._value


CACHE = VersionCache()


def _keyable(value):
    from datasources.citypack import CityPack

    if isinstance(value, CityPack):
        return ("pack", value.id)
    if isinstance(value, list):
        return tuple(value)
    return value


def per_version(name: str, rhythm_s: float = 60.0, cache: VersionCache = CACHE, versioned: bool = True):
    """Memoise `fn(store, *args)` per (name, args, store.data_version, the rhythm's time slot).

    A view is computed at the first call after the version moves, with the time of that call (so a
    record of that version is in it), then served from memory; the rhythm bounds how long a view
    lives without a new version (windows ending 'now' move with time alone). `versioned=False`: by
    the rhythm alone (values that move slowly whatever the feeds do, e.g. the previous period's)."""

    def decorate(fn):
        @functools.wraps(fn)
        def wrapper(store, *args, **kwargs):
            key = (name, tuple(_keyable(a) for a in args), tuple(sorted((k, _keyable(v)) for k, v in kwargs.items())),
                   versions(store) if versioned else None, int(time.time() // rhythm_s))
            return cache.get(key, lambda: fn(store, *args, **kwargs))

        wrapper.uncached = fn
        return wrapper

    return decorate


def view(name: str, rhythm_s: float = 60.0, cache: VersionCache = CACHE, versioned: bool = True):
    """A console read model: `per_version` here, and in a web process computed by the writer (one
    computation per version for every web worker, each of which keeps the answer too).
    `versioned=False`: by the rhythm alone (a whole-table count that may lag by the rhythm)."""
    from datasources.remote import register

    def decorate(fn):
        cached = per_version(name, rhythm_s, cache, versioned)(fn)
        cached.is_view = True  # the writer warms views asked for lately before announcing a version
        key = register(cached, f"{fn.__module__}:{fn.__qualname__}")

        @functools.wraps(fn)
        def wrapper(store, *args, **kwargs):
            if not getattr(store, "remote", False):
                return cached(store, *args, **kwargs)
            slot = (name, tuple(_keyable(a) for a in args), tuple(sorted((k, _keyable(v)) for k, v in kwargs.items())),
                    versions(store) if versioned else None, int(time.time() // rhythm_s))
            return cache.get(slot, lambda: store.call_view(key, args, kwargs))

        wrapper.uncached = fn
        return wrapper

    return decorate


def shared(name: str, key: tuple, store, compute, rhythm_s: float = 60.0, cache: VersionCache = CACHE,
           versioned: bool = True):
    """`compute()` once per (name, key, versions, time slot): for a page's formatted output, whose key
    names everything it depends on (scope, language, the caller's role flags, inputs). With
    `versioned=False` the key must name the content itself (see `digest`): a page whose numbers did
    not change in a new version is not built again."""
    return cache.get((name, key, versions(store) if versioned else None, int(time.time() // rhythm_s)), compute)


def digest(value) -> bytes:
    """A short fingerprint of a view's result (plain data), to key what is built from it."""
    return hashlib.blake2b(pickle.dumps(value, protocol=5), digest_size=16).digest()


def versions(store) -> tuple[int, int]:
    """What a view depends on: the data version (feeds) and the admin version (dispatch commands,
    alert states, users: writes that do not move the data version)."""
    published = getattr(store, "view_versions", None)  # the writer: what it published to every process
    if published is not None:
        return published
    return store.data_version, getattr(store, "admin_version", 0)


