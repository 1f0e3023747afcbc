"""The order path of a ccxt venue: the order manager's requests as ccxt calls, and what ccxt reports of the orders.

`CcxtOrders.send(method, params, on_reply)` is the `OrderTransport` (hive_core/orders/transport.py): the
manager's Binance WS API requests (`order.place` with symbol/side/type/timeInForce/price/quantity/newClientOrderId,
`order.cancel` and `order.status` with origClientOrderId) become `create_order` / `cancel_order` / `fetch_order`
on the shared ccxt exchange, each an asyncio task on the running loop, the client order id passed as ccxt's
unified `clientOrderId` (binance sends it as newClientOrderId), so every report of the order is attributed by it.
`on_reply` is called once, with a Binance-WS-API-shaped answer: `{"status": 200, "result": {...}}` or
`{"status": 4xx/5xx, "error": {"code", "msg"}}` (`refusal()` maps ccxt's exceptions). One exception: an
`order.place` whose outcome is unknown (a network error: the venue may have the order) is answered with a 503
`VenueReply` marked `unknown`, so that the order handle waits for the venue's word, and the order is asked for
(`fetch_order`) until the venue says whether it has it.

Order reports, from the answers, from `watch_orders` (`watch_once`) or from polling `fetch_order` of the open
orders (`poll_once`), go through one `OrderTracker`, which counts fills by the cumulative filled amount.
"""
from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable, Mapping
from typing import Any

from ccxt.base import errors as ccxt_errors

from hive_core.market.backoff import Backoff
from hive_core.market.ccxt_tracker import OrderTracker
from hive_core.market.redact import Redactor
from hive_core.market.types import Order, OrderType, OrderUpdate, Side
from hive_core.market.wire import fmt, symbol_of
from hive_core.orders.transport import ReplyCallback, VenueReply, connection_lost_reply

logger = logging.getLogger("hive.venue.ccxt")
PLACE, CANCEL, STATUS = "order.place", "order.cancel", "order.status"
MAX_MSG = 300
RECONCILE_ATTEMPTS = 8
# ccxt's exceptions, most specific first: (class, HTTP status, Binance code when the venue's own is not in the
# message, what the reply says). RateLimitExceeded, DDoSProtection and InvalidNonce are NetworkErrors too.
_REFUSALS: tuple[tuple[type[Exception], int, int, str], ...] = (
    (ccxt_errors.AuthenticationError, 401, -2015, "the venue refused the API key or its signature"),
    (ccxt_errors.RateLimitExceeded, 429, -1003, "rate limited by the venue"),
    (ccxt_errors.DDoSProtection, 429, -1003, "rate limited by the venue"),
    (ccxt_errors.InvalidNonce, 400, -1021, "the venue refused the request's timestamp"),
    (ccxt_errors.NetworkError, 503, -1001, "no answer from the venue"),
    (ccxt_errors.InsufficientFunds, 400, -2010, "insufficient funds"),
    (ccxt_errors.OrderNotFound, 400, -2013, "unknown order"),
    (ccxt_errors.InvalidOrder, 400, -2010, "invalid order"),
    (ccxt_errors.BadSymbol, 400, -1121, "unknown symbol"),
    (ccxt_errors.BadResponse, 502, -1000, "unreadable answer from the venue"),
    (ccxt_errors.BaseError, 400, -1000, "the venue refused the request"),
)
_CODE = re.compile(r'"code"\s*:\s*(-?\d+)')
_VENUE_STATUS = {"open": "NEW", "closed": "FILLED", "canceled": "CANCELED", "expired": "EXPIRED",
                 "rejected": "REJECTED"}

UpdateListener = Callable[[OrderUpdate], None]


def refusal(error: BaseException, redact: Redactor) -> tuple[int, int, str]:
    """(status, code, msg) of the reply for a ccxt exception: the venue's own code when its message quotes one."""
    text = redact(error)[:MAX_MSG]
    for kind, status, code, words in _REFUSALS:
        if isinstance(error, kind):
            quoted = _CODE.search(text)
            return status, int(quoted.group(1)) if quoted else code, f"{words}: {text}"
    return 500, -1000, f"{type(error).__name__}: {text}"


def venue_result(order: Mapping[str, Any], symbol: str, client_id: str) -> dict:
    """A ccxt order as the fields of a Binance order answer."""
    filled = order.get("filled") or 0.0
    status = _VENUE_STATUS.get(str(order.get("status")), "NEW")
    if status == "NEW" and filled > 0:
        status = "PARTIALLY_FILLED"
    return {"symbol": symbol, "orderId": order.get("id"), "clientOrderId": order.get("clientOrderId") or client_id,
            "price": fmt(order.get("price") or 0.0), "origQty": fmt(order.get("amount") or 0.0),
            "executedQty": fmt(filled), "cummulativeQuoteQty": fmt(order.get("cost") or 0.0), "status": status,
            "type": str(order.get("type") or "").upper(), "side": str(order.get("side") or "").upper(),
            "updateTime": order.get("lastUpdateTimestamp") or order.get("timestamp")}


class CcxtOrders:
    """One venue's order path over a ccxt exchange; see the module docstring."""

    def __init__(self, exchange: Any, symbols: Mapping[str, str], *, fee_rate: float, now: Callable[[], float],
                 redact: Redactor) -> None:
        """`symbols`: trading pair -> the exchange's unified symbol (BTC-USDT -> BTC/USDT)."""
        self.exchange = exchange
        self._symbols = dict(symbols)
        self._pairs = {symbol_of(pair): pair for pair in symbols}
        self._redact = redact
        self.tracker = OrderTracker(fee_rate, now)
        self._listeners: list[UpdateListener] = []
        self._tasks: set[asyncio.Task] = set()
        self.stats = {"requests": 0, "refused": 0, "reports": 0, "updates": 0, "reconciled": 0}

    def add_listener(self, listener: UpdateListener) -> None:
        self._listeners.append(listener)

    def get_order(self, client_order_id: str) -> Order | None:
        return self.tracker.get(client_order_id)

    def open_orders(self, trading_pair: str | None = None) -> list[Order]:
        return self.tracker.open_orders(trading_pair)

    async def close(self) -> None:
        """Cancel the requests under way (each answered as a lost connection) and the reconciliations."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    # ---- the transport ------------------------------------------------------------------------

    def send(self, method: str, params: Mapping[str, Any], on_reply: ReplyCallback) -> None:
        """Start the request as a task on the running loop; `on_reply` gets its answer once."""
        loop = asyncio.get_running_loop()
        params = dict(params)
        self.stats["requests"] += 1
        pair = self._pairs.get(str(params.get("symbol", "")))
        if method == PLACE and pair is not None:
            price = params.get("price")
            self.tracker.track(str(params.get("newClientOrderId", "")), pair, Side(params["side"]),
                               OrderType(params["type"]), float(params["quantity"]),
                               float(price) if price is not None else None)
        self._spawn(loop, self._answer(method, params, pair, on_reply), f"ccxt-{method}")

    def _spawn(self, loop: asyncio.AbstractEventLoop, coro: Any, name: str) -> None:
        task = loop.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _answer(self, method: str, params: dict, pair: str | None, on_reply: ReplyCallback) -> None:
        client_id = str(params.get("newClientOrderId") or params.get("origClientOrderId") or "")
        try:
            reply: Any = await self._call(method, params, pair, client_id)
        except asyncio.CancelledError:
            _deliver(on_reply, connection_lost_reply("the venue connection was closed"))
            raise
        except Exception as error:
            reply = self._refused(method, client_id, error)
        _deliver(on_reply, reply)

    async def _call(self, method: str, params: dict, pair: str | None, client_id: str) -> dict:
        if pair is None:
            return {"status": 400, "error": {"code": -1121, "msg": "Invalid symbol."}}
        symbol, exchange = self._symbols[pair], self.exchange
        extra = {"clientOrderId": client_id}
        if method == PLACE:
            price = params.get("price")
            if params.get("timeInForce") and price is not None:
                extra["timeInForce"] = params["timeInForce"]
            answer = await exchange.create_order(symbol, str(params["type"]).lower(), str(params["side"]).lower(),
                                                 float(params["quantity"]),
                                                 float(price) if price is not None else None, extra)
        elif method == CANCEL:
            answer = await exchange.cancel_order(self.tracker.exchange_ids.get(client_id, ""), symbol, extra)
        elif method == STATUS:
            answer = await exchange.fetch_order(self.tracker.exchange_ids.get(client_id, ""), symbol, extra)
        else:
            return {"status": 400, "error": {"code": -1100, "msg": f"Unknown method '{method}'."}}
        self.apply({**answer, "clientOrderId": client_id})  # a cancel's answer may name the cancel's own id
        result = venue_result(answer, symbol_of(pair), client_id)
        if method == CANCEL:
            result["origClientOrderId"] = client_id
        return {"status": 200, "result": result}

    def _refused(self, method: str, client_id: str, error: Exception) -> Any:
        status, code, msg = refusal(error, self._redact)
        if status >= 500 and not isinstance(error, ccxt_errors.NetworkError):
            logger.error("%s %s failed: %s", method, client_id, msg,
                         exc_info=None if isinstance(error, ccxt_errors.BaseError) else error)
        if method != PLACE:
            return {"status": status, "error": {"code": code, "msg": msg}}
        if status == 503:  # written, no answer: the venue may have the order
            self._spawn(asyncio.get_running_loop(), self._reconcile(client_id), "ccxt-reconcile")
            return VenueReply(status, code=code, msg=msg, unknown=True)
        self.stats["refused"] += 1
        self.tracker.forget(client_id)  # the manager reports the refusal (and sends it again after a 429)
        return {"status": status, "error": {"code": code, "msg": msg}}

    # ---- order reports ------------------------------------------------------------------------

    def apply(self, report: Mapping[str, Any]) -> None:
        """One ccxt order report: its updates to the listeners."""
        self.stats["reports"] += 1
        for update in self.tracker.apply(report):
            self._emit(update)

    def _emit(self, update: OrderUpdate) -> None:
        self.stats["updates"] += 1
        for listener in self._listeners:
            try:
                listener(update)
            except Exception:
                logger.exception("order listener failed on %s of %s", update.kind.value, update.order.client_order_id)

    async def watch_once(self) -> None:
        """Wait for the next `watch_orders` reports and apply them."""
        for report in await self.exchange.watch_orders():
            self.apply(report)

    async def poll_once(self) -> None:
        """`fetch_order` of every open order, applied."""
        for order in self.tracker.open_orders():
            pair, client_id = order.trading_pair, order.client_order_id
            try:
                report = await self.exchange.fetch_order(self.tracker.exchange_ids.get(client_id, ""),
                                                         self._symbols[pair], {"clientOrderId": client_id})
            except ccxt_errors.OrderNotFound:
                logger.warning("open order %s is not on the venue any more", client_id)
                continue
            self.apply({**report, "clientOrderId": client_id})

    async def _reconcile(self, client_id: str) -> None:
        """After a place with no answer: the venue's word on the order, asked until it gives one."""
        order = self.tracker.get(client_id)
        if order is None:
            return
        backoff = Backoff(0.5, 10.0)
        for _attempt in range(RECONCILE_ATTEMPTS):
            try:
                report = await self.exchange.fetch_order(self.tracker.exchange_ids.get(client_id, ""),
                                                         self._symbols[order.trading_pair],
                                                         {"clientOrderId": client_id})
            except ccxt_errors.OrderNotFound:
                for update in self.tracker.lost(client_id, "not on the venue: its request got no answer"):
                    self._emit(update)
                return
            except ccxt_errors.NetworkError as error:
                logger.info("order %s: the venue is still not answering (%s)", client_id, self._redact(error))
                await asyncio.sleep(backoff.next())
                continue
            except ccxt_errors.BaseError as error:
                logger.warning("order %s: its outcome could not be asked for: %s", client_id, self._redact(error))
                return
            self.stats["reconciled"] += 1
            self.apply({**report, "clientOrderId": client_id})
            return
        logger.warning("order %s: no word from the venue after %d attempts", client_id, RECONCILE_ATTEMPTS)


def _deliver(on_reply: ReplyCallback, reply: Any) -> None:
    try:
        on_reply(reply)
    except Exception:
        logger.exception("order reply callback failed")
