"""One simulated trading pair: a mid price on a seeded random walk, a synthetic book around it,
a tape of public trades, and the matching of resting (strategy) limit orders against both.

Strategy orders do not add liquidity to the visible book and do not trade with each other: they
fill against the simulated market. A resting buy fills in full at its own price when the best
ask falls to it, and partly when a sell-aggressor public trade prints while it is at or above the
best bid (it would be first in the queue); sells mirror that.
"""
from __future__ import annotations

import math
import random
from collections.abc import Iterable
from typing import cast

from hive_core.market.types import Order, OrderBook, Side, Trade


def tick_size_for(price: float) -> float:
    """A price step of about 0.1-1 bp: 0.001 at 100, 1.0 at 65,000."""
    return 10.0 ** (math.floor(math.log10(price)) - 4) if price > 0 else 1e-8


class SimMarket:
    """The market of one pair; `step()` advances it by one simulated interval."""

    def __init__(self, trading_pair: str, mid_price: float, *, volatility: float, spread_bps: float,
                 levels: int, depth_quote: float, trades_per_step: float, rng: random.Random) -> None:
        self.trading_pair = trading_pair
        self.mid_price = mid_price
        self.volatility = volatility
        self.spread_bps = spread_bps
        self.levels = levels
        self.depth_quote = depth_quote
        self.trades_per_step = trades_per_step
        self._rng = rng
        self._sequence = 0
        self._trade_seq = 0
        self.tick_size = tick_size_for(mid_price)  # fixed at the start, as a venue's PRICE_FILTER is
        self.book = self._build_book(0.0)

    # ---- market data --------------------------------------------------------------------------

    def step(self, now: float) -> list[Trade]:
        """Move the mid one random-walk step, rebuild the book, print some public trades."""
        self.mid_price *= math.exp(self.volatility * self._rng.gauss(0.0, 1.0))
        self.book = self._build_book(now)
        return self._public_trades(now)

    def _build_book(self, now: float) -> OrderBook:
        mid, tick = self.mid_price, self.tick_size
        half = mid * self.spread_bps / 2e4
        step = max(mid * 1e-4, tick)
        rng = self._rng
        unit = self.depth_quote / mid
        bids = []
        asks = []
        for level in range(self.levels):
            bid = math.floor((mid - half - level * step) / tick) * tick
            ask = math.ceil((mid + half + level * step) / tick) * tick
            bids.append((round(bid, 10), unit * rng.uniform(0.5, 1.5) * (1 + 0.2 * level)))
            asks.append((round(ask, 10), unit * rng.uniform(0.5, 1.5) * (1 + 0.2 * level)))
        self._sequence += 1
        return OrderBook(self.trading_pair, now, tuple(bids), tuple(asks), mid, self._sequence)

    def _public_trades(self, now: float) -> list[Trade]:
        rng = self._rng
        count = _poisson(rng, self.trades_per_step)
        trades = []
        for _ in range(count):
            side = Side.BUY if rng.random() < 0.5 else Side.SELL
            price = self.book.best_ask if side is Side.BUY else self.book.best_bid
            amount = self.depth_quote / self.mid_price * rng.uniform(0.05, 0.5)
            self._trade_seq += 1
            trades.append(Trade(self.trading_pair, price, amount, side, now,
                                f"{self.trading_pair}-t{self._trade_seq}"))
        return trades

    # ---- taking liquidity ---------------------------------------------------------------------

    def sweep(self, side: Side, amount: float, limit: float | None = None) -> list[tuple[float, float]]:
        """(price, size) slices a taker order of `amount` gets from the book, best first.

        Stops at `limit` (a marketable limit order) or when the book runs out.
        """
        levels: Iterable[tuple[float, float]] = self.book.asks if side is Side.BUY else self.book.bids
        remaining = amount
        slices = []
        for price, size in levels:
            if remaining <= 0:
                break
            if limit is not None and (price > limit if side is Side.BUY else price < limit):
                break
            take = min(size, remaining)
            slices.append((price, take))
            remaining -= take
        return slices

    def crosses(self, side: Side, price: float) -> bool:
        """Would a limit order at `price` take liquidity right now?"""
        return price >= self.book.best_ask if side is Side.BUY else price <= self.book.best_bid

    # ---- resting orders -----------------------------------------------------------------------

    def match_resting(self, orders: list[Order], trades: list[Trade]) -> list[tuple[Order, float]]:
        """(order, amount) fills for resting limit orders, at the orders' own prices."""
        fills: list[tuple[Order, float]] = []
        if not orders:
            return fills
        book = self.book
        left = {id(order): order.remaining for order in orders}
        for order in orders:
            if order.price is None:
                continue
            if (order.side is Side.BUY and book.best_ask <= order.price) or \
               (order.side is Side.SELL and book.best_bid >= order.price):
                fills.append((order, left[id(order)]))
                left[id(order)] = 0.0
        for trade in trades:
            # A sell aggressor hits bids at or above the best bid, best price first; and vice versa.
            if trade.side is Side.SELL:
                queue = sorted((o for o in orders if o.side is Side.BUY and o.price is not None
                                and o.price >= book.best_bid and left[id(o)] > 0),
                               key=lambda o: -cast(float, o.price))
            else:
                queue = sorted((o for o in orders if o.side is Side.SELL and o.price is not None
                                and o.price <= book.best_ask and left[id(o)] > 0),
                               key=lambda o: cast(float, o.price))
            available = trade.amount
            for order in queue:
                if available <= 0:
                    break
                take = min(left[id(order)], available)
                fills.append((order, take))
                left[id(order)] -= take
                available -= take
        return fills


def _poisson(rng: random.Random, mean: float) -> int:
    if mean <= 0:
        return 0
    limit = math.exp(-mean)
    count = 0
    product = rng.random()
    while product > limit:
        count += 1
        product *= rng.random()
    return count
