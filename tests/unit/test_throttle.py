"""Sliding-window limits (security/throttle.py) on a real store: per address, overall, Retry-After."""
from security import throttle


def test_per_address_and_overall_limits_with_the_wait_until_a_slot_frees(store):
    def admit(address, now):  # 2 per address per hour, 3 overall per minute
        return throttle.admit(store, "t", address, 2, 3600.0, 3, 60.0, now=now)

    assert [admit("a", 0.0), admit("a", 10.0)] == [0, 0]
    assert admit("a", 20.0) == 3580  # the event at 0 s leaves the hour at 3600 s
    assert admit("b", 30.0) == 0
    assert admit("c", 40.0) == 20  # overall: 3 in the minute since 0 s; the first leaves at 60 s
    assert admit("c", 60.5) == 0  # refused attempts were not counted
    assert admit("a", 3600.0) == 0 and admit("a", 3601.0) == 9  # the hour slides: the event at 10 s frees 3610 s
    # another store (another city's data) counts on its own; 0 = no limit
    assert throttle.admit(object(), "t", "a", 2, 3600.0, 3, 60.0, now=20.0) == 0
    assert all(throttle.admit(store, "u", "z", 0, 3600.0, 0, 60.0, now=1.0) == 0 for _ in range(50))
