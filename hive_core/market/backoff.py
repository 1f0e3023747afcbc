"""Reconnect delays: exponential, bounded, with full jitter in [delay/2, delay]."""
from __future__ import annotations

import random


class Backoff:
    """`next()` gives the delay before the next attempt; `reset()` after a connection that worked."""

    def __init__(self, initial: float = 0.1, maximum: float = 10.0, factor: float = 2.0,
                 rng: random.Random | None = None) -> None:
        if not 0 < initial <= maximum:
            raise ValueError("need 0 < initial <= maximum")
        self.initial = initial
        self.maximum = maximum
        self.factor = factor
        self.attempts = 0
        self._rng = rng or random.Random()

    def next(self) -> float:
        delay = min(self.initial * self.factor ** self.attempts, self.maximum)
        self.attempts += 1
        return delay * self._rng.uniform(0.5, 1.0)

    def reset(self) -> None:
        self.attempts = 0
