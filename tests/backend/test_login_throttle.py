"""The lock-out arithmetic of LoginThrottle, on a clock the test moves."""
from __future__ import annotations

from backend.login_throttle import LoginThrottle


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_each_wrong_login_past_the_free_ones_doubles_the_lock_out_up_to_the_cap() -> None:
    clock = FakeClock()
    throttle = LoginThrottle(3, 1.0, 30.0, clock=clock)
    delays = []
    for _ in range(9):
        delays.append(throttle.failed("10.0.0.1"))
        clock.now += throttle.retry_after("10.0.0.1")  # the attacker waits out each lock-out
    assert delays == [0, 0, 1, 2, 4, 8, 16, 30, 30]
    assert throttle.retry_after("10.0.0.2") == 0, "other addresses are not affected"


def test_the_lock_out_counts_down_and_a_right_login_after_it_forgets_the_failures() -> None:
    clock = FakeClock()
    throttle = LoginThrottle(1, 10.0, 60.0, clock=clock)
    assert throttle.failed("a") == 10
    clock.now += 4
    assert throttle.retry_after("a") == 6
    clock.now += 6
    assert throttle.retry_after("a") == 0
    throttle.succeeded("a")
    assert throttle.failed("a") == 10, "counted from the start again"


def test_failures_older_than_the_longest_lock_out_are_forgotten() -> None:
    clock = FakeClock()
    throttle = LoginThrottle(2, 1.0, 60.0, clock=clock)
    assert throttle.failed("a") == 0
    clock.now += 61
    assert throttle.failed("a") == 0, "the first failure was forgotten"
    assert throttle.failed("a") == 1


def test_at_most_max_addresses_are_remembered_the_stalest_forgotten_first() -> None:
    clock = FakeClock()
    throttle = LoginThrottle(1, 5.0, 60.0, clock=clock, max_addresses=3)
    for address in ("a", "b", "c", "d"):
        throttle.failed(address)
        clock.now += 1
    assert [throttle.retry_after(a) > 0 for a in ("a", "b", "c", "d")] == [False, True, True, True]
