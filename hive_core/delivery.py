"""Hands what arrives for the strategies to them: order updates, market data, external events, raw topics.

Venue callbacks and MQTT messages may arrive while a strategy is inside one of its own hooks, so
the hook calls are queued and run by `drain()` after the current batch of ticks, each one isolated
like a tick (`Scheduler.guard`). Queues a strategy registered (`ctx.events.queue`, `topic_queue`)
are filled at once. Order updates are attributed to their strategy by the client order id prefix.
"""
from __future__ import annotations

import json
import logging
import time
from collections import deque
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from hive_core.context import EventQueue, TopicMessage
from hive_core.market.types import ExternalEvent, OrderBook, OrderUpdate, Trade
from hive_core.orders.requests import owner_of
from hive_core.remote.link import BridgeLink
from hive_core.scheduler import RUNNING, Job

if TYPE_CHECKING:
    from hive_core.host import StrategySlot

MAX_DELIVERIES_PER_DRAIN = 100_000

Guard = Callable[[Job, Callable[[Any], None], Any, str], Any]


class Delivery:
    """The queue of hook calls owed to the strategies of `slots`, and the routing that fills it."""

    def __init__(self, slots: Mapping[str, StrategySlot], guard: Guard, link: BridgeLink,
                 logger: logging.Logger) -> None:
        self._slots = slots
        self._guard = guard
        self._link = link
        self._logger = logger
        self._pending: deque[tuple[Job, Callable[[Any], None], Any, str]] = deque()

    def route_update(self, update: OrderUpdate) -> None:
        """Attribute a venue update to its strategy by the client order id prefix."""
        slot = self._slots.get(owner_of(update.order.client_order_id))
        if slot is None:
            self._logger.warning("order update for unknown order %s", update.order.client_order_id)
            return
        slot.handle.apply_update(update)
        if slot.strategy is not None and slot.job.status == RUNNING:
            self._pending.append((slot.job, slot.strategy.on_order_update, update, "on_order_update"))
        self._link.publish_order_event(update, slot.id)

    def on_market(self, book: OrderBook, trades: list[Trade]) -> None:
        """A book (and the trades since the last one) of one pair, for the running strategies trading it."""
        for slot in self._slots.values():
            if slot.job.status != RUNNING or slot.ctx.trading_pair != book.trading_pair or slot.strategy is None:
                continue
            if slot.wants_books:
                self._pending.append((slot.job, slot.strategy.on_order_book, book, "on_order_book"))
            if slot.wants_trades:
                for trade in trades:
                    self._pending.append((slot.job, slot.strategy.on_trade, trade, "on_trade"))

    def deliver_event(self, event: ExternalEvent) -> None:
        """An external event goes to every running strategy that implements on_event, and to the
        listeners and queues registered through ctx.events (by name or '*'). Callbacks are queued and
        run after the current batch, isolated like every hook; queues are filled at once."""
        for slot in self._slots.values():
            if slot.job.status != RUNNING or slot.strategy is None:
                continue
            if slot.wants_events:
                self._pending.append((slot.job, slot.strategy.on_event, event, "on_event"))
            for target in slot.ctx.events.targets_for_event(event):
                if isinstance(target, EventQueue):
                    target.put(event)
                else:
                    self._pending.append((slot.job, target, event, f"event {event.name}"))
        self.drain()

    def deliver_topic(self, topic: str, payload: bytes) -> None:
        """A message on a raw topic some strategy subscribed to with ctx.events.on_topic/topic_queue."""
        message: TopicMessage | None = None
        for slot in self._slots.values():
            if slot.job.status != RUNNING or slot.strategy is None:
                continue
            targets = slot.ctx.events.targets_for_topic(topic)
            if not targets:
                continue
            if message is None:
                message = TopicMessage(topic, _decode_payload(payload), time.time())
            for target in targets:
                if isinstance(target, EventQueue):
                    target.put(message)
                else:
                    self._pending.append((slot.job, target, message, f"topic {topic}"))
        self.drain()

    def raw_topics(self) -> set[str]:
        """Every raw topic the strategies listen on (the bridge subscribes to them on each connect)."""
        return {topic for slot in self._slots.values() for topic in slot.ctx.events.topics()}

    def drain(self) -> None:
        """Run the queued hook calls, oldest first (at most MAX_DELIVERIES_PER_DRAIN per call)."""
        delivered = 0
        pending = self._pending
        guard = self._guard
        while pending and delivered < MAX_DELIVERIES_PER_DRAIN:
            job, hook, arg, where = pending.popleft()
            guard(job, hook, arg, where)
            delivered += 1


def _decode_payload(payload: bytes) -> Any:
    text = payload.decode("utf-8", errors="replace")
    try:
        return json.loads(text)
    except ValueError:
        return text
