"""The simulated venue's WebSocket API methods, in Binance's WS API format (`/ws-api/v3`).

Request `{"id", "method", "params"}`; answer `{"id", "status": 200, "result", "rateLimits"}` or
`{"id", "status": 4xx, "error": {"code", "msg"[, "data"]}, "rateLimits"}`. Methods and weights
(as Binance publishes them): ping 1, time 1, exchangeInfo 20, depth 5/25/50/250 by limit
(<=100/500/1000/5000), order.place 1, order.cancel 1, order.status 4, openOrders.status 6 with a
symbol and 80 without, myTrades 5 with an orderId and 20 without, userDataStream.subscribe 2,
userDataStream.unsubscribe 2. `myTrades` lists the account's trades with the commission charged for each.

Its exchange info publishes each symbol's filters (PRICE_FILTER on the tick its market started with, LOT_SIZE
and NOTIONAL from the config) and `order.place` enforces them as Binance does: -1013 "Filter failure: <filter>".

Order execution is the SimExchange's: `order.place` returns the RESULT/FULL answer (with the
fills the order got at once), and every order change becomes an `executionReport` pushed to the
connections that subscribed to the user data stream (`execution_report()` builds it).
"""
from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Callable
from typing import Any

from hive_core.market.signing import LOGON, SIGNED_METHODS
from hive_core.market.symbol_rules import SymbolRules
from hive_core.market.types import (
    BINANCE_STATUS,
    Order,
    OrderStatus,
    OrderType,
    OrderUpdate,
    Side,
    UpdateKind,
    split_pair,
)
from hive_core.market.wire import fmt, symbol_of
from hive_core.sim.auth import SimKeys
from hive_core.sim.exchange import SimExchange
from hive_core.sim.limits import VenueLimits

ORDER_METHODS = frozenset({"order.place"})

class ApiError(Exception):
    def __init__(self, status: int, code: int, msg: str) -> None:
        super().__init__(msg)
        self.status, self.code, self.msg = status, code, msg


def depth_weight(limit: int) -> int:
    return 5 if limit <= 100 else 25 if limit <= 500 else 50 if limit <= 1000 else 250


def weight_of(method: str, params: dict) -> int:
    if method == "depth":
        try:
            return depth_weight(int(params.get("limit", 100)))
        except (TypeError, ValueError):
            return 5
    if method == "openOrders.status":
        return 6 if params.get("symbol") else 80
    if method == "myTrades":
        return 5 if params.get("orderId") is not None else 20
    return {"exchangeInfo": 20, "order.status": 4, "userDataStream.subscribe": 2,
            "userDataStream.subscribe.signature": 2, "userDataStream.unsubscribe": 2}.get(method, 1)


class SimApi:
    """Method dispatch for the WS API; the server owns connections, this owns the semantics."""

    def __init__(self, exchange: SimExchange, limits: VenueLimits, *, now: Callable[[], float],
                 depth_snapshot: Callable[[str, int], dict], keys: SimKeys | None = None) -> None:
        """With `keys`, the SIGNED methods (hive_core.market.signing) need a request signed with one of them."""
        self.exchange = exchange
        self.keys = keys
        self.limits = limits
        self._now = now
        self._depth_snapshot = depth_snapshot
        self.symbols = {symbol_of(pair): pair for pair in exchange.trading_pairs}
        self._order_ids = itertools.count(1)
        self.order_ids: dict[str, int] = {}              # client order id -> numeric orderId
        self.time_in_force: dict[str, str] = {}
        self.expired: set[str] = set()                   # cancelled by the venue (market/IOC rest)
        self.requests: Counter[str] = Counter()          # method -> requests taken (past the rate limits)
        self._capture: list[OrderUpdate] | None = None
        self._trade_ids = itertools.count(1)
        self.trade_ids: dict[str, int] = {}              # fill trade id -> numeric
        self.account_trades: dict[str, list[dict]] = {}  # symbol -> the account's trades, oldest first (myTrades)
        exchange.add_order_listener(self._on_update)
        self.rules = {symbol: SymbolRules.of(self._symbol_info(symbol)) for symbol in self.symbols}  # its filters

    # ---- dispatch -----------------------------------------------------------------------------

    def handle(self, ip: str, request: Any, session: dict[str, Callable[[dict], Any]] | None = None,
               logged_on: str | None = None) -> dict:
        """One request object -> the response object (never raises).

        `session` adds the connection's own methods (userDataStream.subscribe/unsubscribe, session.logon/logout),
        which the server implements; they are rate-limited like the others. `logged_on`: the API key the
        connection logged on with (its SIGNED requests may then leave out `apiKey` and `signature`).
        """
        request_id = request.get("id") if isinstance(request, dict) else None
        if not isinstance(request, dict) or not isinstance(request.get("method"), str):
            return {"id": request_id, "status": 400,
                    "error": {"code": -1102, "msg": "Mandatory parameter 'method' was not sent, was empty/null, "
                              "or malformed."}, "rateLimits": self.limits.report(ip, False)}
        method = request["method"]
        params = request.get("params") or {}
        is_order = method in ORDER_METHODS
        if not isinstance(params, dict):
            params = {}
        verdict = self.limits.check(ip, weight_of(method, params), is_order)
        if verdict.status != 200:
            return {"id": request_id, "status": verdict.status,
                    "error": {"code": verdict.code, "msg": verdict.msg, "data": verdict.data},
                    "rateLimits": self.limits.report(ip, is_order)}
        self.requests[method] += 1
        try:
            if self.keys is not None and method in SIGNED_METHODS:
                refusal = self.keys.check(params, self.server_ms(), None if method == LOGON else logged_on)
                if refusal is not None:
                    raise ApiError(*refusal)
            if session is not None and method in session:
                result = session[method](params)
            else:
                handler = _METHODS.get(method)
                if handler is None:
                    raise ApiError(400, -1100, f"Unknown method '{method}'.")
                result = handler(self, params)
        except ApiError as problem:
            return {"id": request_id, "status": problem.status, "error": {"code": problem.code, "msg": problem.msg},
                    "rateLimits": self.limits.report(ip, is_order)}
        return {"id": request_id, "status": 200, "result": result, "rateLimits": self.limits.report(ip, is_order)}

    # ---- methods ------------------------------------------------------------------------------

    def ping(self, params: dict) -> dict:
        return {}

    def time(self, params: dict) -> dict:
        return {"serverTime": self.server_ms()}

    def exchange_info(self, params: dict) -> dict:
        return {"timezone": "UTC", "serverTime": self.server_ms(), "rateLimits": self.limits.published(),
                "exchangeFilters": [], "symbols": [self._symbol_info(symbol) for symbol in self.symbols]}

    def _symbol_info(self, symbol: str) -> dict:
        pair = self.symbols[symbol]
        base, quote = split_pair(pair)
        tick, config = self.exchange.markets[pair].tick_size, self.exchange.config
        return {
            "symbol": symbol, "status": "TRADING", "baseAsset": base, "quoteAsset": quote,
            "baseAssetPrecision": 8, "quoteAssetPrecision": 8, "quotePrecision": 8,
            "orderTypes": ["LIMIT", "MARKET"], "isSpotTradingAllowed": True, "permissions": ["SPOT"],
            "filters": [{"filterType": "PRICE_FILTER", "minPrice": fmt(tick), "maxPrice": "1000000000.00000000",
                         "tickSize": fmt(tick)},
                        {"filterType": "LOT_SIZE", "minQty": fmt(config.lot_step), "maxQty": "9000000000.00000000",
                         "stepSize": fmt(config.lot_step)},
                        {"filterType": "NOTIONAL", "minNotional": fmt(config.min_notional), "applyMinToMarket": False,
                         "maxNotional": "9000000000.00000000", "applyMaxToMarket": False, "avgPriceMins": 5}],
        }

    def depth(self, params: dict) -> dict:
        symbol = self._symbol(params)
        limit = _int(params.get("limit", 100))
        if not 1 <= limit <= 5000:
            raise ApiError(400, -1100, "Illegal characters found in parameter 'limit'; legal range is 1-5000.")
        return self._depth_snapshot(symbol, limit)

    def order_place(self, params: dict) -> dict:
        pair = self.symbols[self._symbol(params)]
        side = _required(params, "side").upper()
        order_type = _required(params, "type").upper()
        if side not in ("BUY", "SELL"):
            raise ApiError(400, -1100, f"Illegal value for parameter 'side': {side}.")
        if order_type not in ("LIMIT", "MARKET"):
            raise ApiError(400, -1116, "Invalid orderType.")
        quantity = _float(_required(params, "quantity"), "quantity")
        client_id = str(params.get("newClientOrderId") or f"sim-{next(self._order_ids)}")
        tif = str(params.get("timeInForce", "GTC")).upper() if order_type == "LIMIT" else "GTC"
        if order_type == "LIMIT" and "timeInForce" not in params:
            raise ApiError(400, -1102, "Mandatory parameter 'timeInForce' was not sent, was empty/null, or malformed.")
        if tif not in ("GTC", "IOC", "FOK"):
            raise ApiError(400, -1115, "Invalid timeInForce.")
        price = _float(_required(params, "price"), "price") if order_type == "LIMIT" else None
        breach = self.rules[self._symbol(params)].problem(price, quantity)
        if breach is not None:
            raise ApiError(400, -1013, f"Filter failure: {breach.filter}")
        if client_id in self.order_ids:
            raise ApiError(400, -2010, "Duplicate order sent.")
        self.order_ids[client_id] = next(self._order_ids)
        self.time_in_force[client_id] = tif
        if tif == "FOK":
            fillable, _quote = self.exchange.estimate_taker(pair, Side(side), quantity, limit=price)
            if fillable < quantity * (1 - 1e-12):
                self.time_in_force[client_id] = "FOK"
                order = self._expire_unplaced(client_id, pair, Side(side), quantity, price)
                return self.order_result(order, [])
        captured: list[OrderUpdate] = []
        self._capture = captured
        try:
            if price is not None:                          # a limit order
                order = self.exchange.place_limit(client_id, pair, Side(side), quantity, price)
                if tif != "GTC" and not order.status.is_done:
                    self.expired.add(client_id)
                    self.exchange.cancel(client_id)
                    order = self.exchange.get_order(client_id) or order
            else:
                order = self.exchange.place_market(client_id, pair, Side(side), quantity)
        finally:
            self._capture = None
        rejected = [update for update in captured if update.kind is UpdateKind.REJECTED]
        if rejected:
            raise ApiError(400, -2010, rejected[0].reason or "Order rejected.")
        fills = [update.fill for update in captured if update.kind is UpdateKind.FILLED and update.fill]
        return self.order_result(order, fills)

    def order_cancel(self, params: dict) -> dict:
        self._symbol(params)
        client_id = self._client_id(params)
        order = self.exchange.get_order(client_id) if client_id else None
        if client_id is None or order is None or order.status.is_done or not self.exchange.cancel(client_id):
            raise ApiError(400, -2011, "Unknown order sent.")
        order = self.exchange.get_order(client_id) or order
        result = self._order_fields(order)
        result.update({"origClientOrderId": client_id,
                       "clientOrderId": str(params.get("newClientOrderId") or f"cancel-{client_id}"),
                       "transactTime": self.server_ms()})
        return result

    def order_status(self, params: dict) -> dict:
        self._symbol(params)
        client_id = self._client_id(params)
        order = self.exchange.get_order(client_id) if client_id else None
        if order is None:
            raise ApiError(400, -2013, "Order does not exist.")
        return self.query_fields(order)

    def open_orders_status(self, params: dict) -> list:
        pair = self.symbols[self._symbol(params)] if params.get("symbol") else None
        return [self.query_fields(order) for order in self.exchange.open_orders(pair)]

    # ---- execution reports --------------------------------------------------------------------

    def my_trades(self, params: dict) -> list[dict]:
        """The account's trades of a symbol, oldest first: of one order (`orderId`), or the last `limit` (500 when
        absent, at most 1000)."""
        symbol = self._symbol(params)
        limit = _int(params.get("limit", 500))
        if not 1 <= limit <= 1000:
            raise ApiError(400, -1100, "Illegal characters found in parameter 'limit'; legal range is '1000'.")
        trades = self.account_trades.get(symbol, [])
        if params.get("orderId") is not None:
            wanted = _int(params["orderId"])
            trades = [trade for trade in trades if trade["orderId"] == wanted]
        return trades[-limit:]

    def _on_update(self, update: OrderUpdate) -> None:
        if self._capture is not None:
            self._capture.append(update)
        fill = update.fill
        if update.kind is UpdateKind.FILLED and fill is not None:
            order = update.order
            symbol = symbol_of(order.trading_pair)
            self.account_trades.setdefault(symbol, []).append({
                "symbol": symbol, "id": self._trade_id(fill.trade_id),
                "orderId": self.order_ids.get(order.client_order_id, -1), "orderListId": -1,
                "price": fmt(fill.price), "qty": fmt(fill.amount), "quoteQty": fmt(fill.price * fill.amount),
                "commission": fmt(fill.fee_quote), "commissionAsset": split_pair(order.trading_pair)[1],
                "time": int(fill.timestamp * 1000), "isBuyer": order.side is Side.BUY, "isMaker": fill.is_maker,
                "isBestMatch": True})
        if update.kind is UpdateKind.CANCELLED and update.order.order_type is OrderType.MARKET:
            self.expired.add(update.order.client_order_id)

    def execution_report(self, update: OrderUpdate) -> dict | None:
        """The Binance `executionReport` for one venue update; None for COMPLETED (the TRADE report says it)."""
        if update.kind is UpdateKind.COMPLETED:
            return None
        order = update.order
        client_id = order.client_order_id
        status = self._status(order)
        execution = {UpdateKind.CREATED: "NEW", UpdateKind.FILLED: "TRADE", UpdateKind.CANCELLED: "CANCELED",
                     UpdateKind.REJECTED: "REJECTED"}[update.kind]
        if status == "EXPIRED":
            execution = "EXPIRED"
        fill = update.fill
        ms = int(update.timestamp * 1000)
        trade_id = self._trade_id(fill.trade_id) if fill else -1
        return {
            "e": "executionReport", "E": ms, "s": symbol_of(order.trading_pair), "c": client_id,
            "S": order.side.value, "o": order.order_type.value, "f": self.time_in_force.get(client_id, "GTC"),
            "q": fmt(order.amount), "p": fmt(order.price or 0.0), "P": "0.00000000", "F": "0.00000000", "g": -1,
            "C": "", "x": execution, "X": status,
            "r": (update.reason or "NONE") if update.kind is UpdateKind.REJECTED else "NONE",
            "i": self.order_ids.get(client_id, -1),
            "l": fmt(fill.amount if fill else 0.0), "z": fmt(order.filled_amount),
            "L": fmt(fill.price if fill else 0.0), "n": fmt(fill.fee_quote if fill else 0.0),
            "N": split_pair(order.trading_pair)[1] if fill else None, "T": ms, "t": trade_id, "I": trade_id,
            "w": status in ("NEW", "PARTIALLY_FILLED") and order.order_type is OrderType.LIMIT,
            "m": bool(fill.is_maker) if fill else False, "M": False, "O": int(order.created_at * 1000),
            "Z": fmt(order.filled_quote), "Y": fmt(fill.price * fill.amount if fill else 0.0), "Q": "0.00000000",
        }

    # ---- formatting ---------------------------------------------------------------------------

    def _status(self, order: Order) -> str:
        if order.status is OrderStatus.CANCELLED and order.client_order_id in self.expired:
            return "EXPIRED"
        return BINANCE_STATUS[order.status]

    def _order_fields(self, order: Order) -> dict:
        return {"symbol": symbol_of(order.trading_pair), "orderId": self.order_ids.get(order.client_order_id, -1),
                "orderListId": -1, "clientOrderId": order.client_order_id, "price": fmt(order.price or 0.0),
                "origQty": fmt(order.amount), "executedQty": fmt(order.filled_amount),
                "cummulativeQuoteQty": fmt(order.filled_quote), "status": self._status(order),
                "timeInForce": self.time_in_force.get(order.client_order_id, "GTC"), "type": order.order_type.value,
                "side": order.side.value, "selfTradePreventionMode": "NONE"}

    def order_result(self, order: Order, fills: list) -> dict:
        result = self._order_fields(order)
        result.update({"transactTime": self.server_ms(), "workingTime": int(order.created_at * 1000),
                       "fills": [{"price": fmt(fill.price), "qty": fmt(fill.amount), "commission": fmt(fill.fee_quote),
                                  "commissionAsset": split_pair(order.trading_pair)[1],
                                  "tradeId": self._trade_id(fill.trade_id)} for fill in fills]})
        return result

    def query_fields(self, order: Order) -> dict:
        result = self._order_fields(order)
        result.update({"stopPrice": "0.00000000", "icebergQty": "0.00000000", "time": int(order.created_at * 1000),
                       "updateTime": int(order.updated_at * 1000), "isWorking": not order.status.is_done,
                       "origQuoteOrderQty": "0.00000000"})
        return result

    def _expire_unplaced(self, client_id: str, pair: str, side: Side, quantity: float, price: float | None) -> Order:
        now = self._now()
        self.expired.add(client_id)
        return Order(client_id, pair, side, OrderType.LIMIT, quantity, price, now, status=OrderStatus.CANCELLED,
                     updated_at=now)

    def _trade_id(self, trade_id: str) -> int:
        number = self.trade_ids.get(trade_id)
        if number is None:
            number = self.trade_ids[trade_id] = next(self._trade_ids)
        return number

    def _symbol(self, params: dict) -> str:
        symbol = str(_required(params, "symbol")).upper()
        if symbol not in self.symbols:
            raise ApiError(400, -1121, "Invalid symbol.")
        return symbol

    def _client_id(self, params: dict) -> str | None:
        client_id = params.get("origClientOrderId")
        if client_id is None and "orderId" in params:
            wanted = _int(params["orderId"])
            client_id = next((cid for cid, oid in self.order_ids.items() if oid == wanted), None)
        if client_id is None and "orderId" not in params:
            raise ApiError(400, -1102,
                           "Param 'origClientOrderId' or 'orderId' must be sent, but both were empty/null!")
        return client_id

    def server_ms(self) -> int:
        """The venue's clock, in ms (its serverTime)."""
        return int(self._now() * 1000)


def _required(params: dict, name: str) -> Any:
    value = params.get(name)
    if value is None or value == "":
        raise ApiError(400, -1102, f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed.")
    return value


def _float(value: Any, name: str) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ApiError(400, -1100, f"Illegal characters found in parameter '{name}'; legal range is "
                       f"'^([0-9]{{1,20}})(\\.[0-9]{{1,20}})?$'.") from None


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ApiError(400, -1100, "Illegal characters found in parameter 'limit'.") from None


_METHODS: dict[str, Callable[[SimApi, dict], Any]] = {
    "ping": SimApi.ping, "time": SimApi.time, "exchangeInfo": SimApi.exchange_info, "depth": SimApi.depth,
    "order.place": SimApi.order_place, "order.cancel": SimApi.order_cancel, "order.status": SimApi.order_status,
    "myTrades": SimApi.my_trades,
    "openOrders.status": SimApi.open_orders_status,
}
