"""The broker's figures over time (message rate, connected clients, CPU, memory): one point every INTERVAL seconds
while a broker runs, sampled by a thread of the backend (services.py), the last KEEP seconds kept in memory. A
backend restart starts the history afresh: it is for watching the broker now, not for records."""
from __future__ import annotations

import threading
from collections import deque

from backend.domain.broker import BrokerMetricsPoint

INTERVAL = 5.0
KEEP = 3600.0


class BrokerMetrics:
    def __init__(self, interval: float = INTERVAL, keep: float = KEEP) -> None:
        self.interval = interval
        self._points: deque[BrokerMetricsPoint] = deque(maxlen=max(1, int(keep / interval)))
        self._lock = threading.Lock()

    def add(self, point: BrokerMetricsPoint) -> None:
        with self._lock:
            self._points.append(point)

    def since(self, ts: float | None = None) -> list[BrokerMetricsPoint]:
        """The points after `ts` (all when None), oldest first."""
        with self._lock:
            return [point for point in self._points if ts is None or point.ts > ts]
