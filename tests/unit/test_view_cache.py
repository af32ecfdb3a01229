"""views/cache.py: once per (view, arguments, versions, time slot), single flight, bounded."""
import threading
import time

from views.cache import VersionCache, per_version


class FakeStore:
    def __init__(self):
        self.data_version = 1
        self.admin_version = 0


def test_computed_once_per_version_and_arguments():
    cache, calls = VersionCache(), []

    @per_version("v", cache=cache)
    def view(store, scope):
        calls.append(scope)
        return {"scope": scope, "n": len(calls)}

    store = FakeStore()
    assert view(store, "city") is view(store, "city")
    assert view(store, "district:1")["scope"] == "district:1"
    assert calls == ["city", "district:1"]
    store.data_version = 2
    assert view(store, "city")["n"] == 3  # a new data version: computed again
    store.admin_version = 1
    assert view(store, "city")["n"] == 4  # a dispatch command or an alert acknowledged: again
    assert cache.stats()["hits"] == 1


def test_concurrent_callers_wait_for_one_computation():
    cache, calls = VersionCache(), []
    gate = threading.Event()

    @per_version("slow", cache=cache)
    def slow(store):
        calls.append(1)
        gate.wait(5)
        return object()

    store, results = FakeStore(), []
    threads = [threading.Thread(target=lambda: results.append(slow(store))) for _ in range(20)]
    for t in threads:
        t.start()
    time.sleep(0.2)
    gate.set()
    for t in threads:
        t.join()
    assert len(calls) == 1 and len({id(r) for r in results}) == 1 and len(results) == 20


def test_a_failure_is_not_cached_and_reaches_every_waiter():
    cache, calls = VersionCache(), []

    @per_version("flaky", cache=cache)
    def flaky(store):
        calls.append(1)
        if len(calls) == 1:
            raise ValueError("first fails")
        return "ok"

    store = FakeStore()
    try:
        flaky(store)
    except ValueError:
        pass
    assert flaky(store) == "ok" and len(calls) == 2


def test_the_rhythm_bounds_a_view_s_life_without_a_new_version():
    cache, calls = VersionCache(), []

    @per_version("clock", rhythm_s=0.2, cache=cache)
    def clock(store):
        calls.append(1)
        return len(calls)

    store = FakeStore()
    first = clock(store)
    time.sleep(0.25)
    assert clock(store) == first + 1


def test_bounded():
    cache = VersionCache(max_entries=10)
    for i in range(50):
        cache.get(("k", i), lambda: i)
    assert cache.stats()["entries"] == 10
