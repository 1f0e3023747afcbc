"""The built-in simulated exchange: the default venue for demos and tests.

One `SimExchange` per venue config, with one `SimMarket` per trading pair. Its order API is
in-process and synchronous (a call returns once the venue has accepted, filled or rejected the
order); every change is also reported to the listener as an `OrderUpdate`, which is how fills
reach the paper accounts and the strategies. `step()` advances every pair by one simulated
interval; the runtime calls it every `step_interval` seconds of its clock. In virtual time it is
the runtime's `Venue` (hive_core/market/venue.py); in realtime `SimServer` serves it over the network.

Fees are charged in the quote asset at `fee_rate` of the filled notional, for makers and takers.
"""
from __future__ import annotations

import math
import random
from collections.abc import Callable
from typing import cast

from hive_core.config import SimVenueConfig
from hive_core.market.symbol_rules import SymbolRules
from hive_core.market.types import (
    Fill,
    Order,
    OrderBook,
    OrderStatus,
    OrderType,
    OrderUpdate,
    Side,
    UpdateKind,
)
from hive_core.market.venue import MarketListener, OrderListener
from hive_core.sim.market import SimMarket

DEFAULT_PRICE = 100.0


class SimExchange:
    """A simulated venue: order books, public trades, and an order API with matching and fees."""

    def __init__(self, config: SimVenueConfig, time_source: Callable[[], float]) -> None:
        self.config = config
        self.fee_rate = config.fee_rate
        self._now = time_source
        seed = config.seed if config.seed is not None else random.SystemRandom().randrange(2**63)
        self.markets: dict[str, SimMarket] = {
            pair: SimMarket(pair, config.initial_prices.get(pair, DEFAULT_PRICE),
                            volatility=config.volatility, spread_bps=config.book_spread_bps,
                            levels=config.book_levels, depth_quote=config.book_depth_quote,
                            trades_per_step=config.trades_per_step, rng=random.Random(f"{seed}/{pair}"))
            for pair in config.trading_pairs
        }
        self._orders: dict[str, Order] = {}           # every order ever placed, by client id
        self._resting: dict[str, list[Order]] = {pair: [] for pair in self.markets}
        self._order_listeners: list[OrderListener] = []
        self._market_listeners: list[MarketListener] = []
        self._fill_seq = 0

    # ---- listeners ----------------------------------------------------------------------------

    def add_order_listener(self, listener: OrderListener) -> None:
        self._order_listeners.append(listener)

    def add_market_listener(self, listener: MarketListener) -> None:
        self._market_listeners.append(listener)

    def _emit(self, kind: UpdateKind, order: Order, fill: Fill | None = None, reason: str | None = None) -> None:
        update = OrderUpdate(kind, order.copy(), self._now(), fill, reason)
        for listener in self._order_listeners:
            listener(update)

    # ---- market data --------------------------------------------------------------------------

    @property
    def trading_pairs(self) -> list[str]:
        return list(self.markets)

    def mid_price(self, trading_pair: str) -> float:
        return self._market(trading_pair).mid_price

    def order_book(self, trading_pair: str) -> OrderBook:
        return self._market(trading_pair).book

    def _market(self, trading_pair: str) -> SimMarket:
        try:
            return self.markets[trading_pair]
        except KeyError:
            raise KeyError(f"{trading_pair!r} is not traded on this venue ({list(self.markets)})") from None

    def step(self) -> None:
        """Advance every pair one step: new mid, new book, public trades, resting orders matched."""
        now = self._now()
        for pair, market in self.markets.items():
            trades = market.step(now)
            resting = self._resting[pair]
            for order, amount in market.match_resting(resting, trades):
                if order.status.is_done or amount <= 0:
                    continue
                self._fill(order, cast(float, order.price), amount, is_maker=True)   # resting: a limit order
            if resting:
                self._resting[pair] = [order for order in resting if not order.status.is_done]
            for listener in self._market_listeners:
                listener(market.book, trades)

    # ---- order API ----------------------------------------------------------------------------

    def place_limit(self, client_order_id: str, trading_pair: str, side: Side, amount: float,
                    price: float) -> Order:
        """Accept a limit order; the part that crosses the book fills at once as a taker."""
        order = self._new_order(client_order_id, trading_pair, side, OrderType.LIMIT, amount, price)
        if order.status is OrderStatus.REJECTED:
            return order.copy()
        market = self.markets[trading_pair]
        if market.crosses(side, price):
            for level_price, size in market.sweep(side, amount, limit=price):
                self._fill(order, level_price, size, is_maker=False)
        if not order.status.is_done:
            self._resting[trading_pair].append(order)
        return order.copy()

    def place_market(self, client_order_id: str, trading_pair: str, side: Side, amount: float) -> Order:
        """Fill against the book at once; whatever the book cannot fill is cancelled."""
        order = self._new_order(client_order_id, trading_pair, side, OrderType.MARKET, amount, None)
        if order.status is OrderStatus.REJECTED:
            return order.copy()
        for level_price, size in self.markets[trading_pair].sweep(side, amount):
            self._fill(order, level_price, size, is_maker=False)
        if not order.status.is_done:
            order.status = OrderStatus.CANCELLED
            order.updated_at = self._now()
            self._emit(UpdateKind.CANCELLED, order, reason="not enough liquidity in the book")
        return order.copy()

    def cancel(self, client_order_id: str) -> bool:
        """Cancel an open order; False when it is unknown or already done."""
        order = self._orders.get(client_order_id)
        if order is None or order.status.is_done:
            return False
        order.status = OrderStatus.CANCELLED
        order.updated_at = self._now()
        pair = order.trading_pair
        self._resting[pair] = [other for other in self._resting[pair] if other is not order]
        self._emit(UpdateKind.CANCELLED, order)
        return True

    def get_order(self, client_order_id: str) -> Order | None:
        order = self._orders.get(client_order_id)
        return order.copy() if order is not None else None

    def symbol_rules(self, trading_pair: str) -> SymbolRules | None:
        """None: the in-process engine (virtual time) takes any price and quantity; the network venue publishes
        and enforces its filters (sim/api.py)."""
        return None

    def open_orders(self, trading_pair: str | None = None) -> list[Order]:
        pairs = [trading_pair] if trading_pair is not None else list(self._resting)
        return [order.copy() for pair in pairs for order in self._resting.get(pair, ())]

    def estimate_taker(self, trading_pair: str, side: Side, amount: float,
                       limit: float | None = None) -> tuple[float, float]:
        """(fillable amount, quote value) a taker order would get from the current book."""
        slices = self._market(trading_pair).sweep(side, amount, limit=limit)
        return sum(size for _p, size in slices), sum(p * size for p, size in slices)

    # ---- internals ----------------------------------------------------------------------------

    def _new_order(self, client_order_id: str, trading_pair: str, side: Side, order_type: OrderType,
                   amount: float, price: float | None) -> Order:
        now = self._now()
        limit = None if price is None else float(price)
        order = Order(client_order_id, trading_pair, Side(side), order_type, float(amount), limit, now, updated_at=now)
        problem = None
        if client_order_id in self._orders:
            problem = f"duplicate client order id {client_order_id!r}"
        elif trading_pair not in self.markets:
            problem = f"{trading_pair!r} is not traded on this venue"
        elif not (math.isfinite(order.amount) and order.amount > 0):
            problem = f"amount must be a positive number, got {amount!r}"
        elif limit is not None and not (math.isfinite(limit) and limit > 0):
            problem = f"price must be a positive number, got {price!r}"
        if problem is not None:
            order.status = OrderStatus.REJECTED
            self._emit(UpdateKind.REJECTED, order, reason=problem)
            return order
        self._orders[client_order_id] = order
        self._emit(UpdateKind.CREATED, order)
        return order

    def _fill(self, order: Order, price: float, amount: float, *, is_maker: bool) -> None:
        amount = min(amount, order.remaining)
        if amount <= 0:
            return
        now = self._now()
        fee = price * amount * self.fee_rate
        done = order.record_fill(price, amount, fee, now)
        self._fill_seq += 1
        fill = Fill(order.client_order_id, order.trading_pair, order.side, order.order_type, price, amount,
                    fee, self.fee_rate, now, is_maker, f"sim-f{self._fill_seq}")
        self._emit(UpdateKind.FILLED, order, fill)
        if done:
            self._emit(UpdateKind.COMPLETED, order)
