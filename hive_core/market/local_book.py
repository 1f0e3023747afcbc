"""A local copy of one symbol's order book, kept from a depth snapshot plus diff-depth updates.

Follows Binance's documented procedure for a local book
("How to manage a local order book correctly", spot WebSocket streams):

1. Diffs that arrive before the book is synced are buffered (`apply_diff` returns BUFFERED).
2. A snapshot (`lastUpdateId`, bids, asks) is loaded with `apply_snapshot`; buffered diffs with
   `u <= lastUpdateId` are dropped, the first remaining one must straddle it
   (`U <= lastUpdateId + 1 <= u`), otherwise the snapshot is too old (or too new) and
   `apply_snapshot` returns GAP: fetch another one.
3. Once synced, a diff with `u <= last_update_id` is stale and ignored (STALE); a diff whose `U` is
   not `last_update_id + 1` means updates were lost: the book drops to unsynced and GAP is returned
   so the owner fetches a new snapshot (the diff itself is kept in the buffer).
4. Each level in a diff sets the absolute quantity at that price; quantity 0 removes the level.

Prices and quantities arrive as decimal strings (as on Binance) or numbers, and are kept as
floats. Each side is a dict price -> qty plus a sorted list of prices, so best bid/ask are O(1)
and a level change is a bisect. This is a hot path written in Cython's pure-Python mode:
compiled by setup.py where a compiler exists, the same file runs as Python where not.
"""
from __future__ import annotations

from bisect import bisect_left, insort
from typing import Any

import cython

COMPILED: bool = cython.compiled

APPLIED: int = 0
STALE: int = 1
BUFFERED: int = 2
GAP: int = 3
MAX_BUFFERED = 10_000


@cython.cclass
class LocalBook:
    """One symbol's book; see the module docstring for the procedure."""

    symbol = cython.declare(str, visibility="readonly")
    last_update_id = cython.declare(cython.longlong, visibility="readonly")
    synced = cython.declare(cython.bint, visibility="readonly")
    event_time = cython.declare(cython.double, visibility="public")

    _bids: dict
    _asks: dict
    _bid_prices: list      # ascending; best bid is the last
    _ask_prices: list      # ascending; best ask is the first
    _buffer: list

    def __init__(self, symbol: str) -> None:
        self.symbol = symbol
        self._bids = {}
        self._asks = {}
        self._bid_prices = []
        self._ask_prices = []
        self._buffer = []
        self.last_update_id = -1
        self.synced = False
        self.event_time = 0.0

    # ---- loading --------------------------------------------------------------------------------

    def reset(self) -> None:
        """Forget everything (e.g. after a reconnect): unsynced, empty, nothing buffered."""
        self._clear()
        self._buffer = []
        self.synced = False
        self.last_update_id = -1

    def _clear(self) -> None:
        self._bids = {}
        self._asks = {}
        self._bid_prices = []
        self._ask_prices = []

    def buffered(self) -> int:
        return len(self._buffer)

    def first_buffered_id(self) -> int:
        """`U` of the oldest buffered diff, -1 when none is buffered."""
        return self._buffer[0][0] if self._buffer else -1

    def apply_snapshot(self, last_update_id: int, bids: list, asks: list) -> int:
        """Load a snapshot and replay the buffered diffs; APPLIED, or GAP when it does not line up."""
        self._clear()
        self.last_update_id = last_update_id
        for level in bids:
            self._set(True, float(level[0]), float(level[1]))
        for level in asks:
            self._set(False, float(level[0]), float(level[1]))
        pending = [event for event in self._buffer if event[1] > last_update_id]
        self._buffer = []
        if pending:
            first_u: cython.longlong = pending[0][0]
            if first_u > last_update_id + 1:
                # The snapshot is older than the first diff we still have: try another snapshot.
                self._buffer = pending
                self.synced = False
                return GAP
        self.synced = True
        for event in pending:
            result = self.apply_diff(event[0], event[1], event[2], event[3])
            if result == GAP:
                return GAP
        return APPLIED

    # ---- diffs ----------------------------------------------------------------------------------

    def apply_diff(self, first_id: cython.longlong, last_id: cython.longlong, bids: list, asks: list) -> int:
        """One depthUpdate (`U`, `u`, `b`, `a`); APPLIED, STALE, BUFFERED or GAP."""
        if not self.synced:
            if len(self._buffer) >= MAX_BUFFERED:
                del self._buffer[0]
            self._buffer.append((first_id, last_id, bids, asks))
            return BUFFERED
        if last_id <= self.last_update_id:
            return STALE
        if first_id > self.last_update_id + 1:
            # Lost updates: the book can no longer be trusted until a new snapshot arrives.
            self.synced = False
            self._buffer = [(first_id, last_id, bids, asks)]
            return GAP
        level: Any
        for level in bids:
            self._set(True, float(level[0]), float(level[1]))
        for level in asks:
            self._set(False, float(level[0]), float(level[1]))
        self.last_update_id = last_id
        return APPLIED

    @cython.cfunc
    @cython.locals(price=cython.double, qty=cython.double, index=cython.Py_ssize_t)
    def _set(self, is_bid: cython.bint, price: cython.double, qty: cython.double) -> cython.void:
        levels: dict = self._bids if is_bid else self._asks
        prices: list = self._bid_prices if is_bid else self._ask_prices
        if qty <= 0.0:
            if price in levels:
                del levels[price]
                index = bisect_left(prices, price)
                if index < len(prices) and prices[index] == price:
                    del prices[index]
            return
        if price not in levels:
            insort(prices, price)
        levels[price] = qty

    # ---- reading --------------------------------------------------------------------------------

    def best_bid(self) -> float:
        """Highest bid price; nan when the side is empty."""
        prices: list = self._bid_prices
        return prices[len(prices) - 1] if prices else float("nan")

    def best_ask(self) -> float:
        prices: list = self._ask_prices
        return prices[0] if prices else float("nan")

    def mid(self) -> float:
        """(best bid + best ask) / 2; nan when a side is empty."""
        if not self._bid_prices or not self._ask_prices:
            return float("nan")
        bid: cython.double = self._bid_prices[len(self._bid_prices) - 1]
        ask: cython.double = self._ask_prices[0]
        return (bid + ask) / 2.0

    @cython.locals(count=cython.Py_ssize_t, i=cython.Py_ssize_t, n=cython.Py_ssize_t)
    def bids(self, depth: int = 20) -> list:
        """[(price, qty), ...] best (highest) first, at most `depth` levels."""
        prices: list = self._bid_prices
        levels: dict = self._bids
        n = len(prices)
        count = min(depth, n)
        out: list = []
        for i in range(count):
            price = prices[n - 1 - i]
            out.append((price, levels[price]))
        return out

    @cython.locals(count=cython.Py_ssize_t, i=cython.Py_ssize_t)
    def asks(self, depth: int = 20) -> list:
        """[(price, qty), ...] best (lowest) first, at most `depth` levels."""
        prices: list = self._ask_prices
        levels: dict = self._asks
        count = min(depth, len(prices))
        out: list = []
        for i in range(count):
            price = prices[i]
            out.append((price, levels[price]))
        return out

    def depth(self) -> tuple:
        """(number of bid levels, number of ask levels)."""
        return len(self._bid_prices), len(self._ask_prices)

    def __repr__(self) -> str:
        return (f"LocalBook({self.symbol}, synced={self.synced}, last_update_id={self.last_update_id}, "
                f"bid={self.best_bid()}, ask={self.best_ask()})")
