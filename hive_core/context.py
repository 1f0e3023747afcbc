"""StrategyContext: everything one strategy instance may use, and nothing shared by accident.

Each instance of a strategy (two copies of one class with different params included) gets its own
context: its id, validated params, trading pair, logger (`hive.strategy.<id>`), order handle,
paper account view, market view, a free-form `state` dict and its health metrics.
"""
from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from hive_core.market.types import ExternalEvent, OrderBook
from hive_core.market.venue import Venue
from hive_core.orders.handle import OrderHandle
from hive_core.orders.paper import PaperAccount
from hive_core.scheduler import Job


class MarketView:
    """Read-only market data of the venue; pair defaults to the strategy's own.

    `venue` is the in-process SimExchange (virtual time) or the VenueClient whose local books are
    kept from the venue's streams (realtime).
    """

    def __init__(self, venue: Venue, trading_pair: str) -> None:
        self._venue = venue
        self.trading_pair = trading_pair

    def mid_price(self, trading_pair: str | None = None) -> float:
        return self._venue.mid_price(trading_pair or self.trading_pair)

    def order_book(self, trading_pair: str | None = None) -> OrderBook:
        return self._venue.order_book(trading_pair or self.trading_pair)

    def best_bid(self, trading_pair: str | None = None) -> float:
        return self.order_book(trading_pair).best_bid

    def best_ask(self, trading_pair: str | None = None) -> float:
        return self.order_book(trading_pair).best_ask

    @property
    def fee_rate(self) -> float:
        return self._venue.fee_rate


class AccountView:
    """Read-only view of the strategy's paper account, with PnL marked to the current mid."""

    def __init__(self, account: PaperAccount, market: MarketView) -> None:
        self._account = account
        self._market = market

    @property
    def base(self) -> str:
        return self._account.base

    @property
    def quote(self) -> str:
        return self._account.quote

    @property
    def balances(self) -> dict[str, float]:
        return dict(self._account.balances)

    def balance(self, asset: str) -> float:
        return self._account.balances.get(asset, 0.0)

    def available(self, asset: str) -> float:
        return self._account.available(asset)

    @property
    def position(self) -> float:
        return self._account.position

    @property
    def average_cost(self) -> float:
        return self._account.average_cost

    @property
    def realized_pnl(self) -> float:
        return self._account.realized_pnl

    @property
    def unrealized_pnl(self) -> float:
        return self._account.unrealized_pnl(self._market.mid_price())

    @property
    def global_pnl(self) -> float:
        return self.realized_pnl + self.unrealized_pnl

    @property
    def volume_traded(self) -> float:
        return self._account.volume_quote

    @property
    def fees_paid(self) -> float:
        return self._account.fees_paid


@dataclass(frozen=True)
class TopicMessage:
    """A message received on a raw MQTT topic a strategy subscribed to (`ctx.events.on_topic`)."""

    topic: str
    payload: Any          # the JSON value when the payload parses, else the text
    received_at: float


class EventQueue:
    """A bounded FIFO of events (or topic messages) a strategy drains on its own tick.

    When full, the oldest is dropped and counted in `dropped`. Filled by the runtime on the loop
    thread; no strategy code runs when an item arrives.
    """

    def __init__(self, maxlen: int) -> None:
        if maxlen < 1:
            raise ValueError("maxlen: must be at least 1")
        self._items: deque = deque(maxlen=maxlen)
        self.maxlen = maxlen
        self.dropped = 0
        self.received = 0
        self.closed = False

    def put(self, item: Any) -> None:
        if len(self._items) == self.maxlen:
            self.dropped += 1
        self._items.append(item)
        self.received += 1

    def drain(self, limit: int | None = None) -> list:
        """Take (and remove) the queued items, oldest first; at most `limit` when given."""
        items = self._items
        if limit is None or limit >= len(items):
            taken = list(items)
            items.clear()
            return taken
        return [items.popleft() for _ in range(max(limit, 0))]

    def get(self) -> Any | None:
        """The oldest item, or None when empty."""
        return self._items.popleft() if self._items else None

    def __len__(self) -> int:
        return len(self._items)

    def __bool__(self) -> bool:
        return bool(self._items)

    def close(self) -> None:
        self.closed = True


class Subscription:
    """What `on`/`queue`/`on_topic`/`topic_queue` return: `cancel()` stops the deliveries."""

    def __init__(self, owner: EventsAPI, kind: str, key: str, target: Any) -> None:
        self._owner, self.kind, self.key, self.target = owner, kind, key, target
        self.active = True

    def cancel(self) -> None:
        if self.active:
            self.active = False
            self._owner._forget(self)


def topic_matches(pattern: str, topic: str) -> bool:
    """MQTT wildcard matching: '+' one level, '#' the rest (also the parent level)."""
    pats, parts = pattern.split("/"), topic.split("/")
    for index, pat in enumerate(pats):
        if pat == "#":
            return True
        if index >= len(parts) or (pat != "+" and pat != parts[index]):
            return False
    return len(pats) == len(parts)


class EventsAPI:
    """External events for one strategy (`ctx.events`): Hummingbot's EEvent/ETopic listener and queue
    factories as four methods, per strategy, no singletons.

    - `on(name, callback)`: call `callback(event)` for the event `name` (`tv.signal.buy`) or `"*"` (all).
    - `queue(name="*", maxlen=100)`: a bounded EventQueue of those events, drained on the strategy's tick.
    - `on_topic(topic, callback, own_prefix=True)` / `topic_queue(topic, maxlen=100, own_prefix=True)`:
      raw MQTT topics (wildcards allowed), relative to the bot's prefix `P/` unless `own_prefix=False`;
      items are TopicMessage.
    - `publish(path, data)`: an event on `P/external/event/<path>` (seen by every bot's listeners of
      that prefix, this one's included); False when the bridge is off or not connected.

    Callbacks run on the loop after the current batch of ticks, like every other hook (never inside
    one of the strategy's hooks, an exception is counted like a failing hook). Everything registered
    is dropped when the strategy is (re)started: register in `on_start`.
    """

    def __init__(self, *, enabled: bool = True, prefix: str = "",
                 publisher: Callable[[str, dict], bool] | None = None,
                 topic_subscriber: Callable[[str], None] | None = None) -> None:
        self.enabled = enabled
        self.prefix = prefix
        self._publisher = publisher
        self._topic_subscriber = topic_subscriber
        self._subs: list[Subscription] = []
        self._sequence = 0

    # ---- registering -----------------------------------------------------------------------

    def on(self, name: str, callback: Callable[[ExternalEvent], None]) -> Subscription:
        return self._add("event", name, callback)

    def queue(self, name: str = "*", maxlen: int = 100) -> EventQueue:
        queue = EventQueue(maxlen)
        self._add("event", name, queue)
        return queue

    def on_topic(self, topic: str, callback: Callable[[TopicMessage], None], own_prefix: bool = True) -> Subscription:
        return self._add("topic", self._full_topic(topic, own_prefix), callback)

    def topic_queue(self, topic: str, maxlen: int = 100, own_prefix: bool = True) -> EventQueue:
        queue = EventQueue(maxlen)
        self._add("topic", self._full_topic(topic, own_prefix), queue)
        return queue

    def publish(self, path: str, data: dict | None = None, event_type: str = "eevent") -> bool:
        if not self.enabled or self._publisher is None:
            return False
        self._sequence += 1
        payload = {"timestamp": int(time.time() * 1000), "sequence": self._sequence, "type": event_type,
                   "data": dict(data or {})}
        return self._publisher(f"external/event/{path.strip('/')}", payload)

    def clear(self) -> None:
        for sub in list(self._subs):
            sub.active = False
        self._subs.clear()

    @property
    def subscriptions(self) -> list[Subscription]:
        return list(self._subs)

    # ---- delivering (runtime side) -----------------------------------------------------------

    def targets_for_event(self, event: ExternalEvent) -> list:
        return [sub.target for sub in self._subs
                if sub.kind == "event" and (sub.key == "*" or sub.key == event.name)]

    def targets_for_topic(self, topic: str) -> list:
        return [sub.target for sub in self._subs if sub.kind == "topic" and topic_matches(sub.key, topic)]

    def topics(self) -> list[str]:
        return [sub.key for sub in self._subs if sub.kind == "topic"]

    def _full_topic(self, topic: str, own_prefix: bool) -> str:
        topic = topic.strip("/") if own_prefix else topic
        if not topic:
            raise ValueError("topic: must not be empty")
        return f"{self.prefix}/{topic}" if own_prefix and self.prefix else topic

    def _add(self, kind: str, key: str, target: Any) -> Subscription:
        if not key:
            raise ValueError("name: must not be empty")
        sub = Subscription(self, kind, key, target)
        self._subs.append(sub)
        if kind == "topic" and self.enabled and self._topic_subscriber is not None:
            self._topic_subscriber(key)
        return sub

    def _forget(self, sub: Subscription) -> None:
        if sub in self._subs:
            self._subs.remove(sub)


class StrategyContext:
    """Per-instance handles given to a Strategy's constructor."""

    def __init__(self, *, strategy_id: str, strategy_name: str, params: BaseModel, trading_pair: str,
                 orders: OrderHandle, account: PaperAccount, market: MarketView, metrics: Job,
                 now: Callable[[], float], events: EventsAPI | None = None) -> None:
        self.id = strategy_id
        self.strategy_name = strategy_name
        self.params = params
        self.trading_pair = trading_pair
        self.logger = logging.getLogger(f"hive.strategy.{strategy_id}")
        self.orders = orders
        self.market = market
        self.account = AccountView(account, market)
        self.metrics = metrics
        self.state: dict[str, Any] = {}
        self.events = events if events is not None else EventsAPI(enabled=False)
        self._now = now

    @property
    def base(self) -> str:
        return self.account.base

    @property
    def quote(self) -> str:
        return self.account.quote

    def now(self) -> float:
        """The instance clock's time (virtual time in backtests)."""
        return self._now()

    def __repr__(self) -> str:
        return f"StrategyContext(id={self.id!r}, strategy={self.strategy_name!r}, pair={self.trading_pair!r})"
