"""The runtime's side of a network venue: market data through the multiplexer, orders through the WS API.

One `VenueClient` per venue endpoint holds the instance's two connections (one `Multiplexer` for
streams, one `VenueApi` for requests and the user data stream). It is the realtime `Venue`
(hive_core/market/venue.py):

- market data: `mid_price(pair)`, `order_book(pair)` (an OrderBook of the top `depth_levels` of the
  local book, rebuilt lazily after a change), `estimate_taker(...)`, `fee_rate`, `trading_pairs`;
  `drain(callback)` hands `callback(book, trades)` every pair that changed since the last drain
  (the runtime calls it from its venue slot, so strategies get at most one book per step).
  Until a pair's book has synced once, reads fall back to `fallback` (the embedded engine) if given.
- orders: the `OrderManager` is the only way an order reaches the venue. Its
  `VenueApiTransport(client, on_send=client.track_request, on_answer=client.forget_refused)` writes
  through `write_nowait` on this client's WS API connection; `track_request` registers each order
  placed (so its executionReports become updates) and `forget_refused` drops one the venue refused
  WITHOUT a REJECTED update (the manager reports refusals through the order handle). 429/418 are not
  refusals: the manager sends the order again after its back-off (and `track_request` sees it again).
- order updates: executionReports from the user data stream become `OrderUpdate`s for the listeners
  added with `add_order_listener` (`execution_updates()` does the translation); `get_order` and
  `open_orders` answer from them. Reports about orders this client did not place (other instances on
  the same venue) are ignored.
"""
from __future__ import annotations

import asyncio
import logging
import math
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any

from hive_core.config import RateLimitRule
from hive_core.feed.address import feed_address
from hive_core.market.multiplexer import Multiplexer
from hive_core.market.signing import MY_TRADES, RequestSigner
from hive_core.market.symbol_rules import SymbolRules, rules_of
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
    split_pair,
)
from hive_core.market.venue import MarketListener, OrderListener, Venue
from hive_core.market.venue_api import NotConnected, VenueApi
from hive_core.market.wire import interval_seconds, stream_name, symbol_of

logger = logging.getLogger("hive.venue.client")
MAX_TRADES_KEPT = 1000
MAX_DONE_ORDERS_KEPT = 10_000     # finished orders still answered by get_order (older ones are forgotten)
FEED_WAIT_S = 1.0                 # how long exchangeInfo waits for the feed service before asking the venue itself

VENUE_METRICS = {
    "venue_messages": ("counter", "market-data messages received on the venue stream connection"),
    "venue_reconnects": ("counter", "reconnects of the venue stream connection"),
    "venue_gaps": ("counter", "depth sequence gaps detected"),
    "venue_resyncs": ("counter", "order books rebuilt from a snapshot after a gap"),
    "venue_callback_errors": ("counter", "market-data subscriber callbacks that raised"),
    "venue_behind": ("counter", "streams the host's feed service dropped messages of for this instance (resynced)"),
    "venue_fallbacks": ("counter", "times the feed service could not be reached and the venue was used directly"),
    "venue_api_requests": ("counter", "requests sent on the venue WS API connection"),
    "venue_api_reconnects": ("counter", "reconnects of the venue WS API connection"),
    "venue_api_throttled": ("counter", "WS API answers 429 or 418"),
    "venue_used_weight": ("gauge", "request weight used in the venue's current window, as it reported"),
}


class _PairFeed:
    __slots__ = ("pair", "symbol", "changed", "book", "last_book", "trades", "subscriptions")

    def __init__(self, pair: str) -> None:
        self.pair = pair
        self.symbol = symbol_of(pair)
        self.changed = False
        self.book: OrderBook | None = None      # cached view; None when it must be rebuilt
        self.last_book: OrderBook | None = None # the last view built (served while resyncing or closed)
        self.trades: list[Trade] = []
        self.subscriptions: list = []


class VenueClient:
    """See the module docstring."""

    def __init__(self, trading_pairs: list[str], *, fee_rate: float, now: Callable[[], float],
                 url: str | None = None, api_url: str | None = None, signer: RequestSigner | None = None,
                 fallback: Venue | None = None, depth_levels: int = 20, feed: str | None = None) -> None:
        """`url`: the market streams' base address, and the WS API's too unless `api_url` names another (Binance
        serves them from different hosts); `signer` signs the account's requests (orders, the user data stream);
        `feed`: the host's market-data service (unix:<socket> or ws://127.0.0.1:<port>): the streams and the book
        snapshots come through it, and from the venue itself while it cannot be reached."""
        self.url = url
        self.api_url = api_url
        self.signer = signer
        self.feed = feed
        self.feed_api: VenueApi | None = None   # the feed service's snapshots
        self.fee_rate = fee_rate
        self._now = now
        self.fallback = fallback
        self.depth_levels = depth_levels
        self._feeds = {pair: _PairFeed(pair) for pair in trading_pairs}
        self._by_symbol = {feed.symbol: feed for feed in self._feeds.values()}
        self.api: VenueApi | None = None
        self.mux: Multiplexer | None = None
        self._order_listeners: list[OrderListener] = []
        self._orders: dict[str, Order] = {}
        self._open: dict[str, Order] = {}
        self._done: deque[str] = deque()
        self.stats = {"reports": 0, "foreign_reports": 0, "order_requests": 0, "refused": 0, "reconciliations": 0,
                      "lost": 0}
        self._rules: dict[str, SymbolRules] = {}  # by symbol, from exchangeInfo when the API connection came up
        self.published_limits: list[RateLimitRule] = []  # exchangeInfo.rateLimits, for the order manager
        self._reconciling: asyncio.Future | None = None
        self._reconcile_again = False

    # ---- lifecycle ----------------------------------------------------------------------------

    async def start(self, url: str | None = None, *, user_data: bool = False, timeout: float = 5.0) -> bool:
        """Connect both connections, subscribe every pair's depth and trades; True once all books synced."""
        self.url = url or self.url
        if self.url is None:
            raise ValueError("VenueClient.start needs the venue URL")
        self.api = VenueApi(self.api_url or self.url, signer=self.signer)
        if self.feed is None:
            self.mux = Multiplexer(self.url, fetch_snapshot=self.api.depth_snapshot)
        else:
            through = feed_address(self.feed, self.url, self.api_url or self.url)
            self.feed_api = VenueApi(through)
            self.mux = Multiplexer(through, fetch_snapshot=self._snapshot, fallback=self.url)
            await self.feed_api.start()
        self.api.on_user_event(self._on_user_event)
        self.api.on_connected(self.reconcile_soon)
        await self.api.start()
        await self.mux.start()
        for feed in self._feeds.values():
            feed.subscriptions = [self.mux.subscribe(stream_name(feed.pair, "depth@100ms"), self._on_depth),
                                  self.mux.subscribe(stream_name(feed.pair, "trade"), self._on_trade)]
        if await self.api.wait_connected(timeout):
            await self._read_rules(timeout)
        if user_data:
            if await self.api.wait_connected(timeout):
                response = await self.api.subscribe_user_data()
                if not response.ok:
                    refused_key = response.error_code in KEY_REFUSED
                    logger.log(logging.ERROR if refused_key else logging.WARNING,
                               "the venue refused the account's event stream (%s, %s: %s)%s", response.status,
                               response.error_code, response.error_msg,
                               "; it does not take the credential's API key or secret, so it will refuse every "
                               "order too: check the credential (its venue, key and secret)" if refused_key else "")
        return await self.mux.wait_synced(self._by_symbol, timeout)

    async def _snapshot(self, symbol: str, limit: int) -> dict | None:
        """A book's snapshot from where its diffs come from: the feed service, or the venue while it is away (the
        service's snapshot continues the service's diffs)."""
        assert self.mux is not None and self.api is not None and self.feed_api is not None
        source = self.api if self.mux.on_fallback else self.feed_api
        return await source.depth_snapshot(symbol, limit)

    async def _read_rules(self, timeout: float) -> None:
        """The pairs' order rules and the venue's limits from exchangeInfo (through the feed service when it answers:
        it asks the venue once for all its instances, a request of weight 20 on Binance); without them orders go out
        unchecked (the venue still checks) and the configured limits hold."""
        assert self.api is not None
        feed_api = self.feed_api
        through_feed = feed_api is not None and await feed_api.wait_connected(min(timeout, FEED_WAIT_S))
        source = feed_api if through_feed and feed_api is not None else self.api
        response = await source.request("exchangeInfo", timeout=timeout)
        if not response.ok and source is not self.api:
            response = await self.api.request("exchangeInfo", timeout=timeout)
        if response.ok and isinstance(response.result, dict):
            self._rules = rules_of(response.result)
            self.published_limits = published_limits(response.result)
        else:
            logger.warning("no order rules: exchangeInfo answered %s %s", response.status, response.error_msg)

    def symbol_rules(self, trading_pair: str) -> SymbolRules | None:
        return self._rules.get(symbol_of(trading_pair))

    async def stop(self) -> None:
        for feed in self._feeds.values():
            for subscription in feed.subscriptions:
                subscription.close()
            feed.subscriptions = []
        if self.mux is not None:
            await self.mux.stop()
        for api in (self.api, self.feed_api):
            if api is not None:
                await api.stop()

    @property
    def trading_pairs(self) -> list[str]:
        return list(self._feeds)

    def metrics(self) -> dict[str, float]:
        """Connection counters for the instance metrics (prefixed `venue_`)."""
        mux = self.mux.stats if self.mux is not None else {}
        api = self.api.stats if self.api is not None else {}
        return {"venue_messages": mux.get("messages", 0), "venue_reconnects": mux.get("reconnects", 0),
                "venue_gaps": mux.get("gaps", 0), "venue_resyncs": mux.get("resyncs", 0),
                "venue_callback_errors": mux.get("callback_errors", 0), "venue_behind": mux.get("behind", 0),
                "venue_fallbacks": mux.get("fallbacks", 0),
                "venue_api_requests": api.get("requests", 0), "venue_api_reconnects": api.get("reconnects", 0),
                "venue_api_throttled": api.get("throttled", 0) + api.get("banned", 0),
                "venue_used_weight": (self.api.used_weight or 0) if self.api is not None else 0}


    def synced(self, trading_pair: str) -> bool:
        book = self.mux.book(self._feed(trading_pair).symbol) if self.mux is not None else None
        return book is not None and book.synced

    # ---- market data --------------------------------------------------------------------------

    def _feed(self, trading_pair: str) -> _PairFeed:
        try:
            return self._feeds[trading_pair]
        except KeyError:
            raise KeyError(f"{trading_pair!r} is not traded on this venue ({list(self._feeds)})") from None

    def _on_depth(self, _stream: str, data: dict) -> None:
        feed = self._by_symbol.get(data.get("s", ""))
        if feed is not None:
            feed.changed = True
            feed.book = None

    def _on_trade(self, _stream: str, data: dict) -> None:
        feed = self._by_symbol.get(data.get("s", ""))
        if feed is None:
            return
        trades = feed.trades
        if len(trades) >= MAX_TRADES_KEPT:
            del trades[0]
        trades.append(Trade(feed.pair, float(data["p"]), float(data["q"]), Side.SELL if data.get("m") else Side.BUY,
                            data.get("T", 0) / 1000.0, f"{feed.pair}-t{data.get('t')}"))
        feed.changed = True

    def order_book(self, trading_pair: str) -> OrderBook:
        feed = self._feed(trading_pair)
        if feed.book is not None:
            return feed.book
        book = self.mux.book(feed.symbol) if self.mux is not None else None
        if book is None or not book.synced:
            # Not synced yet (the cached view, kept through resyncs, is gone only before the first sync).
            if self.fallback is not None:
                return self.fallback.order_book(trading_pair)
            if feed.last_book is not None:
                return feed.last_book
            raise LookupError(f"no order book of {trading_pair} yet (venue {self.url})")
        bids = tuple(book.bids(self.depth_levels))
        asks = tuple(book.asks(self.depth_levels))
        mid = (bids[0][0] + asks[0][0]) / 2 if bids and asks else math.nan
        feed.book = feed.last_book = OrderBook(trading_pair, book.event_time, bids, asks, mid, book.last_update_id)
        return feed.book

    def mid_price(self, trading_pair: str) -> float:
        feed = self._feed(trading_pair)
        if feed.book is not None:
            return feed.book.mid_price
        return self.order_book(trading_pair).mid_price

    def estimate_taker(self, trading_pair: str, side: Side, amount: float,
                       limit: float | None = None) -> tuple[float, float]:
        """(fillable amount, quote value) a taker order would get from the local book."""
        book = self.order_book(trading_pair)
        levels = book.asks if Side(side) is Side.BUY else book.bids
        remaining, filled, quote = amount, 0.0, 0.0
        for price, size in levels:
            if remaining <= 0 or (limit is not None and (price > limit if side is Side.BUY else price < limit)):
                break
            take = min(size, remaining)
            filled += take
            quote += take * price
            remaining -= take
        return filled, quote

    def drain(self, callback: MarketListener) -> int:
        """callback(book, trades) for every pair that changed since the last drain; returns how many."""
        count = 0
        for feed in self._feeds.values():
            if not feed.changed:
                continue
            feed.changed = False
            trades, feed.trades = feed.trades, []
            try:
                book = self.order_book(feed.pair)
            except LookupError:
                continue
            callback(book, trades)
            count += 1
        return count

    # ---- order updates (from the user data stream) ---------------------------------------------

    def add_order_listener(self, listener: OrderListener) -> None:
        self._order_listeners.append(listener)

    def get_order(self, client_order_id: str) -> Order | None:
        order = self._orders.get(client_order_id)
        return order.copy() if order is not None else None

    def open_orders(self, trading_pair: str | None = None) -> list[Order]:
        return [order.copy() for order in self._open.values()
                if trading_pair is None or order.trading_pair == trading_pair]

    # ---- the order manager's path (VenueApiTransport over this client) --------------------------

    def write_nowait(self, method: str, params: dict | None = None) -> asyncio.Future:
        """Write one WS API request frame now on this client's API connection; raises NotConnected."""
        if self.api is None:
            raise NotConnected(f"venue {self.url}: not started")
        return self.api.write_nowait(method, params)

    def track_request(self, method: str, params: Mapping[str, Any]) -> None:
        """`on_send` hook: remember an order the manager is placing, so its executionReports count."""
        self.stats["order_requests"] += 1
        if method != "order.place":
            return
        client_order_id = str(params.get("newClientOrderId", ""))
        known = self._orders.get(client_order_id)
        if known is not None and not known.status.is_done:
            return                                   # sent again after a 429/418: same order
        feed = self._by_symbol.get(str(params.get("symbol", "")))
        if not client_order_id or feed is None:
            return
        now = self._now()
        price = params.get("price")
        self._orders[client_order_id] = Order(client_order_id, feed.pair, Side(params["side"]),
                                              OrderType(params["type"]), float(params["quantity"]),
                                              float(price) if price is not None else None, now, updated_at=now)

    def forget_refused(self, method: str, params: Mapping[str, Any], answer: Any) -> None:
        """`on_answer` hook: forget an order the venue refused, silently (the manager reports it).

        429/418 are forgotten too but are no refusal: the manager sends the order again, and
        `track_request` registers it again. Local 408/503 (no answer, connection lost) keep it: the
        venue may have taken the order, and its reports are then still attributed.
        """
        if method != "order.place":
            return
        status = getattr(answer, "status", None)
        if status is None and isinstance(answer, Mapping):
            status = answer.get("status")
        if getattr(answer, "local", False):
            self.reconcile_soon()  # written, no answer (408, 503): the venue may have it
            return
        if status is None or status == 200 or int(status) >= 500:
            return
        order = self._orders.get(str(params.get("newClientOrderId", "")))
        if order is not None and not order.status.is_done and order.client_order_id not in self._open:
            del self._orders[order.client_order_id]
            if status not in (429, 418):
                self.stats["refused"] += 1

    # ---- reconciliation -------------------------------------------------------------------------

    def reconcile_soon(self) -> None:
        """Ask the venue about every order not done (again, once the asking under way ends); not started, nothing
        (its connection asks when it comes up)."""
        if self.api is None:
            return
        if self._reconciling is not None and not self._reconciling.done():
            self._reconcile_again = True
            return
        self._reconcile_again = False
        self._reconciling = asyncio.ensure_future(self._reconcile())

    async def _reconcile(self) -> None:
        """After the API connection came back, or an order's answer was lost: the venue's word on each order not
        done, replayed as the executionReports it would have sent (what the user data stream missed while down);
        an order the venue never got is reported rejected. Reports count by their cumulative quantities, so what
        the stream also reports is counted once."""
        while True:
            api = self.api
            if api is None or not api.connected:
                return  # the next connection calls again
            for order in [order for order in self._orders.values() if not order.status.is_done]:
                response = await api.request("order.status", {"symbol": symbol_of(order.trading_pair),
                                                              "origClientOrderId": order.client_order_id})
                if response.ok and isinstance(response.result, dict):
                    seen = order.client_order_id in self._open
                    trades = await self._trades_missed(api, order, response.result)
                    for event in missed_reports(order, response.result, self.fee_rate, seen, trades):
                        self._on_user_event(event)
                elif response.error_code == UNKNOWN_ORDER and order.client_order_id not in self._open:
                    self.stats["lost"] += 1
                    self._on_user_event(_report(order, "REJECTED", "REJECTED", self._now(),
                                                r="not on the venue: the order was lost with the connection"))
            self.stats["reconciliations"] += 1
            if not self._reconcile_again:
                return
            self._reconcile_again = False

    async def _trades_missed(self, api: VenueApi, order: Order, status: dict) -> list[dict] | None:
        """The account's trades of an order that filled more than was reported here (myTrades: their prices and the
        commissions really charged); None when nothing is missing or the venue would not say."""
        if float(status.get("executedQty", 0)) <= order.filled_amount * (1 + 1e-12) or "orderId" not in status:
            return None
        response = await api.request(MY_TRADES, {"symbol": symbol_of(order.trading_pair),
                                                 "orderId": status["orderId"]})
        if response.ok and isinstance(response.result, list):
            return response.result
        logger.warning("order %s: its trades not read (%s %s); its fees are estimated at %g", order.client_order_id,
                       response.status, response.error_msg, self.fee_rate)
        return None

    def _emit(self, update: OrderUpdate) -> None:
        for listener in self._order_listeners:
            listener(update)

    def _on_user_event(self, event: dict) -> None:
        if event.get("e") != "executionReport":
            return
        order = self._orders.get(event.get("c", ""))
        if order is None:
            self.stats["foreign_reports"] += 1
            return
        self.stats["reports"] += 1
        was_done = order.status.is_done
        for update in execution_updates(order, event, self.fee_rate):
            if update.order.status.is_done:
                self._open.pop(order.client_order_id, None)
            else:
                self._open[order.client_order_id] = order
            self._emit(update)
        if order.status.is_done and not was_done:
            self._forget_done(order.client_order_id)

    def _forget_done(self, client_order_id: str) -> None:
        """Keep the last MAX_DONE_ORDERS_KEPT finished orders for get_order; forget older ones."""
        done = self._done
        done.append(client_order_id)
        while len(done) > MAX_DONE_ORDERS_KEPT:
            old = done.popleft()
            order = self._orders.get(old)
            if order is not None and order.status.is_done:
                del self._orders[old]


_DONE = {"FILLED": OrderStatus.FILLED, "CANCELED": OrderStatus.CANCELLED, "EXPIRED": OrderStatus.CANCELLED,
         "REJECTED": OrderStatus.REJECTED, "PARTIALLY_FILLED": OrderStatus.PARTIALLY_FILLED, "NEW": OrderStatus.OPEN}


def execution_updates(order: Order, event: dict, fee_rate: float) -> list[OrderUpdate]:
    """Apply one executionReport to `order` (in place) and return the OrderUpdates it amounts to."""
    execution = event.get("x")
    status = _DONE.get(event.get("X", ""), order.status)
    when = event.get("T", event.get("E", 0)) / 1000.0
    order.updated_at = when
    if execution == "NEW":
        order.status = status
        return [OrderUpdate(UpdateKind.CREATED, order.copy(), when)]
    if execution == "TRADE":
        if "z" in event and float(event["z"]) <= order.filled_amount * (1 + 1e-12):
            return []  # counted already (a reconciliation replayed it before the stream's own report came)
        amount, price = float(event.get("l", 0)), float(event.get("L", 0))
        fee = commission_in_quote(order.trading_pair, float(event.get("n", 0) or 0), event.get("N"), price,
                                  price * amount * fee_rate)
        order.filled_amount = float(event.get("z", order.filled_amount + amount))
        order.filled_quote = float(event.get("Z", order.filled_quote + amount * price))
        order.fee_quote += fee
        order.status = status
        fill = Fill(order.client_order_id, order.trading_pair, order.side, order.order_type, price, amount, fee,
                    fee / (price * amount) if price * amount > 0 else fee_rate, when, bool(event.get("m")),
                    f"sim-f{event.get('t')}")
        updates = [OrderUpdate(UpdateKind.FILLED, order.copy(), when, fill)]
        if status is OrderStatus.FILLED:
            updates.append(OrderUpdate(UpdateKind.COMPLETED, order.copy(), when))
        return updates
    if execution in ("CANCELED", "EXPIRED"):
        order.status = OrderStatus.CANCELLED
        reason = "expired" if execution == "EXPIRED" else None
        return [OrderUpdate(UpdateKind.CANCELLED, order.copy(), when, reason=reason)]
    if execution == "REJECTED":
        order.status = OrderStatus.REJECTED
        return [OrderUpdate(UpdateKind.REJECTED, order.copy(), when, reason=event.get("r"))]
    return []


def commission_in_quote(trading_pair: str, commission: float, asset: str | None, price: float,
                        estimate: float) -> float:
    """A fill's commission in the pair's quote asset, which the paper accounts count fees in. Binance charges a buy
    in the base asset it bought and a sell in the quote it got (or in BNB when the account pays fees with it): base
    is valued at the fill's price; another asset, which this side cannot price, is counted as `estimate` (the fee
    rate's share of the fill)."""
    base, quote = split_pair(trading_pair)
    if not asset or asset == quote:
        return commission
    if asset == base:
        return commission * price
    return estimate


def published_limits(exchange_info: dict) -> list[RateLimitRule]:
    """exchangeInfo's `rateLimits` of the kinds the order manager keeps (REQUEST_WEIGHT, ORDERS); RAW_REQUESTS and
    malformed entries are left out."""
    limits = []
    for entry in exchange_info.get("rateLimits") or ():
        try:
            limits.append(RateLimitRule(limit_type=entry["rateLimitType"],
                                        interval_s=interval_seconds(entry["interval"], entry["intervalNum"]),
                                        limit=entry["limit"]))
        except (KeyError, TypeError, ValueError):  # pydantic's ValidationError is a ValueError
            continue
    return limits


UNKNOWN_ORDER = -2013  # Binance: "Order does not exist."
KEY_REFUSED = frozenset({-2014, -2015, -1022})  # Binance: the API key's format, the key itself, the signature
_VENUE_STATUS = {"NEW": "NEW", "PARTIALLY_FILLED": "PARTIALLY_FILLED", "FILLED": "FILLED", "CANCELED": "CANCELED",
                 "EXPIRED": "EXPIRED", "EXPIRED_IN_MATCH": "EXPIRED", "REJECTED": "REJECTED",
                 "PENDING_CANCEL": "NEW"}


def _report(order: Order, execution: str, status: str, when: float, **fields: Any) -> dict:
    return {"e": "executionReport", "c": order.client_order_id, "x": execution, "X": status,
            "T": int(when * 1000), **fields}


def missed_reports(order: Order, status: dict, fee_rate: float, seen: bool,
                   trades: list[dict] | None = None) -> list[dict]:
    """The executionReports that take `order` (as known here) to what the venue's order.status answer says: its
    creation if not `seen` (no report of it came), the fills not seen, and its end (cancelled, expired, rejected).

    The fills: with the order's `trades` from myTrades (all of them, as the venue lists them), one report per trade
    not counted yet, with its price and commission; without them, one for the quantity and quote value missing, its
    fee estimated at `fee_rate` (order.status gives none)."""
    state = _VENUE_STATUS.get(str(status.get("status")), "NEW")
    when = float(status.get("updateTime") or status.get("time") or 0) / 1000.0
    reports = []
    if not seen:
        reports.append(_report(order, "NEW", "NEW", when))
    filled, quote = float(status.get("executedQty", 0)), float(status.get("cummulativeQuoteQty", 0))
    missing = filled - order.filled_amount
    if missing > order.amount * 1e-9:
        fills = _trade_reports(order, trades or [], filled, state)
        if fills is None:
            price = (quote - order.filled_quote) / missing
            fills = [_report(order, "TRADE", state if state in ("PARTIALLY_FILLED", "FILLED") else "PARTIALLY_FILLED",
                             when, l=missing, L=price, z=filled, Z=quote, n=(quote - order.filled_quote) * fee_rate,
                             t=f"reconciled-{filled:.8f}", m=False)]
        reports.extend(fills)
    if state in ("CANCELED", "EXPIRED", "REJECTED"):
        reports.append(_report(order, state, state, when))
    return reports


def _trade_reports(order: Order, trades: list[dict], filled: float, state: str) -> list[dict] | None:
    """One TRADE report per trade beyond what `order` counted, by cumulative quantity; None unless the trades add up
    to the `filled` quantity the venue reports (a list cut short cannot say which trades were missed)."""
    try:
        ordered = sorted(trades, key=lambda trade: int(trade["id"]))
        quantities = [float(trade["qty"]) for trade in ordered]
        prices = [float(trade["price"]) for trade in ordered]
    except (KeyError, TypeError, ValueError):
        return None
    if abs(sum(quantities) - filled) > max(filled, order.amount) * 1e-9:
        return None
    reports, cumulative, cumulative_quote = [], 0.0, 0.0
    for trade, quantity, price in zip(ordered, quantities, prices, strict=True):
        cumulative += quantity
        cumulative_quote += quantity * price
        if cumulative <= order.filled_amount * (1 + 1e-12):
            continue   # counted already
        last = cumulative >= filled * (1 - 1e-12)
        status = state if last and state in ("PARTIALLY_FILLED", "FILLED") else "PARTIALLY_FILLED"
        reports.append(_report(order, "TRADE", status, float(trade.get("time", 0)) / 1000.0, l=quantity, L=price,
                               z=cumulative, Z=cumulative_quote, n=trade.get("commission", 0),
                               N=trade.get("commissionAsset"), t=trade["id"], m=bool(trade.get("isMaker"))))
    return reports
