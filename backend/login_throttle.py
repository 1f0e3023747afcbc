"""Failed logins per client address, with an exponential lock-out.

An address may get the password wrong `free_attempts` times; from then on each wrong login locks it out
for `base` s, then 2x, 4x ... that, at most `max_delay` s. During a lock-out nothing from that address is
checked at all (a right password included), so guessing costs the attacker the whole back-off. A right
login outside a lock-out forgets the address's failures; so does `max_delay` s without a failure.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

MAX_ADDRESSES = 10_000  # addresses remembered at once; the stalest are forgotten first beyond it


@dataclass
class _Failures:
    count: int
    last: float           # when the last failure was (clock seconds)
    locked_until: float   # 0 when never locked


class LoginThrottle:
    def __init__(self, free_attempts: int, base_delay: float, max_delay: float, *,
                 clock: Callable[[], float] = time.monotonic, max_addresses: int = MAX_ADDRESSES) -> None:
        self.free_attempts = free_attempts
        self.base_delay = base_delay
        self.max_delay = max_delay
        self._clock = clock
        self._max_addresses = max_addresses
        self._failures: dict[str, _Failures] = {}   # insertion order = order of the last failure
        self._lock = threading.Lock()   # the auth dependency (event loop) and the login route (a worker) share it

    def retry_after(self, address: str) -> float:
        """Seconds until `address` may try again; 0 when it is not locked out."""
        with self._lock:
            record = self._failures.get(address)
            return 0.0 if record is None else max(0.0, record.locked_until - self._clock())

    def failed(self, address: str) -> float:
        """Count a wrong login from `address`; returns the lock-out it now has (0: none yet)."""
        now = self._clock()
        with self._lock:
            record = self._failures.pop(address, None)
            if record is None or now - record.last > self.max_delay:
                record = _Failures(0, now, 0.0)
            record.count += 1
            record.last = now
            over = record.count - self.free_attempts
            delay = 0.0 if over < 0 else min(self.max_delay, self.base_delay * 2.0 ** min(over, 64))
            record.locked_until = now + delay if delay else record.locked_until
            self._failures[address] = record   # moved to the end: the most recent
            self._forget_stale(now)
            return delay

    def succeeded(self, address: str) -> None:
        with self._lock:
            self._failures.pop(address, None)

    def _forget_stale(self, now: float) -> None:
        """Drop, oldest first, the addresses whose last failure is older than max_delay (so no longer locked
        out), and any beyond the cap."""
        for address, record in list(self._failures.items()):
            if now - record.last <= self.max_delay and len(self._failures) <= self._max_addresses:
                break
            del self._failures[address]
