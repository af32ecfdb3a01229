from security.ratelimit import LoginLimits, SlidingWindow


def test_sliding_window_forgets_old_events_and_bounds_its_keys():
    window = SlidingWindow(2, window_s=60, max_keys=3)
    window.add("a", 0.0)
    window.add("a", 10.0)
    assert window.full("a", 30.0) and not window.full("b", 30.0)
    assert not window.full("a", 61.0)  # the first event left the window
    for key in "bcd":
        window.add(key, 70.0)
    assert len(window._events) == 3 and "a" not in window._events


def test_login_limits_count_an_attempt_only_when_all_allow_it():
    limits = LoginLimits(per_address=2, per_account=3, overall=5)
    assert [limits.allow("10.0.0.1", "zhang", now=1.0) for _ in range(3)] == [True, True, False]
    assert limits.allow("10.0.0.2", "Zhang", now=2.0)  # names are compared case-insensitively
    assert not limits.allow("10.0.0.3", "zhang", now=3.0)  # the account's third attempt was its last
    assert limits.allow("10.0.0.3", "li", now=3.0)
    assert limits.allow("10.0.0.4", "wang", now=4.0)
    assert not limits.allow("10.0.0.5", "zhao", now=5.0)  # five attempts in all: the process is full
    assert limits.allow("10.0.0.5", "zhao", now=70.0)  # a minute later
    assert LoginLimits(0, 0, 0).allow("x", "y")  # 0 = no limit


def test_admit_in_the_store_per_address_and_overall_with_the_wait_until_a_slot_frees(store):
    from security.ratelimit import admit

    def post(address, now):  # 2 per address per hour, 3 overall per minute
        return admit(store, "t", address, 2, 3600.0, 3, 60.0, now=now)

    assert [post("a", 0.0), post("a", 10.0)] == [0, 0]
    assert post("a", 20.0) == 3580  # the event at 0 s leaves the hour at 3600 s
    assert post("b", 30.0) == 0
    assert post("c", 40.0) == 20  # overall: 3 in the minute since 0 s; the first leaves at 60 s
    assert post("c", 60.5) == 0  # refused attempts were not counted
    assert post("a", 3600.5) == 0 and post("a", 3601.0) == 9  # the hour slides: the event at 10 s frees 3610 s
    # another store (another city's data) counts on its own; 0 = no limit
    assert admit(object(), "t", "a", 2, 3600.0, 3, 60.0, now=20.0) == 0
    assert all(admit(store, "u", "z", 0, 3600.0, 0, 60.0, now=1.0) == 0 for _ in range(50))
