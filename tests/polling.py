"""The one way tests wait for something: poll a predicate, bounded, and fail saying what was last seen.

A predicate returns a truthy value when the wait is over (that value is returned), or something falsy or an
AssertionError when it is not yet; any other exception ends the wait at once (a process that died, say).
"""
from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

Message = str | Callable[[], str]


class _Progress:
    """What the predicate last returned or raised, for the failure message."""

    def __init__(self) -> None:
        self.value: object = None
        self.error: AssertionError | None = None

    def check(self, predicate: Callable[[], T]) -> T | None:
        try:
            value = predicate()
        except AssertionError as error:
            self.error = error
            return None
        self.value, self.error = value, None
        return value if value else None

    def failure(self, timeout: float, message: Message) -> AssertionError:
        text = message() if callable(message) else message
        last = f"last error: {self.error}" if self.error else f"last value: {self.value!r}"
        return AssertionError(f"not reached within {timeout} s: {text or 'condition'} ({last})")


def wait_until(predicate: Callable[[], T], timeout: float, *, interval: float = 0.05, message: Message = "") -> T:
    """Call `predicate` every `interval` s until it returns something truthy and return that; raise an
    AssertionError naming `message` (a string, or a callable describing the state at the time of failure)
    and the last value seen after `timeout` s."""
    progress = _Progress()
    deadline = time.monotonic() + timeout
    while True:
        value = progress.check(predicate)
        if value is not None:
            return value
        if time.monotonic() >= deadline:
            raise progress.failure(timeout, message)
        time.sleep(interval)


async def wait_until_async(predicate: Callable[[], T], timeout: float, *, interval: float = 0.01,
                           message: Message = "") -> T:
    """wait_until for coroutines: the same contract, yielding to the event loop between polls."""
    progress = _Progress()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        value = progress.check(predicate)
        if value is not None:
            return value
        if loop.time() >= deadline:
            raise progress.failure(timeout, message)
        await asyncio.sleep(interval)
