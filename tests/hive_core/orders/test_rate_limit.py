"""Token buckets and limiter sets: burst, refill, exact waits, scaling, the venue-window guarantee."""
from __future__ import annotations

import math

import pytest

from hive_core.orders import rate_limit
from hive_core.orders.rate_limit import ORDERS, WEIGHT, LimiterSet, TokenBucket, window_bucket, window_split


def test_bucket_grants_a_full_burst_then_waits_exactly_one_refill():
    bucket = TokenBucket(rate=5.0, capacity=5.0, now=0.0)
    assert [bucket.try_acquire(1, 0.0) for _ in range(5)] == [0.0] * 5
    assert bucket.try_acquire(1, 0.0) == pytest.approx(0.2)
    assert bucket.try_acquire(1, 0.1) == pytest.approx(0.1)      # half refilled: half the wait left
    assert bucket.try_acquire(1, 0.2) == 0.0                     # exactly on time: granted


def test_refill_is_capped_at_capacity():
    bucket = TokenBucket(rate=10.0, capacity=3.0, now=0.0)
    for _ in range(3):
        bucket.try_acquire(1, 0.0)
    assert bucket.available(100.0) == pytest.approx(3.0)
    assert [bucket.try_acquire(1, 100.0) for _ in range(4)][-1] == pytest.approx(0.1)


def test_wait_time_is_exact_for_a_larger_cost_and_takes_nothing():
    bucket = TokenBucket(rate=2.0, capacity=10.0, now=0.0)
    bucket.consume(10, 0.0)
    assert bucket.wait_time(4, 0.0) == pytest.approx(2.0)
    assert bucket.try_acquire(4, 1.0) == pytest.approx(1.0)
    assert bucket.available(1.0) == pytest.approx(2.0)           # the refused call took nothing


def test_cost_above_capacity_can_never_be_granted():
    bucket = TokenBucket(rate=1.0, capacity=2.0)
    assert bucket.try_acquire(3, 1e9) == math.inf


def test_time_going_backwards_refills_nothing():
    bucket = TokenBucket(rate=1.0, capacity=1.0, now=10.0)
    bucket.consume(1, 10.0)
    assert bucket.wait_time(1, 5.0) == pytest.approx(1.0)


def test_bad_parameters_are_refused():
    with pytest.raises(ValueError, match="rate"):
        TokenBucket(rate=0.0, capacity=1.0)
    with pytest.raises(ValueError, match="capacity"):
        TokenBucket(rate=1.0, capacity=-1.0)
    with pytest.raises(ValueError, match="burst_fraction"):
        window_split(100, 10, burst_fraction=1.0)


@pytest.mark.parametrize("limit,interval", [(100, 10.0), (6000, 60.0), (7, 1.0)])
def test_window_bucket_never_puts_more_than_the_limit_in_any_window(limit, interval):
    """A greedy sender (sends whenever granted) never exceeds `limit` in any sliding or epoch-aligned window."""
    bucket = window_bucket(limit, interval, now=0.0)
    now, sent = 0.0, []
    while now < 5 * interval:
        wait = bucket.try_acquire(1, now)
        if wait == 0.0:
            sent.append(now)
        else:
            now += wait
    start = 0
    for end, at in enumerate(sent):                    # sliding windows ending at every send
        while sent[start] <= at - interval:
            start += 1
        assert end - start + 1 <= limit
    fixed: dict[int, int] = {}
    for at in sent:
        fixed[math.floor(at / interval)] = fixed.get(math.floor(at / interval), 0) + 1
    assert max(fixed.values()) <= limit
    # ... while still using most of it: burst + sustained rate = the limit per window.
    assert len(sent) >= 0.95 * limit * 5 * (1 - 0.2)


def test_window_split_keeps_burst_plus_one_window_of_refill_at_the_limit():
    rate, capacity = window_split(100, 10, burst_fraction=0.2)
    assert capacity == 20 and rate == pytest.approx(8.0)
    assert capacity + rate * 10 == pytest.approx(100)


def test_scale_shrinks_rate_and_capacity_and_restores_them():
    bucket = TokenBucket(rate=10.0, capacity=20.0, now=0.0)
    bucket.set_scale(0.5, 0.0)
    assert (bucket.rate, bucket.capacity) == (5.0, 10.0)
    assert bucket.available(0.0) == 10.0                 # tokens above the new capacity are gone
    bucket.set_scale(1.0, 0.0)
    assert (bucket.rate, bucket.capacity) == (10.0, 20.0)


def test_clamp_lowers_tokens_to_what_the_venue_says_is_left():
    bucket = TokenBucket(rate=1.0, capacity=50.0, now=0.0)
    bucket.clamp(3.0, 0.0)
    assert bucket.available(0.0) == 3.0
    bucket.clamp(-2.0, 0.0)                              # over the venue's count: wait for the excess too
    assert bucket.wait_time(1, 0.0) == pytest.approx(3.0)


def test_limiter_set_takes_from_all_buckets_or_from_none():
    limits = LimiterSet()
    weight = limits.add(TokenBucket(rate=1.0, capacity=10.0), WEIGHT)
    orders = limits.add(TokenBucket(rate=1.0, capacity=1.0), ORDERS)
    assert limits.try_acquire(2, 1, 0.0) == 0.0
    assert limits.try_acquire(2, 1, 0.0) == pytest.approx(1.0)   # the orders bucket is empty
    assert weight.available(0.0) == pytest.approx(8.0)            # so the weight bucket kept its tokens
    assert limits.try_acquire(1, 0, 0.0) == 0.0                   # a cancel (no order) still goes
    assert orders.available(0.0) == pytest.approx(0.0)


def test_compiled_flag_matches_the_loaded_module():
    assert rate_limit.COMPILED == (not rate_limit.__file__.endswith(".py"))
