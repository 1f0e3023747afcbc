"""What the order manager queues and sends: one venue request (place or cancel) of one strategy.

Requests are built here and checked at the call: a malformed order (amount <= 0, a limit price
<= 0, a side that is neither BUY nor SELL, a non-finite number) raises `InvalidOrder` and is
never queued. Method names, parameter names and weights are those of Binance's spot WebSocket
API (`order.place` and `order.cancel` cost a request weight of 1 each; a placement also counts
as one order against the ORDERS limits, a cancel does not).

Client order ids are `<strategy id>-<sequence>`, so every answer and every execution report can
be attributed to its strategy by the prefix alone (`owner_of`).
"""
from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from hive_core.market.types import OrderType, Side
from hive_core.market.wire import fmt, symbol_of

PLACE = "place"
CANCEL = "cancel"
PLACE_METHOD = "order.place"
CANCEL_METHOD = "order.cancel"
PLACE_WEIGHT = 1
CANCEL_WEIGHT = 1


class InvalidOrder(ValueError):
    """An order that cannot be sent as given; raised at the call, nothing is queued."""


def owner_of(client_order_id: str) -> str:
    """The strategy id a client order id belongs to ('mm-1-000042' -> 'mm-1')."""
    return client_order_id.rpartition("-")[0]


class OrderRequest:
    """One request on its way to the venue. The manager fills in the bookkeeping fields."""

    __slots__ = ("kind", "method", "params", "client_order_id", "trading_pair", "weight", "orders", "on_reply",
                 "strategy_id", "submitted_at", "submitted_ns", "attempts", "withdrawn",
                 "weight_mark", "orders_mark")

    def __init__(self, kind: str, method: str, params: dict[str, Any], client_order_id: str, trading_pair: str,
                 weight: int, orders: int, on_reply: Callable[[OrderRequest, Any], None] | None = None) -> None:
        if kind not in (PLACE, CANCEL):
            raise InvalidOrder(f"request kind must be {PLACE!r} or {CANCEL!r}, got {kind!r}")
        if not (isinstance(weight, int) and weight >= 0 and isinstance(orders, int) and orders >= 0):
            raise InvalidOrder(f"weight and orders must be integers >= 0, got {weight!r}, {orders!r}")
        self.kind = kind
        self.method = method
        self.params = params
        self.client_order_id = client_order_id
        self.trading_pair = trading_pair
        self.weight = weight
        self.orders = orders
        self.on_reply = on_reply
        self.strategy_id = ""
        self.submitted_at = 0.0
        self.submitted_ns = 0
        self.attempts = 0
        self.withdrawn = False
        self.weight_mark = 0
        self.orders_mark = 0

    def __repr__(self) -> str:
        return f"OrderRequest({self.kind} {self.client_order_id} {self.method} w={self.weight} o={self.orders})"


def side_of(side: Side | str) -> Side:
    try:
        return Side(side.upper() if isinstance(side, str) else side)
    except (ValueError, AttributeError):
        raise InvalidOrder(f"side must be BUY or SELL, got {side!r}") from None


def _positive(name: str, value: Any) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise InvalidOrder(f"{name} must be a number, got {value!r}") from None
    if not (math.isfinite(number) and number > 0):
        raise InvalidOrder(f"{name} must be a positive finite number, got {value!r}")
    return number


def _client_id(client_order_id: str) -> str:
    if not isinstance(client_order_id, str) or not owner_of(client_order_id):
        raise InvalidOrder(f"client order id must look like '<strategy id>-<sequence>', got {client_order_id!r}")
    return client_order_id


def place_limit(client_order_id: str, trading_pair: str, side: Side | str, amount: float, price: float,
                on_reply: Callable | None = None) -> OrderRequest:
    """A GTC limit order (`order.place`, weight 1, one order)."""
    side = side_of(side)
    amount = _positive("amount", amount)
    price = _positive("price", price)
    params = {"symbol": symbol_of(trading_pair), "side": side.value, "type": OrderType.LIMIT.value,
              "timeInForce": "GTC", "price": fmt(price), "quantity": fmt(amount),
              "newClientOrderId": _client_id(client_order_id)}
    return OrderRequest(PLACE, PLACE_METHOD, params, client_order_id, trading_pair, PLACE_WEIGHT, 1, on_reply)


def place_market(client_order_id: str, trading_pair: str, side: Side | str, amount: float,
                 on_reply: Callable | None = None) -> OrderRequest:
    """A market order for `amount` of the base asset (`order.place`, weight 1, one order)."""
    side = side_of(side)
    amount = _positive("amount", amount)
    params = {"symbol": symbol_of(trading_pair), "side": side.value, "type": OrderType.MARKET.value,
              "quantity": fmt(amount), "newClientOrderId": _client_id(client_order_id)}
    return OrderRequest(PLACE, PLACE_METHOD, params, client_order_id, trading_pair, PLACE_WEIGHT, 1, on_reply)


def cancel(client_order_id: str, trading_pair: str, on_reply: Callable | None = None) -> OrderRequest:
    """Cancel by client order id (`order.cancel`, weight 1, not an order)."""
    params = {"symbol": symbol_of(trading_pair), "origClientOrderId": _client_id(client_order_id)}
    return OrderRequest(CANCEL, CANCEL_METHOD, params, client_order_id, trading_pair, CANCEL_WEIGHT, 0, on_reply)
