# Over 500 lines on purpose: queueing, fair dispatch, pacing and answers of one venue share one state (one class).
"""The order manager: one submission path per venue, shared fairly by the strategies of an instance.

`submit(strategy_id, request)` never blocks: the request joins its strategy's queue and, when
nothing holds it back, its frame is written before `submit` returns. What decides the order of
sending (the dispatcher, `_pump`):

1. The venue path may be paused after a 429 (until the venue's Retry-After) or a 418 (longer,
   and the venue limits shrink; they grow back with every successful answer).
2. Priority class first: the highest `priority` among strategies that have something their own
   quota lets go now. A strategy held back by its own quota is skipped, so it delays only itself.
3. Within a class, weighted fair queuing (start-time fair queuing): each backlogged strategy has
   a virtual start tag, its head request finishes at `start + weight_of_request / quota.weight`,
   the smallest finish goes (equal finish: the shorter queue). Over a busy period each strategy
   gets a share of the venue proportional to its quota weight; a strategy that sends less than its
   share starts at the current virtual time and goes ahead of a flood's backlog.
4. The chosen request goes only when the venue's global limits (one token bucket per published
   RateLimitRule, split as in `rate_limit.window_split` so that no venue window, sliding or fixed,
   sees more than the limit, and kept `headroom` (5%) below it for network jitter) allow it;
   otherwise nothing goes and ONE timer is armed for the earliest moment something can (the venue
   limit, a quota, or the end of a pause).

Cancels go ahead of the same strategy's new orders and cost their own weight (not an order).
A queued order that is cancelled before it is sent is withdrawn and never reaches the venue.
Answers: 429 -> pause until Retry-After and send the request again; 418 -> pause at least
`BackoffPolicy.ban_pause_min`, scale the venue limits by `shrink_on_ban`; any answer's
`rateLimits` (the venue's own counts) lowers the buckets to what the venue says is left, and a
tighter published limit replaces the configured one. Other errors reject the request.

Attribution: client order ids are `<strategy id>-<sequence>` and `submit` refuses a request
whose id does not carry the submitting strategy's prefix, so `owner_of(id)` is always right.

Lifecycle (`start`, `stop`, `reset`): a new manager is started; `stop()` keeps the queues but
sends nothing and drops its timer; `reset()` empties the queues and metrics.
"""
from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

from hive_core.config import RateLimitRule, StrategyEntry, StrategyQuota, VenueConfig
from hive_core.orders.lane import Lane
from hive_core.orders.rate_limit import ORDERS, WEIGHT, LimiterSet, TokenBucket, quota_bucket, window_split
from hive_core.orders.requests import InvalidOrder, OrderRequest, owner_of
from hive_core.orders.timers import LoopTimers, Timers
from hive_core.orders.transport import OrderTransport, VenueReply, parse_reply

INF = float("inf")
SAMPLES = 8192          # recent write latencies kept for the percentiles (one deque per manager)
# What strategy_figures() / venue_figures() report (metrics.py descriptions: kind, help).
ORDER_METRICS: dict[str, tuple[str, str]] = {
    "orders_queued": ("gauge", "requests waiting in the order manager's queue"),
    "orders_sent": ("counter", "requests written to the venue (retries included)"),
    "orders_acked": ("counter", "requests the venue accepted"),
    "orders_rejected": ("counter", "requests the venue refused, or given up after repeated 429/418"),
    "orders_retried": ("counter", "requests sent again after a 429/418"),
    "orders_throttled_s": ("counter", "seconds the strategy's head request waited for its own quota"),
    "order_queue_delay_p50_ms": ("gauge", "median submit-to-send delay of orders, recent, ms"),
    "order_queue_delay_p99_ms": ("gauge", "99th percentile submit-to-send delay of orders, recent, ms"),
    "orders_inflight": ("gauge", "requests sent and not answered yet"),
    "orders_http_429": ("counter", "venue answers 429 (too many requests) received"),
    "orders_http_418": ("counter", "venue answers 418 (banned) received"),
    "orders_transport_errors": ("counter", "requests that could not be written (no connection)"),
    "orders_paused_s": ("counter", "seconds the venue's order path was paused by back-off"),
    "orders_paused": ("gauge", "1 while the order path is paused by back-off"),
    "orders_limit_scale": ("gauge", "fraction of the venue's limits in use (below 1 after a 418)"),
}


@dataclass(frozen=True)
class BackoffPolicy:
    default_retry_after: float = 1.0      # a 429 without Retry-After pauses this long
    ban_pause_min: float = 5.0            # a 418 pauses at least this long (or its Retry-After if longer)
    shrink_on_ban: float = 0.5            # venue limits are multiplied by this on every 418 ...
    min_scale: float = 0.05               # ... down to this
    recover_per_success: float = 0.02     # and grow back by this per successful answer, up to 1
    max_attempts: int = 5                 # a request answered 429/418 this many times is rejected
    transport_error_pause: float = 0.25   # the transport could not write: pause, then try again


def percentiles(samples: Iterable[float], scale: float = 1.0) -> dict[str, float]:
    values = sorted(samples)
    if not values:
        return {"n": 0, "p50": 0.0, "p99": 0.0, "max": 0.0}
    last = len(values) - 1
    return {"n": len(values), "p50": values[last * 50 // 100] * scale, "p99": values[last * 99 // 100] * scale,
            "max": values[-1] * scale}


class _VenueRule:
    __slots__ = ("limit_type", "interval_s", "limit", "bucket")

    def __init__(self, limit_type: str, interval_s: float, limit: int, bucket: TokenBucket) -> None:
        self.limit_type, self.interval_s, self.limit, self.bucket = limit_type, interval_s, limit, bucket


class OrderManager:
    """One venue's order path; see the module docstring."""

    def __init__(self, transport: OrderTransport, rate_limits: Sequence[RateLimitRule] = (), *,
                 clock: Callable[[], float] = time.monotonic, timers: Timers | None = None,
                 backoff: BackoffPolicy = BackoffPolicy(), burst_fraction: float = 0.2, headroom: float = 0.05,
                 name: str = "venue",
                 logger: logging.Logger | None = None, wall_clock: Callable[[], float] = time.time) -> None:
        self.name = name
        self._transport = transport
        self._clock = clock
        self._wall = wall_clock
        self._timers = timers if timers is not None else LoopTimers(clock)
        self.backoff = backoff
        self._burst_fraction = burst_fraction
        if not 0 <= headroom < 1:
            raise ValueError(f"headroom must be in [0, 1), got {headroom!r}")
        self._headroom = headroom
        self._logger = logger or logging.getLogger(f"hive.orders.{name}")
        now = clock()
        self._venue = LimiterSet()
        self._rules: list[_VenueRule] = []
        for rule in rate_limits:
            rate, capacity = self._split(rule.limit, rule.interval_s)
            kind = ORDERS if rule.limit_type == "ORDERS" else WEIGHT
            bucket = self._venue.add(TokenBucket(rate, capacity, now), kind)
            self._rules.append(_VenueRule(rule.limit_type, rule.interval_s, rule.limit, bucket))
        self._lanes: dict[str, Lane] = {}
        self._active: dict[int, list[Lane]] = {}
        self._priorities: list[int] = []          # descending
        self._queued_places: dict[str, OrderRequest] = {}
        self._running = True
        self._pumping = False
        self._timer: Any = None
        self._timer_at = INF
        self._virtual_time = 0.0
        self._scale = 1.0
        self._paused_until = -INF
        self._weight_sent = 0
        self._orders_sent = 0
        self._reset_metrics()

    def _split(self, limit: float, interval_s: float) -> tuple[float, float]:
        """(rate, capacity) for a published limit, kept `headroom` below it (network jitter)."""
        return window_split(limit * (1 - self._headroom), interval_s, self._burst_fraction)

    def _reset_metrics(self) -> None:
        self.sent = self.acked = self.rejected = self.inflight = 0
        self.http_429 = self.http_418 = self.transport_errors = self.timers_armed = 0
        self.paused_total = 0.0
        self._write_ns: deque[int] = deque(maxlen=SAMPLES)

    @classmethod
    def from_config(cls, venue: VenueConfig, strategies: Iterable[StrategyEntry], transport: OrderTransport,
                    **options: Any) -> OrderManager:
        """A manager with the venue's published limits and every strategy's priority and quota."""
        manager = cls(transport, venue.rate_limits, name=options.pop("name", venue.kind), **options)
        for entry in strategies:
            manager.add_strategy(entry.id, priority=entry.priority, quota=entry.quota)
        return manager

    # ---- strategies ---------------------------------------------------------------------------

    def add_strategy(self, strategy_id: str, *, priority: int = 0, quota: StrategyQuota | None = None) -> None:
        """Register a strategy (quota None: no quota of its own, weight 1). Re-adding updates it."""
        now = self._clock()
        limits = LimiterSet()
        weight = 1.0
        if quota is not None:
            limits.add(quota_bucket(quota.orders_per_second, 1.0, now), ORDERS)
            limits.add(quota_bucket(quota.weight_per_minute, 60.0, now), WEIGHT)
            weight = quota.weight
        lane = self._lanes.get(strategy_id)
        if lane is None:
            self._lanes[strategy_id] = Lane(strategy_id, priority, weight, limits)
            return
        was_active = lane.active
        if was_active:
            self._deactivate(lane)
        lane.priority, lane.weight, lane.limits, lane.ready_at = priority, weight, limits, 0.0
        if was_active:
            self._activate(lane)

    def remove_strategy(self, strategy_id: str) -> list[OrderRequest]:
        """Forget a strategy; returns its queued new orders (withdrawn; its queued cancels still go)."""
        withdrawn = self.withdraw_all(strategy_id)
        lane = self._lanes.get(strategy_id)
        if lane is not None and lane.live == 0:
            if lane.active:
                self._deactivate(lane)
            del self._lanes[strategy_id]
        return withdrawn

    @property
    def strategies(self) -> list[str]:
        return list(self._lanes)

    # ---- submitting ---------------------------------------------------------------------------

    def submit(self, strategy_id: str, request: OrderRequest) -> None:
        """Queue `request` for `strategy_id`; it is sent at once when nothing holds it back. Never blocks."""
        submitted_ns = time.perf_counter_ns()
        lane = self._lanes.get(strategy_id)
        if lane is None:
            raise KeyError(f"strategy {strategy_id!r} is not registered with the order manager of {self.name}")
        if owner_of(request.client_order_id) != strategy_id:
            raise InvalidOrder(f"client order id {request.client_order_id!r} does not belong to strategy "
                               f"{strategy_id!r} (ids are '<strategy id>-<sequence>')")
        if request.kind == "place" and request.client_order_id in self._queued_places:
            raise InvalidOrder(f"order {request.client_order_id!r} is already queued")
        now = self._clock()
        if self._venue.wait_time(request.weight, request.orders, now) == INF or \
                lane.limits.wait_time(request.weight, request.orders, now) == INF:
            raise InvalidOrder(f"a request of weight {request.weight} can never pass the limits of {self.name} "
                               f"or of strategy {strategy_id!r}")
        request.strategy_id = strategy_id
        request.submitted_at = now
        request.submitted_ns = submitted_ns
        lane.submitted += 1
        self._enqueue(lane, request, front=False)
        if self._running and not self._pumping:
            self._pump()

    def withdraw(self, client_order_id: str) -> OrderRequest | None:
        """Take a new order out of the queue before it is sent; None when it is not queued (any more)."""
        request = self._queued_places.pop(client_order_id, None)
        if request is None:
            return None
        request.withdrawn = True
        lane = self._lanes[request.strategy_id]
        lane.live -= 1
        lane.withdrawn += 1
        lane.ready_at = 0.0
        if lane.live == 0 and lane.active:
            lane.end_block(self._clock())
            self._deactivate(lane)
        return request

    def withdraw_all(self, strategy_id: str) -> list[OrderRequest]:
        lane = self._lanes.get(strategy_id)
        if lane is None:
            return []
        ids = [request.client_order_id for request in lane.orders if not request.withdrawn]
        return [request for request in map(self.withdraw, ids) if request is not None]

    def queued(self, strategy_id: str | None = None) -> int:
        if strategy_id is None:
            return sum(lane.live for lane in self._lanes.values())
        lane = self._lanes.get(strategy_id)
        return lane.live if lane is not None else 0

    # ---- lifecycle ----------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._running

    def start(self) -> None:
        self._running = True
        self._pump()

    def stop(self) -> None:
        self._running = False
        self._cancel_timer()

    def reset(self) -> None:
        """Empty every queue (requests are dropped unanswered), clear back-off state and metrics."""
        self._cancel_timer()
        for lane in self._lanes.values():
            lane.reset()
        self._active.clear()
        self._priorities.clear()
        self._queued_places.clear()
        self._virtual_time = 0.0
        self._paused_until = -INF
        self._scale = 1.0
        self._venue.set_scale(1.0, self._clock())
        self._reset_metrics()

    # ---- queues -------------------------------------------------------------------------------

    def _enqueue(self, lane: Lane, request: OrderRequest, front: bool) -> None:
        if request.kind == "cancel":
            (lane.cancels.appendleft if front else lane.cancels.append)(request)
            lane.ready_at = 0.0            # the head may have changed
        else:
            (lane.orders.appendleft if front else lane.orders.append)(request)
            self._queued_places[request.client_order_id] = request
            if front:
                lane.ready_at = 0.0
        lane.live += 1
        if not lane.active:
            self._activate(lane)

    def _activate(self, lane: Lane) -> None:
        lane.active = True
        lane.start_tag = max(self._virtual_time, lane.last_finish)
        group = self._active.get(lane.priority)
        if group is None:
            group = self._active[lane.priority] = []
            self._priorities.append(lane.priority)
            self._priorities.sort(reverse=True)
        group.append(lane)

    def _deactivate(self, lane: Lane) -> None:
        lane.active = False
        group = self._active[lane.priority]
        group.remove(lane)
        if not group:
            del self._active[lane.priority]
            self._priorities.remove(lane.priority)

    # ---- dispatching --------------------------------------------------------------------------

    def _pick(self, now: float) -> tuple[Lane | None, float]:
        """The lane to serve now, or (None, earliest time a quota lets something go)."""
        earliest = INF
        for priority in self._priorities:
            best: Lane | None = None
            best_tag = INF
            for lane in self._active[priority]:
                if lane.ready_at > now:
                    if lane.ready_at < earliest:
                        earliest = lane.ready_at
                    continue
                head = lane.head()
                wait = lane.limits.wait_time(head.weight, head.orders, now)
                if wait > 0.0:
                    lane.ready_at = now + wait
                    if lane.blocked_since < 0:
                        lane.blocked_since = now
                    if lane.ready_at < earliest:
                        earliest = lane.ready_at
                    continue
                if lane.blocked_since >= 0:
                    # Back from its own quota: it was not competing meanwhile, so it earns no credit.
                    lane.end_block(now)
                    if lane.start_tag < self._virtual_time:
                        lane.start_tag = self._virtual_time
                tag = lane.start_tag + head.weight / lane.weight
                # Equal tags: the shorter queue first, so a sparse strategy is not kept behind a flood.
                if tag < best_tag or (best is not None and tag == best_tag and lane.live < best.live):
                    best, best_tag = lane, tag
            if best is not None:
                return best, 0.0
        return None, earliest

    def _pump(self) -> None:
        """Send everything that may go now; arm one timer for the earliest moment the rest may."""
        if not self._running or self._pumping:
            return
        self._pumping = True
        try:
            while self._active:
                now = self._clock()
                if now < self._paused_until:
                    self._arm(self._paused_until)
                    return
                lane, earliest = self._pick(now)
                if lane is None:
                    self._arm(earliest)
                    return
                head = lane.head()
                wait = self._venue.wait_time(head.weight, head.orders, now)
                if wait > 0.0:
                    self._arm(now + wait)
                    return
                self._venue.consume(head.weight, head.orders, now)
                lane.limits.consume(head.weight, head.orders, now)
                request = lane.pop_head()
                if request.kind == "place":
                    self._queued_places.pop(request.client_order_id, None)
                self._virtual_time = lane.start_tag
                lane.last_finish = lane.start_tag + request.weight / lane.weight
                lane.ready_at = 0.0
                if lane.live == 0:
                    self._deactivate(lane)
                else:
                    lane.start_tag = lane.last_finish
                self._send(lane, request, now)
        finally:
            self._pumping = False

    def _send(self, lane: Lane, request: OrderRequest, now: float) -> None:
        request.attempts += 1
        self._weight_sent += request.weight
        self._orders_sent += request.orders
        request.weight_mark = self._weight_sent
        request.orders_mark = self._orders_sent
        self.inflight += 1
        try:
            self._transport.send(request.method, request.params, partial(self._on_reply, request))
        except Exception as exc:                          # could not write: try again shortly
            self.inflight -= 1
            self.transport_errors += 1
            self._weight_sent -= request.weight
            self._orders_sent -= request.orders
            self._logger.warning("%s: could not send %s (%s); retrying", self.name, request.client_order_id, exc)
            self._retry_or_reject(request, now, f"could not send: {exc}", self.backoff.transport_error_pause)
            return
        if request.attempts == 1:
            self._write_ns.append(time.perf_counter_ns() - request.submitted_ns)
            lane.delays.record(now - request.submitted_at)
        lane.sent += 1
        self.sent += 1

    def _arm(self, when: float) -> None:
        if when == INF or (self._timer is not None and self._timer_at <= when):
            return
        self._cancel_timer()
        self._timer_at = when
        self.timers_armed += 1
        self._timer = self._timers.call_at(when, self._on_timer)

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._timer_at = INF

    def _on_timer(self) -> None:
        self._timer = None
        self._timer_at = INF
        self._pump()

    # ---- answers ------------------------------------------------------------------------------

    def _on_reply(self, request: OrderRequest, raw: Any) -> None:
        reply = raw if isinstance(raw, VenueReply) else parse_reply(raw, self._wall())
        now = self._clock()
        self.inflight -= 1
        if reply.rate_limits:
            self._sync_limits(request, reply, now)
        lane = self._lanes.get(request.strategy_id)
        status = reply.status
        if status == 429 or status == 418:
            if status == 429:
                self.http_429 += 1
                pause = reply.retry_after if reply.retry_after is not None else self.backoff.default_retry_after
            else:
                self.http_418 += 1
                pause = max(reply.retry_after or 0.0, self.backoff.ban_pause_min)
                self._set_scale(max(self._scale * self.backoff.shrink_on_ban, self.backoff.min_scale), now)
                self._logger.warning("%s: 418 (%s); paused %.1f s, limits at %.0f%%", self.name, reply.msg, pause,
                                     self._scale * 100)
            if lane is not None:
                lane.retried += 1
            self._retry_or_reject(request, now, f"{status}: {reply.msg}", pause)
            return
        if reply.ok:
            self.acked += 1
            if lane is not None:
                lane.acked += 1
            if self._scale < 1.0:
                self._set_scale(min(self._scale + self.backoff.recover_per_success, 1.0), now)
        else:
            self.rejected += 1
            if lane is not None:
                lane.rejected += 1
        self._answer(request, reply)

    def _retry_or_reject(self, request: OrderRequest, now: float, reason: str, pause: float) -> None:
        self._pause(now, pause)
        lane = self._lanes.get(request.strategy_id)
        if lane is None or request.attempts >= self.backoff.max_attempts:
            self.rejected += 1
            if lane is not None:
                lane.rejected += 1
            self._answer(request, VenueReply(429 if reason.startswith("429") else 503,
                                             msg=f"gave up after {request.attempts} attempts: {reason}"))
            return
        self._enqueue(lane, request, front=True)
        if not self._pumping:
            self._pump()

    def _pause(self, now: float, seconds: float) -> None:
        until = now + max(seconds, 0.0)
        if until > self._paused_until:
            self.paused_total += until - max(now, self._paused_until)
            self._paused_until = until
            self._cancel_timer()        # the old timer may be earlier than the pause's end
            if self._running and not self._pumping:
                self._arm(until)

    def _answer(self, request: OrderRequest, reply: VenueReply) -> None:
        if request.on_reply is not None:
            try:
                request.on_reply(request, reply)
            except Exception:
                self._logger.exception("%s: reply callback of %s failed", self.name, request.client_order_id)

    def adopt_limits(self, published: Sequence[RateLimitRule]) -> None:
        """The venue's published limits (its exchangeInfo) instead of the configured ones, window by window: a
        window it publishes replaces the configured one of the same type and length, or is added; a configured
        window it does not publish stays (an operator's own, stricter bound)."""
        now = self._clock()
        for rule in published:
            kind = ORDERS if rule.limit_type == "ORDERS" else WEIGHT
            known = next((r for r in self._rules if r.limit_type == rule.limit_type
                          and abs(r.interval_s - rule.interval_s) < 1e-9), None)
            if known is None:
                bucket = self._venue.add(TokenBucket(*self._split(rule.limit, rule.interval_s), now), kind)
                self._rules.append(_VenueRule(rule.limit_type, rule.interval_s, rule.limit, bucket))
                self._logger.info("%s publishes %s %d per %g s, which was not configured; using it", self.name,
                                  rule.limit_type, rule.limit, rule.interval_s)
            elif known.limit != rule.limit:
                self._logger.info("%s publishes %s %d per %g s (configured: %d); using it", self.name,
                                  rule.limit_type, rule.limit, rule.interval_s, known.limit)
                known.limit = rule.limit
                known.bucket.reconfigure(*self._split(rule.limit, rule.interval_s), now)

    def venue_limits(self) -> list[RateLimitRule]:
        """The limits the manager keeps to now (before its headroom), as published or configured."""
        return [RateLimitRule(limit_type=r.limit_type, interval_s=r.interval_s, limit=r.limit)  # type: ignore[arg-type]
                for r in self._rules]

    def _set_scale(self, scale: float, now: float) -> None:
        self._scale = scale
        self._venue.set_scale(scale, now)

    def _sync_limits(self, request: OrderRequest, reply: VenueReply, now: float) -> None:
        """Stay under the venue's own counts: never more tokens than the venue says are left."""
        for usage in reply.rate_limits:
            for rule in self._rules:
                if rule.limit_type != usage.limit_type or abs(rule.interval_s - usage.interval_s) > 1e-9:
                    continue
                if usage.limit < rule.limit:
                    self._logger.warning("%s publishes %s %d per %g s, tighter than the configured %d; using it",
                                         self.name, usage.limit_type, usage.limit, usage.interval_s, rule.limit)
                    rule.limit = usage.limit
                    rule.bucket.reconfigure(*self._split(usage.limit, usage.interval_s), now)
                if rule.limit_type == "ORDERS":
                    since = self._orders_sent - request.orders_mark
                else:
                    since = self._weight_sent - request.weight_mark
                left = usage.limit * (1 - self._headroom) - usage.count - since
                rule.bucket.clamp(left * self._scale, now)

    # ---- figures ------------------------------------------------------------------------------

    @property
    def scale(self) -> float:
        return self._scale

    @property
    def paused_until(self) -> float:
        return self._paused_until

    def strategy_figures(self, strategy_id: str, into: dict[str, Any] | None = None) -> dict[str, Any]:
        """The metrics collector's per-strategy fields, added to `into` (cheap: percentiles are only
        recomputed after new samples)."""
        fields: dict[str, Any] = {} if into is None else into
        lane = self._lanes.get(strategy_id)
        return fields if lane is None else lane.fields(fields, self._clock)

    def venue_figures(self) -> dict[str, float]:
        """The metrics collector's per-venue fields (one venue per instance)."""
        now = self._clock()
        paused = self.paused_total - max(self._paused_until - now, 0.0)   # paused time so far, not booked ahead
        return {"orders_sent": self.sent, "orders_acked": self.acked, "orders_rejected": self.rejected,
                "orders_inflight": self.inflight, "orders_queued": self.queued(), "orders_http_429": self.http_429,
                "orders_http_418": self.http_418, "orders_transport_errors": self.transport_errors,
                "orders_paused_s": round(paused, 6), "orders_paused": int(now < self._paused_until),
                "orders_limit_scale": self._scale}

    def metrics(self) -> dict[str, Any]:
        now = self._clock()
        strategies = {lane.id: lane.summary(now) for lane in self._lanes.values()}
        return {
            "venue": self.name, "sent": self.sent, "acked": self.acked, "rejected": self.rejected,
            "inflight": self.inflight, "queued": self.queued(), "http_429": self.http_429, "http_418": self.http_418,
            "transport_errors": self.transport_errors, "paused_s": self.paused_total,
            "paused": now < self._paused_until, "limit_scale": self._scale, "timers_armed": self.timers_armed,
            "submit_to_write_us": percentiles(self._write_ns, 1e-3),
            "strategies": strategies,
        }
