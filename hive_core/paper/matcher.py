"""`PaperMatcher`: paper orders matched in process against a live venue's market data (pure logic, no I/O).

The live book is only read, never changed: paper orders take no liquidity from it and add none to it. The rules
(docs/paper-trading.md says them for operators):

- Arrival: a marketable order fills at once as a taker, walking the opposite side of the book it is placed on,
  level by level at the levels' prices, up to its limit price. What a MARKET order cannot fill is cancelled (Binance:
  EXPIRED); the rest of a LIMIT order rests; a LIMIT_MAKER order that would take is rejected instead.
- Queue: a resting order joins the back of its price level. Its queue ahead is the public size the book shows at that
  exact price (0 when the book shows none there, e.g. when it improves on the best price; unknown, so infinite, when
  the price lies beyond the book's last shown level, until the level comes into view). Our own paper orders at the
  same price that came earlier are ahead of it too (they are counted apart: the public book does not show them).
- Public trades (`on_market`), oldest first, each one volume shared by the paper orders it reaches, best price first
  and in arrival order within a price. A sell trade reaches resting buys at or above its price, a buy trade resting
  sells at or below it. A trade through an order's price (a sell below a buy's price) traded its whole level: the
  order fills up to the volume left and its queue ahead goes to 0. A trade at the order's price consumes the queue
  ahead first; only the volume beyond it fills the order. Trades up to the time of the book an order was placed on
  are already in that book, so they do not count for it.
- Book crossing: when the opposite side reaches an order's price (best ask <= a buy's price, best bid >= a sell's),
  the market moved through it: it fills in full at its own price.
- Cancellations ahead: when the size shown at an order's price falls below its queue ahead, the queue ahead falls to
  it (we assume the size that left was ahead of us only as far as needed: a level that shrinks but stays above our
  queue ahead lost orders behind us). A level within the shown depth that is gone shows 0.
- Fees, in the quote asset: the taker rate on fills at arrival, the maker rate on resting fills (at the order's own
  limit price).

Every change is reported as an `OrderUpdate` (CREATED, FILLED with its `Fill`, COMPLETED, CANCELLED, REJECTED) to
the listeners, with a copy of the order, as `SimExchange` reports them.
"""
from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from hive_core.market.types import (
    Fill,
    Order,
    OrderBook,
    OrderStatus,
    OrderType,
    OrderUpdate,
    Side,
    Trade,
    UpdateKind,
)
from hive_core.market.venue import OrderListener

OrderKind = Literal["LIMIT", "LIMIT_MAKER", "MARKET"]
ORDER_KINDS: tuple[OrderKind, ...] = ("LIMIT", "LIMIT_MAKER", "MARKET")
WOULD_TAKE = "Order would immediately match and take."       # Binance's words for a LIMIT_MAKER that crosses
NO_LIQUIDITY = "not enough liquidity in the book"
MAX_DONE_ORDERS_KEPT = 10_000  # finished orders still answered by get_order (older ones are forgotten)

Levels = Sequence[tuple[float, float]]


@dataclass(frozen=True, slots=True)
class Placement:
    """What `place` did: the order as it stands after its arrival, its taker fills, and why it was refused."""

    order: Order
    fills: tuple[Fill, ...] = ()
    reason: str | None = None

    @property
    def accepted(self) -> bool:
        return self.order.status is not OrderStatus.REJECTED


@dataclass(slots=True)
class _Resting:
    order: Order
    price: float         # its limit price (order.price, never None here)
    queue_ahead: float   # public size ahead of it at its price
    joined_at: float     # venue time of the book it was placed on


class PaperMatcher:
    """The paper orders of every pair, matched against the market data it is fed (`on_market`)."""

    def __init__(self, *, maker_fee_rate: float, taker_fee_rate: float, now: Callable[[], float]) -> None:
        self.maker_fee_rate = maker_fee_rate
        self.taker_fee_rate = taker_fee_rate
        self._now = now
        self._orders: dict[str, Order] = {}
        self._resting: dict[str, list[_Resting]] = {}   # by pair, in arrival order
        self._done: deque[str] = deque()
        self._listeners: list[OrderListener] = []
        self._fill_seq = 0

    def add_order_listener(self, listener: OrderListener) -> None:
        self._listeners.append(listener)

    # ---- orders -------------------------------------------------------------------------------

    def place(self, client_order_id: str, side: Side, kind: OrderKind, amount: float, price: float | None = None,
              *, book: OrderBook) -> Placement:
        """Place an order on `book`'s pair, matched on arrival against `book` (the pair's live book now).

        `price` is the limit price (ignored for MARKET). A malformed order, or a LIMIT_MAKER that would take, is
        REJECTED (reported, and not kept); a client order id already in use raises ValueError.
        """
        if client_order_id in self._orders:
            raise ValueError(f"duplicate client order id {client_order_id!r}")
        if kind not in ORDER_KINDS:
            raise ValueError(f"order kind must be one of {ORDER_KINDS}, got {kind!r}")
        now = self._now()
        side = Side(side)
        limit = None if kind == "MARKET" else price
        order = Order(client_order_id, book.trading_pair, side, OrderType.MARKET if limit is None else OrderType.LIMIT,
                      float(amount), limit, now, updated_at=now)
        problem = _problem(order, kind)
        opposite = book.asks if side is Side.BUY else book.bids
        if problem is None and kind == "LIMIT_MAKER" and opposite and _reaches(side, limit, opposite[0][0]):
            problem = WOULD_TAKE
        if problem is not None:
            order.status = OrderStatus.REJECTED
            self._emit(UpdateKind.REJECTED, order, reason=problem)
            return Placement(order.copy(), reason=problem)
        self._orders[client_order_id] = order
        self._emit(UpdateKind.CREATED, order)
        fills = []
        for level_price, size in opposite:
            if order.status.is_done or not _reaches(side, limit, level_price):
                break
            fills.append(self._fill(order, level_price, size, is_maker=False))
        if limit is None and not order.status.is_done:
            self._cancel(order, NO_LIQUIDITY)
        elif limit is not None and not order.status.is_done:
            own = book.bids if side is Side.BUY else book.asks
            shown = _shown(own, side, limit)
            self._resting.setdefault(book.trading_pair, []).append(
                _Resting(order, limit, math.inf if shown is None else shown, book.timestamp))
        return Placement(order.copy(), tuple(fills))

    def cancel(self, client_order_id: str) -> bool:
        """Cancel an open order; False when it is unknown or already done."""
        order = self._orders.get(client_order_id)
        if order is None or order.status.is_done:
            return False
        pair = order.trading_pair
        self._resting[pair] = [entry for entry in self._resting.get(pair, ()) if entry.order is not order]
        self._cancel(order)
        return True

    def get_order(self, client_order_id: str) -> Order | None:
        order = self._orders.get(client_order_id)
        return order.copy() if order is not None else None

    def open_orders(self, trading_pair: str | None = None) -> list[Order]:
        pairs = [trading_pair] if trading_pair is not None else list(self._resting)
        return [entry.order.copy() for pair in pairs for entry in self._resting.get(pair, ())
                if not entry.order.status.is_done]   # (one filled during on_market is dropped at its end)

    # ---- market data --------------------------------------------------------------------------

    def on_market(self, book: OrderBook, trades: Sequence[Trade]) -> None:
        """The pair's book now and its public trades since the last call (oldest first): trades, then the book
        crossing the orders' prices, then the queues ahead shrinking to the sizes shown."""
        pair = book.trading_pair
        resting = list(self._resting.get(pair, ()))   # a listener may place or cancel meanwhile
        if not resting:
            return
        for trade in trades:
            self._on_trade(resting, trade)
        for entry in resting:
            order = entry.order
            opposite = book.asks if order.side is Side.BUY else book.bids
            if not order.status.is_done and opposite and _reaches(order.side, entry.price, opposite[0][0]):
                self._fill(order, entry.price, order.remaining, is_maker=True)
        for entry in resting:
            shown = _shown(book.bids if entry.order.side is Side.BUY else book.asks, entry.order.side, entry.price)
            if shown is not None:
                entry.queue_ahead = min(entry.queue_ahead, shown)
        self._resting[pair] = [entry for entry in self._resting[pair] if not entry.order.status.is_done]

    def _on_trade(self, resting: list[_Resting], trade: Trade) -> None:
        """Share one public trade's volume among the resting orders it reaches (see the module docstring)."""
        side = Side.BUY if trade.side is Side.SELL else Side.SELL     # the side the aggressor hit
        reached = [entry for entry in resting if entry.order.side is side and not entry.order.status.is_done
                   and entry.joined_at < trade.timestamp and _reaches(side, entry.price, trade.price)]
        reached.sort(key=lambda entry: -entry.price if side is Side.BUY else entry.price)  # stable: arrival order
        volume = trade.amount          # left for the orders not reached yet
        ours_ahead = 0.0               # at the trade's price: what our earlier orders there had left before it
        for entry in reached:
            order = entry.order
            if entry.price != trade.price:                              # traded through
                entry.queue_ahead = 0.0
                take = min(volume, order.remaining)
                volume -= take
            else:
                before = order.remaining
                take = min(max(volume - entry.queue_ahead - ours_ahead, 0.0), before)
                entry.queue_ahead -= min(entry.queue_ahead, volume)
                volume -= take
                ours_ahead += before - take
            if take > 0:
                self._fill(order, entry.price, take, is_maker=True)

    # ---- internals ----------------------------------------------------------------------------

    def _fill(self, order: Order, price: float, amount: float, *, is_maker: bool) -> Fill:
        amount = min(amount, order.remaining)
        now = self._now()
        rate = self.maker_fee_rate if is_maker else self.taker_fee_rate
        fee = price * amount * rate
        done = order.record_fill(price, amount, fee, now)
        self._fill_seq += 1
        fill = Fill(order.client_order_id, order.trading_pair, order.side, order.order_type, price, amount, fee, rate,
                    now, is_maker, f"paper-f{self._fill_seq}")
        self._emit(UpdateKind.FILLED, order, fill)
        if done:
            self._emit(UpdateKind.COMPLETED, order)
            self._forget_done(order.client_order_id)
        return fill

    def _cancel(self, order: Order, reason: str | None = None) -> None:
        order.status = OrderStatus.CANCELLED
        order.updated_at = self._now()
        self._emit(UpdateKind.CANCELLED, order, reason=reason)
        self._forget_done(order.client_order_id)

    def _forget_done(self, client_order_id: str) -> None:
        """Keep the last MAX_DONE_ORDERS_KEPT finished orders for get_order; forget older ones."""
        self._done.append(client_order_id)
        while len(self._done) > MAX_DONE_ORDERS_KEPT:
            self._orders.pop(self._done.popleft(), None)

    def _emit(self, kind: UpdateKind, order: Order, fill: Fill | None = None, reason: str | None = None) -> None:
        update = OrderUpdate(kind, order.copy(), self._now(), fill, reason)
        for listener in self._listeners:
            listener(update)


def _problem(order: Order, kind: OrderKind) -> str | None:
    if not (math.isfinite(order.amount) and order.amount > 0):
        return f"amount must be a positive number, got {order.amount!r}"
    if kind != "MARKET" and not (order.price is not None and math.isfinite(order.price) and order.price > 0):
        return f"price must be a positive number, got {order.price!r}"
    return None


def _reaches(side: Side, limit: float | None, price: float) -> bool:
    """Would an order of `side` with `limit` (None: any price) trade at `price`?"""
    return limit is None or (price <= limit if side is Side.BUY else price >= limit)


def _shown(levels: Levels, side: Side, price: float) -> float | None:
    """The size `levels` (one side of a book, best first) show at `price`: 0 where they show none within their depth
    or before their best level, None beyond their last level (not shown, so not known)."""
    for level_price, size in levels:
        if level_price == price:
            return size
        if (price > level_price) if side is Side.BUY else (price < level_price):
            return 0.0
    return None if levels else 0.0
