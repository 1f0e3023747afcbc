"""`PaperVenue`: paper trading on a live venue: its market data, and orders matched here (`PaperMatcher`).

It is the instance's `Venue` (hive_core/market/venue.py): the market data and the pairs' order rules are the live
client's (so the live venue's tick, lot and notional rules hold for paper orders too), the orders and their updates
are the matcher's. It is also the order manager's `OrderTransport` (hive_core/orders/transport.py): like
`InProcessTransport` it answers Binance WS API requests inside `send` (`order.place`, `order.cancel`,
`order.status`), with status 200 and a result, or 400 and Binance's error code. No order ever leaves the process.

`drain` hands the books and trades received since the last drain to the matcher first, then to the callback, so
that strategies see a book after the paper fills it caused.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol, cast

from hive_core.market.symbol_rules import SymbolRules
from hive_core.market.types import (
    BINANCE_STATUS,
    Fill,
    Order,
    OrderBook,
    OrderType,
    Side,
    Trade,
    split_pair,
)
from hive_core.market.venue import MarketListener, OrderListener
from hive_core.market.wire import fmt, symbol_of
from hive_core.orders.transport import ReplyCallback
from hive_core.paper.matcher import ORDER_KINDS, OrderKind, PaperMatcher


class MarketData(Protocol):
    """What the paper venue reads from the live venue's client (`VenueClient` has it all)."""

    @property
    def trading_pairs(self) -> list[str]: ...

    def mid_price(self, trading_pair: str) -> float: ...

    def order_book(self, trading_pair: str) -> OrderBook: ...

    def estimate_taker(self, trading_pair: str, side: Side, amount: float,
                       limit: float | None = None) -> tuple[float, float]: ...

    def symbol_rules(self, trading_pair: str) -> SymbolRules | None: ...

    def drain(self, callback: MarketListener) -> int: ...


class PaperVenue:
    """See the module docstring. `fee_rate` is the taker rate (what the order handles reserve for)."""

    def __init__(self, client: MarketData, *, maker_fee_rate: float, taker_fee_rate: float,
                 now: Callable[[], float]) -> None:
        self.client = client
        self.fee_rate = taker_fee_rate
        self.matcher = PaperMatcher(maker_fee_rate=maker_fee_rate, taker_fee_rate=taker_fee_rate, now=now)
        self._pairs = {symbol_of(pair): pair for pair in client.trading_pairs}

    @property
    def trading_pairs(self) -> list[str]:
        return list(self._pairs.values())

    # ---- market data: the live client's -------------------------------------------------------

    def mid_price(self, trading_pair: str) -> float:
        return self.client.mid_price(trading_pair)

    def order_book(self, trading_pair: str) -> OrderBook:
        return self.client.order_book(trading_pair)

    def estimate_taker(self, trading_pair: str, side: Side, amount: float,
                       limit: float | None = None) -> tuple[float, float]:
        return self.client.estimate_taker(trading_pair, side, amount, limit)

    def symbol_rules(self, trading_pair: str) -> SymbolRules | None:
        return self.client.symbol_rules(trading_pair)

    def drain(self, callback: MarketListener) -> int:
        """callback(book, trades) for every pair that changed since the last drain, once the matcher had them."""
        def matched_first(book: OrderBook, trades: list[Trade]) -> None:
            self.matcher.on_market(book, trades)
            callback(book, trades)
        return self.client.drain(matched_first)

    # ---- orders: the matcher's ----------------------------------------------------------------

    def add_order_listener(self, listener: OrderListener) -> None:
        self.matcher.add_order_listener(listener)

    def get_order(self, client_order_id: str) -> Order | None:
        return self.matcher.get_order(client_order_id)

    def open_orders(self, trading_pair: str | None = None) -> list[Order]:
        return self.matcher.open_orders(trading_pair)

    def send(self, method: str, params: Mapping[str, Any], on_reply: ReplyCallback) -> None:
        """OrderTransport: answer the request now."""
        on_reply(self._answer(method, params))

    def _answer(self, method: str, params: Mapping[str, Any]) -> dict:
        pair = self._pairs.get(str(params.get("symbol", "")))
        if pair is None:
            return _error(-1121, "Invalid symbol.")
        if method == "order.place":
            return self._place(pair, params)
        if method not in ("order.cancel", "order.status"):
            return _error(-1100, f"Unknown method '{method}'.")
        client_id = str(params.get("origClientOrderId", ""))
        order = self.matcher.get_order(client_id)
        if order is None or order.trading_pair != pair:
            return _error(-2013, "Order does not exist.") if method == "order.status" else _unknown()
        if method == "order.status":
            return _ok(_fields(order))
        if not self.matcher.cancel(client_id):
            return _unknown()                                   # done already
        return _ok({**_fields(self.matcher.get_order(client_id) or order), "origClientOrderId": client_id})

    def _place(self, pair: str, params: Mapping[str, Any]) -> dict:
        kind = str(params.get("type", "")).upper()
        if kind not in ORDER_KINDS:
            return _error(-1116, "Invalid orderType.")
        if kind == "LIMIT" and str(params.get("timeInForce", "")).upper() != "GTC":
            return _error(-1115, "Invalid timeInForce.")     # paper limit orders are good till cancelled only
        side = str(params.get("side", "")).upper()
        if side not in ("BUY", "SELL"):
            return _error(-1100, f"Illegal value for parameter 'side': {side}.")
        quantity = _number(params.get("quantity"))
        price = None if kind == "MARKET" else _number(params.get("price"))
        client_id = str(params.get("newClientOrderId") or "")
        if quantity is None:
            return _missing("quantity")
        if kind != "MARKET" and price is None:
            return _missing("price")
        if not client_id:
            return _missing("newClientOrderId")     # the order manager always names its orders
        rules = self.client.symbol_rules(pair)
        breach = rules.problem(price, quantity) if rules is not None else None
        if breach is not None:
            return _error(-1013, f"Filter failure: {breach.filter}")
        if self.matcher.get_order(client_id) is not None:
            return _error(-2010, "Duplicate order sent.")
        try:
            book = self.client.order_book(pair)
        except LookupError as problem:           # no book of the pair yet: nothing to match against
            return _error(-2010, str(problem))
        placed = self.matcher.place(client_id, Side(side), cast(OrderKind, kind), quantity, price, book=book)
        if not placed.accepted:
            return _error(-2010, placed.reason or "Order rejected.")
        quote = split_pair(pair)[1]
        return _ok({**_fields(placed.order), "fills": [_fill_fields(fill, quote) for fill in placed.fills]})


def _number(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _ok(result: dict) -> dict:
    return {"status": 200, "result": result}


def _error(code: int, msg: str) -> dict:
    return {"status": 400, "error": {"code": code, "msg": msg}}


def _unknown() -> dict:
    return _error(-2011, "Unknown order sent.")


def _missing(name: str) -> dict:
    return _error(-1102, f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed.")


def _fields(order: Order) -> dict:
    """An order as Binance's order answers describe it (a MARKET order's unfilled rest: EXPIRED)."""
    status = BINANCE_STATUS[order.status]
    if status == "CANCELED" and order.order_type is OrderType.MARKET:
        status = "EXPIRED"
    return {"symbol": symbol_of(order.trading_pair), "clientOrderId": order.client_order_id,
            "price": fmt(order.price or 0.0), "origQty": fmt(order.amount), "executedQty": fmt(order.filled_amount),
            "cummulativeQuoteQty": fmt(order.filled_quote), "status": status, "type": order.order_type.value,
            "side": order.side.value, "time": int(order.created_at * 1000),
            "updateTime": int(order.updated_at * 1000), "isWorking": not order.status.is_done}


def _fill_fields(fill: Fill, quote: str) -> dict:
    return {"price": fmt(fill.price), "qty": fmt(fill.amount), "commission": fmt(fill.fee_quote),
            "commissionAsset": quote, "tradeId": fill.trade_id}
