"""The one timer the order manager keeps: real asyncio timers in realtime, a heap in virtual time.

`Timers.call_at(when, callback)` runs `callback()` once at `when` (in the manager's clock) and
returns a handle with `cancel()`. The manager never polls: it arms one timer for the earliest
moment anything can go and re-arms when that changes.
"""
from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import Callable
from typing import Protocol


class TimerHandle(Protocol):
    def cancel(self) -> None: ...


class Timers(Protocol):
    def call_at(self, when: float, callback: Callable[[], None]) -> TimerHandle: ...


class LoopTimers:
    """asyncio timers (`loop.call_later`) for a manager whose clock is `clock` (any seconds clock)."""

    def __init__(self, clock: Callable[[], float], loop: asyncio.AbstractEventLoop | None = None) -> None:
        self._clock = clock
        self._loop = loop

    def call_at(self, when: float, callback: Callable[[], None]) -> asyncio.TimerHandle:
        loop = self._loop
        if loop is None:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                raise RuntimeError("the order manager must wait for a rate limit but no event loop runs; "
                                   "give it VirtualTimers in virtual time") from None
        return loop.call_later(max(when - self._clock(), 0.0), callback)


class _VirtualHandle:
    __slots__ = ("cancelled",)

    def __init__(self) -> None:
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class VirtualTimers:
    """Virtual time with timers: `now()` is the clock, `advance(to)` runs due timers in order.

    Tests and backtests give the manager `clock=timers.now, timers=timers`. A runtime with its
    own virtual clock calls `run_due(now)` each step and folds `next_due()` into its wake-ups.
    """

    def __init__(self, start: float = 0.0) -> None:
        self._now = start
        self._heap: list[tuple[float, int, Callable[[], None], _VirtualHandle]] = []
        self._seq = itertools.count()
        self.fired = 0

    def now(self) -> float:
        return self._now

    def call_at(self, when: float, callback: Callable[[], None]) -> _VirtualHandle:
        handle = _VirtualHandle()
        heapq.heappush(self._heap, (when, next(self._seq), callback, handle))
        return handle

    def next_due(self) -> float:
        while self._heap and self._heap[0][3].cancelled:
            heapq.heappop(self._heap)
        return self._heap[0][0] if self._heap else float("inf")

    def run_due(self, now: float) -> int:
        """Run every timer due at or before `now` (the clock moves to each one's time), then set now."""
        ran = 0
        while self.next_due() <= now:
            when, _seq, callback, handle = heapq.heappop(self._heap)
            self._now = max(self._now, when)
            handle.cancelled = True
            callback()
            ran += 1
        self._now = max(self._now, now)
        self.fired += ran
        return ran

    def advance(self, seconds: float) -> int:
        return self.run_due(self._now + seconds)

    def set_time(self, now: float) -> None:
        """Move the clock without running timers (only forward)."""
        self._now = max(self._now, now)
