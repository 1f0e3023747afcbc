"""Rate limiters for the order path: token buckets with O(1) checks, time passed in by the caller.

A `TokenBucket` holds up to `capacity` units and refills at `rate` units per second (the GCRA,
"generic cell rate algorithm", is the same limiter written with one timestamp instead of a token
count). `try_acquire(cost, now)` returns 0.0 and takes the units when they are there, otherwise
the exact number of seconds until they will be, taking nothing. Nothing here sleeps, polls or
reads a clock: the caller passes `now`, so tests and backtests run in virtual time and the order
manager can arm ONE timer for the earliest moment anything can go.

Two uses:

- A strategy's own quota (`quota_bucket`): N per interval sustained, a burst of N.
- A venue's published limit, "at most L per interval T" (`window_bucket`): the exchange counts
  in windows, so a bucket of capacity B refilling at r may only be trusted when B + r * T <= L
  (no window of length T, sliding or fixed, can then see more than L). The bucket is split into
  a burst B = burst_fraction * L and a sustained rate (L - B) / T.

`LimiterSet` checks several buckets at once (a request costs weight in some, one order in
others) and takes from all of them or from none.

`scale` shrinks a bucket (rate and capacity) after a venue ban answer and grows it back on
success; `clamp` lowers the tokens to what the venue says is left of its own count.

Written in Cython's pure-Python mode: compiled by setup.py where a C compiler exists, the same
file runs interpreted where not. `COMPILED` tells which one is active.
"""
from __future__ import annotations

import cython

COMPILED: bool = cython.compiled
INF: float = float("inf")
# Granted when the tokens are short by less than this (float rounding after an exact wait).
EPSILON: float = 1e-9
WEIGHT: int = 0      # LimiterSet: the bucket counts request weight
ORDERS: int = 1      # LimiterSet: the bucket counts orders


@cython.cclass
class TokenBucket:
    """`capacity` units, refilled at `rate` per second; see the module docstring."""

    base_rate = cython.declare(cython.double, visibility="readonly")
    base_capacity = cython.declare(cython.double, visibility="readonly")
    rate = cython.declare(cython.double, visibility="readonly")
    capacity = cython.declare(cython.double, visibility="readonly")
    scale = cython.declare(cython.double, visibility="readonly")
    _tokens: cython.double
    _stamp: cython.double

    def __init__(self, rate: float, capacity: float, now: float = 0.0, full: bool = True) -> None:
        if not rate > 0:
            raise ValueError(f"rate must be > 0, got {rate!r}")
        if not capacity > 0:
            raise ValueError(f"capacity must be > 0, got {capacity!r}")
        self.base_rate = rate
        self.base_capacity = capacity
        self.rate = rate
        self.capacity = capacity
        self.scale = 1.0
        self._tokens = capacity if full else 0.0
        self._stamp = now

    @cython.cfunc
    @cython.inline
    def _refill(self, now: cython.double) -> cython.void:
        if now > self._stamp:
            self._tokens += (now - self._stamp) * self.rate
            if self._tokens > self.capacity:
                self._tokens = self.capacity
            self._stamp = now

    @cython.ccall
    def wait_time(self, cost: cython.double, now: cython.double) -> cython.double:
        """Seconds until `cost` units are there (0.0: now; inf: never, cost above capacity)."""
        if cost > self.capacity + EPSILON:
            return INF
        self._refill(now)
        if self._tokens + EPSILON >= cost:
            return 0.0
        return (cost - self._tokens) / self.rate

    @cython.ccall
    def consume(self, cost: cython.double, now: cython.double) -> cython.void:
        """Take `cost` units unconditionally (may go below zero: later requests then wait longer)."""
        self._refill(now)
        self._tokens -= cost

    @cython.ccall
    def try_acquire(self, cost: cython.double, now: cython.double) -> cython.double:
        """0.0 and the units are taken, or the seconds to wait (nothing taken)."""
        wait: cython.double = self.wait_time(cost, now)
        if wait == 0.0:
            self._tokens -= cost
        return wait

    @cython.ccall
    def available(self, now: cython.double) -> cython.double:
        self._refill(now)
        return self._tokens

    @cython.ccall
    def set_scale(self, scale: cython.double, now: cython.double) -> cython.void:
        """Run at `scale` times the configured rate and capacity (tokens above the new capacity go)."""
        if not scale > 0:
            raise ValueError(f"scale must be > 0, got {scale!r}")
        self._refill(now)
        self.scale = scale
        self.rate = self.base_rate * scale
        self.capacity = self.base_capacity * scale
        if self._tokens > self.capacity:
            self._tokens = self.capacity

    @cython.ccall
    def clamp(self, most: cython.double, now: cython.double) -> cython.void:
        """At most `most` tokens from now on (the venue says only that much is left)."""
        self._refill(now)
        if self._tokens > most:
            self._tokens = most

    def reconfigure(self, rate: float, capacity: float, now: float) -> None:
        """New configured rate and capacity (the venue published a tighter limit); scale is kept."""
        if not (rate > 0 and capacity > 0):
            raise ValueError(f"rate and capacity must be > 0, got {rate!r}, {capacity!r}")
        self._refill(now)
        self.base_rate = rate
        self.base_capacity = capacity
        self.set_scale(self.scale, now)

    def __repr__(self) -> str:
        return f"TokenBucket(rate={self.rate:g}/s, capacity={self.capacity:g}, scale={self.scale:g})"


def quota_bucket(per_interval: float, interval_s: float, now: float = 0.0) -> TokenBucket:
    """A strategy quota: `per_interval` sustained per `interval_s`, and a burst of the same size."""
    return TokenBucket(per_interval / interval_s, per_interval, now)


def window_split(limit: float, interval_s: float, burst_fraction: float = 0.2,
                 min_burst: float = 1.0) -> tuple[float, float]:
    """(rate, capacity) of a bucket that never puts more than `limit` into any window of `interval_s`."""
    if not (limit > 0 and interval_s > 0):
        raise ValueError(f"limit and interval must be > 0, got {limit!r}, {interval_s!r}")
    if not 0 < burst_fraction < 1:
        raise ValueError(f"burst_fraction must be between 0 and 1, got {burst_fraction!r}")
    if limit < 2 * min_burst:
        # Too small to split: one window's worth at the plain rate (a window may see up to 2x).
        return limit / interval_s, limit
    capacity = min(max(limit * burst_fraction, min_burst), limit / 2)
    return (limit - capacity) / interval_s, capacity


def window_bucket(limit: float, interval_s: float, now: float = 0.0, burst_fraction: float = 0.2) -> TokenBucket:
    rate, capacity = window_split(limit, interval_s, burst_fraction)
    return TokenBucket(rate, capacity, now)


@cython.cclass
class LimiterSet:
    """Several buckets checked together: a request is granted by all of them or taken from none.

    Each bucket counts either request weight (WEIGHT) or orders (ORDERS); `wait_time(weight,
    orders, now)` is the longest wait of any bucket, `consume` takes from every bucket.
    """

    _buckets: list
    _kinds: list
    count = cython.declare(cython.Py_ssize_t, visibility="readonly")

    def __init__(self) -> None:
        self._buckets = []
        self._kinds = []
        self.count = 0

    def add(self, bucket: TokenBucket, kind: int) -> TokenBucket:
        if kind != WEIGHT and kind != ORDERS:
            raise ValueError(f"kind must be WEIGHT or ORDERS, got {kind!r}")
        self._buckets.append(bucket)
        self._kinds.append(kind)
        self.count += 1
        return bucket

    @cython.ccall
    def wait_time(self, weight: cython.double, orders: cython.double, now: cython.double) -> cython.double:
        longest: cython.double = 0.0
        wait: cython.double
        cost: cython.double
        i: cython.Py_ssize_t
        bucket: TokenBucket
        for i in range(self.count):
            cost = orders if self._kinds[i] == ORDERS else weight
            if cost <= 0.0:
                continue
            bucket = self._buckets[i]
            wait = bucket.wait_time(cost, now)
            if wait > longest:
                longest = wait
        return longest

    @cython.ccall
    def consume(self, weight: cython.double, orders: cython.double, now: cython.double) -> cython.void:
        i: cython.Py_ssize_t
        cost: cython.double
        bucket: TokenBucket
        for i in range(self.count):
            cost = orders if self._kinds[i] == ORDERS else weight
            if cost > 0.0:
                bucket = self._buckets[i]
                bucket.consume(cost, now)

    @cython.ccall
    def try_acquire(self, weight: cython.double, orders: cython.double, now: cython.double) -> cython.double:
        wait: cython.double = self.wait_time(weight, orders, now)
        if wait == 0.0:
            self.consume(weight, orders, now)
        return wait

    def set_scale(self, scale: float, now: float) -> None:
        for bucket in self._buckets:
            bucket.set_scale(scale, now)
