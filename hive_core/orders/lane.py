"""One strategy's lane in the order manager: its queues, quota buckets, fair-queuing tags and figures.

The manager owns the lanes and decides which one is served (hive_core/orders/manager.py); a lane only
keeps its own state and reports its own figures.
"""
from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any

from hive_core.orders.rate_limit import LimiterSet
from hive_core.orders.requests import OrderRequest
from hive_core.scheduler import Histogram

DELAY_WINDOW = 256      # per strategy: queue delays in a log-bucketed histogram ("recent" = last 256-512)


def delay_figures(histogram: Histogram) -> dict[str, float]:
    """n (since start), p50/p99 (recent, ~9 % resolution) and max (exact) of queue delays, in ms."""
    return {"n": histogram.count, "p50": histogram.percentile(0.5) * 1e3, "p99": histogram.percentile(0.99) * 1e3,
            "max": histogram.max * 1e3}


class Lane:
    """One strategy's queues (cancels go ahead of new orders), quota buckets, fair-queuing tags and metrics."""

    __slots__ = ("id", "priority", "weight", "limits", "cancels", "orders", "live", "active", "start_tag",
                 "last_finish", "ready_at", "blocked_since", "submitted", "sent", "acked", "rejected", "withdrawn",
                 "retried", "throttled", "delays", "delay_cache")

    def __init__(self, strategy_id: str, priority: int, weight: float, limits: LimiterSet) -> None:
        self.id = strategy_id
        self.priority = priority
        self.weight = weight
        self.limits = limits
        self.cancels: deque[OrderRequest] = deque()
        self.orders: deque[OrderRequest] = deque()
        self.live = 0                # queued requests not withdrawn
        self.active = False
        self.start_tag = 0.0
        self.last_finish = 0.0
        self.ready_at = 0.0          # its quota lets the current head go at this time
        self.blocked_since = -1.0
        self.submitted = self.sent = self.acked = self.rejected = self.withdrawn = self.retried = 0
        self.throttled = 0.0
        # A few KB whatever the traffic (a deque of 8,192 floats was ~260 KB per busy strategy).
        self.delays = Histogram(DELAY_WINDOW)
        self.delay_cache = (-1, 0.0, 0.0)      # (samples, p50 ms, p99 ms) for fields()

    def head(self) -> OrderRequest:
        """The request that goes next (cancels first); only asked of a lane with requests queued."""
        for queue in (self.cancels, self.orders):
            while queue and queue[0].withdrawn:
                queue.popleft()
            if queue:
                return queue[0]
        raise LookupError(f"strategy {self.id}: no request queued")

    def pop_head(self) -> OrderRequest:
        request = self.cancels.popleft() if self.cancels else self.orders.popleft()
        self.live -= 1
        return request

    def end_block(self, now: float) -> None:
        if self.blocked_since >= 0:
            self.throttled += now - self.blocked_since
            self.blocked_since = -1.0

    def reset(self) -> None:
        """Empty the queues (requests are dropped unanswered) and clear the tags and metrics."""
        self.cancels.clear()
        self.orders.clear()
        self.live = 0
        self.active = False
        self.start_tag = self.last_finish = self.ready_at = self.throttled = 0.0
        self.blocked_since = -1.0
        self.submitted = self.sent = self.acked = self.rejected = self.withdrawn = self.retried = 0
        self.delays.reset()
        self.delay_cache = (-1, 0.0, 0.0)

    def throttled_seconds(self, now: float) -> float:
        """Seconds the head request waited for this strategy's own quota, the current wait included."""
        return self.throttled + (now - self.blocked_since if self.blocked_since >= 0 else 0.0)

    def fields(self, into: dict[str, Any], clock: Callable[[], float]) -> dict[str, Any]:
        """The metrics collector's per-strategy fields, added to `into` (cheap: the clock is read only
        while the lane is blocked, percentiles are only recomputed after new samples)."""
        throttled = self.throttled_seconds(clock()) if self.blocked_since >= 0 else self.throttled
        delays = self.delays
        cache = self.delay_cache
        if cache[0] != delays.count:
            cache = self.delay_cache = (delays.count, round(delays.percentile(0.5) * 1e3, 4),
                                        round(delays.percentile(0.99) * 1e3, 4))
        into["orders_queued"] = self.live
        into["orders_sent"] = self.sent
        into["orders_rejected"] = self.rejected
        into["orders_retried"] = self.retried
        into["orders_throttled_s"] = round(throttled, 6) if throttled else 0.0
        into["order_queue_delay_p50_ms"] = cache[1]
        into["order_queue_delay_p99_ms"] = cache[2]
        return into

    def summary(self, now: float) -> dict[str, Any]:
        """Everything about this lane, for OrderManager.metrics()."""
        return {"priority": self.priority, "weight": self.weight, "queued": self.live,
                "submitted": self.submitted, "sent": self.sent, "acked": self.acked, "rejected": self.rejected,
                "withdrawn": self.withdrawn, "retried": self.retried, "throttled_s": self.throttled_seconds(now),
                "queue_delay_ms": delay_figures(self.delays)}
