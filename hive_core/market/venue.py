"""`Venue`: what the runtime, the order handles and the strategies' market views read from a venue.

Two implementations satisfy it: in virtual time the in-process engine (`hive_core.sim.exchange.SimExchange`),
in realtime the network venue's client (`hive_core.market.venue_client.VenueClient`). How a venue is
paced is not part of it: the runtime steps the engine, or drains the client's received books, from
its venue slot. Orders never go through a `Venue`: the order manager's transport sends them.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from hive_core.market.symbol_rules import SymbolRules
from hive_core.market.types import Order, OrderBook, OrderUpdate, Side, Trade

OrderListener = Callable[[OrderUpdate], None]
MarketListener = Callable[[OrderBook, list[Trade]], None]


class Venue(Protocol):
    """Market data of the venue's pairs, its fee rate, and the orders it reports on."""

    fee_rate: float

    def mid_price(self, trading_pair: str) -> float:
        """The mid of the pair's book; LookupError while a network venue has no book yet."""
        ...

    def order_book(self, trading_pair: str) -> OrderBook: ...

    def estimate_taker(self, trading_pair: str, side: Side, amount: float,
                       limit: float | None = None) -> tuple[float, float]:
        """(fillable amount, quote value) a taker order would get from the current book."""
        ...

    def add_order_listener(self, listener: OrderListener) -> None:
        """Call `listener` with every update of an order placed on this venue."""
        ...

    def get_order(self, client_order_id: str) -> Order | None:
        """The order as the venue last reported it; None when unknown."""
        ...

    def symbol_rules(self, trading_pair: str) -> SymbolRules | None:
        """The pair's order rules as the venue publishes them (tick, lot step, notional); None when it publishes
        none (the in-process engine takes any price and quantity)."""
        ...
