"""The periodic supervisor: every `interval` seconds, store what the fleet heard and re-evaluate every instance.
The same loop samples the broker's figures (services.py), in a thread of its own."""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)


class Supervisor:
    def __init__(self, tick: Callable[[], None], interval: float, name: str = "hive-supervisor") -> None:
        self._tick = tick
        self.interval = interval
        self.name = name
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.ticks = 0

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self._tick()
            except Exception:  # one bad round must not end supervision
                log.exception("%s round failed", self.name)
            self.ticks += 1

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
