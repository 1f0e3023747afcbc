"""A venue reached through ccxt: one ccxt exchange object per venue, shared by all the instance's strategies.

    venue = CcxtVenue("binance", ["BTC-USDT"], fee_rate=0.001, now=clock.now, credentials=(key, secret))
    if not await venue.start(timeout=10):   # markets loaded, market data started; True once every pair has a book
        ...
    OrderManager(venue, ...)                # venue.send is the order transport (ccxt_orders.py)
    venue.drain(on_market)                  # books/trades received since the last drain
    await venue.stop()                      # tasks cancelled, the exchange closed

The exchange is ccxt.pro's class where ccxt has one (WebSocket watchers), else ccxt's async one. `urls` is merged
into the exchange's `urls` (after `sandbox` switched them), `options` into its options: that is how a test points
ccxt's binance at the simulated venue.

Market data: one background task per pair per kind. Books come from `watch_order_book` where `exchange.has` says
so, else from `fetch_order_book` every `poll_interval` seconds; trades from `watch_trades`, else from
`fetch_trades` (those newer than the last seen). A failing task logs the error (credentials redacted) and tries
again after a bounded exponential back-off. It is the realtime `Venue` (hive_core/market/venue.py): `order_book`
is the top `depth_levels` of the book, `symbol_rules` come from ccxt's market precision and limits, and `drain`
has VenueClient.drain's meaning.

Order updates come from `watch_orders` where the exchange has it, else from polling `fetch_order` of the open
orders every `poll_interval` seconds (both need credentials). Credentials are handed to ccxt and to nothing else:
no log line, reply or repr of this venue quotes them, and ccxt itself logs through a redacting logger.
"""
from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Awaitable, Callable, Mapping
from decimal import Decimal
from typing import Any

import ccxt.async_support
import ccxt.pro
from ccxt.base.decimal_to_precision import DECIMAL_PLACES, TICK_SIZE

from hive_core.market.backoff import Backoff
from hive_core.market.ccxt_orders import CcxtOrders
from hive_core.market.redact import RedactingLogger, Redactor
from hive_core.market.symbol_rules import ZERO, SymbolRules
from hive_core.market.types import Order, OrderBook, Side, Trade, split_pair
from hive_core.market.venue import MarketListener, OrderListener
from hive_core.market.venue_api import NotConnected
from hive_core.market.wire import symbol_of
from hive_core.orders.transport import ReplyCallback

logger = logging.getLogger("hive.venue.ccxt")
MAX_TRADES_KEPT = 1000
TRADES_POLLED = 100


class _Feed:
    """What has arrived for one pair since the last drain."""

    __slots__ = ("pair", "symbol", "book", "trades", "changed", "polled")

    def __init__(self, pair: str, symbol: str) -> None:
        self.pair = pair
        self.symbol = symbol                     # the exchange's unified symbol
        self.book: OrderBook | None = None
        self.trades: list[Trade] = []
        self.changed = False
        self.polled: set[tuple] | None = None   # the trades the last poll got (None: no poll yet)

    def add_trades(self, trades: list[Trade]) -> None:
        self.trades.extend(trades)
        del self.trades[:-MAX_TRADES_KEPT]
        self.changed = self.changed or bool(trades)


class CcxtVenue:
    """See the module docstring."""

    def __init__(self, exchange_id: str, trading_pairs: list[str], *, fee_rate: float, now: Callable[[], float],
                 credentials: tuple[str, str] | None = None, urls: dict[str, Any] | None = None,
                 sandbox: bool = False, options: dict | None = None, depth_levels: int = 20,
                 poll_interval: float = 1.0) -> None:
        self.exchange_id = exchange_id
        self.fee_rate = fee_rate
        self.depth_levels = depth_levels
        self.poll_interval = poll_interval
        self._now = now
        self._redact = Redactor(credentials or ())
        self._has_credentials = credentials is not None
        self.exchange = _exchange(exchange_id, credentials, urls, sandbox, options, self._redact)
        self._feeds = {pair: _Feed(pair, "/".join(split_pair(pair))) for pair in trading_pairs}
        self.orders = CcxtOrders(self.exchange, {pair: feed.symbol for pair, feed in self._feeds.items()},
                                 fee_rate=fee_rate, now=now, redact=self._redact)
        self._rules: dict[str, SymbolRules] = {}
        self._tasks: list[asyncio.Task] = []
        self._all_books = asyncio.Event()
        self._started = False
        self.stats = {"books": 0, "trades": 0, "errors": 0}

    def __repr__(self) -> str:
        given = "given" if self._has_credentials else "none"
        return f"CcxtVenue({self.exchange_id!r}, {list(self._feeds)}, credentials {given})"

    # ---- lifecycle ----------------------------------------------------------------------------

    async def start(self, timeout: float = 10.0) -> bool:
        """Load the markets (again until `timeout`), start market data and order updates; True once every pair has
        a book. Raises ConnectionError when the markets cannot be loaded, ValueError for a pair the exchange does
        not list (call `stop()` after either)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        await self._load_markets(deadline)
        markets = self.exchange.markets
        missing = [pair for pair, feed in self._feeds.items() if feed.symbol not in markets]
        if missing:
            raise ValueError(f"{self.exchange_id} does not list {missing}")
        self._rules = {pair: rules_of(markets[feed.symbol], self.exchange.precisionMode, symbol_of(pair))
                       for pair, feed in self._feeds.items()}
        has = self.exchange.has
        for feed in self._feeds.values():
            self._run(f"book of {feed.pair}", self._book_step(feed, bool(has.get("watchOrderBook"))))
            self._run(f"trades of {feed.pair}", self._trades_step(feed, bool(has.get("watchTrades"))))
        if self._has_credentials:
            if has.get("watchOrders"):
                self._run("order updates", self.orders.watch_once)
            else:
                self._run("order polling", self._poll_orders)
        self._started = True
        try:
            await asyncio.wait_for(self._all_books.wait(), max(deadline - loop.time(), 0.0))
        except TimeoutError:
            return False
        return True

    async def _load_markets(self, deadline: float) -> None:
        loop = asyncio.get_running_loop()
        backoff = Backoff(0.2, 5.0)
        while True:
            try:
                await asyncio.wait_for(self.exchange.load_markets(), max(deadline - loop.time(), 0.01))
                return
            except Exception as error:
                text = f"{type(error).__name__}: {self._redact(error)}"
                delay = backoff.next()
                if loop.time() + delay >= deadline:
                    raise ConnectionError(f"{self.exchange_id}: its markets could not be loaded ({text})") from None
                logger.warning("%s: loading its markets failed (%s); again in %.1f s", self.exchange_id, text, delay)
                await asyncio.sleep(delay)

    async def stop(self) -> None:
        self._started = False
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        await self.orders.close()
        await self.exchange.close()

    def _run(self, what: str, step: Callable[[], Awaitable[None]]) -> None:
        """`step` again and again in a task of its own; after an error, again after a back-off."""
        async def loop() -> None:
            backoff = Backoff(0.2, 10.0)
            while True:
                try:
                    await step()
                    backoff.reset()
                except asyncio.CancelledError:
                    raise
                except Exception as error:
                    self.stats["errors"] += 1
                    delay = backoff.next()
                    logger.warning("%s: %s failed (%s: %s); again in %.1f s", self.exchange_id, what,
                                   type(error).__name__, self._redact(error), delay)
                    await asyncio.sleep(delay)
        self._tasks.append(asyncio.get_running_loop().create_task(loop(), name=f"ccxt {self.exchange_id} {what}"))

    # ---- market data --------------------------------------------------------------------------

    def _book_step(self, feed: _Feed, watch: bool) -> Callable[[], Awaitable[None]]:
        async def step() -> None:
            if watch:
                raw = await self.exchange.watch_order_book(feed.symbol)
            else:
                raw = await self.exchange.fetch_order_book(feed.symbol, self.depth_levels)
            feed.book = self._book(feed.pair, raw)
            feed.changed = True
            self.stats["books"] += 1
            if not self._all_books.is_set() and all(other.book for other in self._feeds.values()):
                self._all_books.set()
            if not watch:
                await asyncio.sleep(self.poll_interval)
        return step

    def _book(self, pair: str, raw: Mapping[str, Any]) -> OrderBook:
        levels = self.depth_levels
        bids = tuple((float(level[0]), float(level[1])) for level in raw["bids"][:levels])
        asks = tuple((float(level[0]), float(level[1])) for level in raw["asks"][:levels])
        mid = (bids[0][0] + asks[0][0]) / 2 if bids and asks else math.nan
        stamp = raw.get("timestamp")
        return OrderBook(pair, stamp / 1000.0 if stamp else self._now(), bids, asks, mid, int(raw.get("nonce") or 0))

    def _trades_step(self, feed: _Feed, watch: bool) -> Callable[[], Awaitable[None]]:
        async def step() -> None:
            if watch:
                raw = await self.exchange.watch_trades(feed.symbol)  # the new ones (ccxt.pro's newUpdates)
            else:
                raw = _newer(feed, await self.exchange.fetch_trades(feed.symbol, None, TRADES_POLLED))
            trades = [trade for trade in map(_trade_of(feed.pair), raw) if trade is not None]
            feed.add_trades(trades)
            self.stats["trades"] += len(trades)
            if not watch:
                await asyncio.sleep(self.poll_interval)
        return step

    async def _poll_orders(self) -> None:
        await self.orders.poll_once()
        await asyncio.sleep(self.poll_interval)

    # ---- the Venue ----------------------------------------------------------------------------

    @property
    def trading_pairs(self) -> list[str]:
        return list(self._feeds)

    def _feed(self, trading_pair: str) -> _Feed:
        try:
            return self._feeds[trading_pair]
        except KeyError:
            raise KeyError(f"{trading_pair!r} is not traded on this venue ({list(self._feeds)})") from None

    def order_book(self, trading_pair: str) -> OrderBook:
        book = self._feed(trading_pair).book
        if book is None:
            raise LookupError(f"no order book of {trading_pair} yet ({self.exchange_id})")
        return book

    def mid_price(self, trading_pair: str) -> float:
        return self.order_book(trading_pair).mid_price

    def estimate_taker(self, trading_pair: str, side: Side, amount: float,
                       limit: float | None = None) -> tuple[float, float]:
        """(fillable amount, quote value) a taker order would get from the book's top levels."""
        book = self.order_book(trading_pair)
        buying = Side(side) is Side.BUY
        remaining, filled, quote = amount, 0.0, 0.0
        for price, size in book.asks if buying else book.bids:
            if remaining <= 0 or (limit is not None and (price > limit if buying else price < limit)):
                break
            take = min(size, remaining)
            filled, quote, remaining = filled + take, quote + take * price, remaining - take
        return filled, quote

    def drain(self, callback: MarketListener) -> int:
        """callback(book, trades) for every pair that changed since the last drain; returns how many."""
        count = 0
        for feed in self._feeds.values():
            if not feed.changed or feed.book is None:
                continue
            feed.changed = False
            trades, feed.trades = feed.trades, []
            callback(feed.book, trades)
            count += 1
        return count

    def symbol_rules(self, trading_pair: str) -> SymbolRules | None:
        return self._rules.get(trading_pair)

    def add_order_listener(self, listener: OrderListener) -> None:
        self.orders.add_listener(listener)

    def get_order(self, client_order_id: str) -> Order | None:
        return self.orders.get_order(client_order_id)

    def open_orders(self, trading_pair: str | None = None) -> list[Order]:
        return self.orders.open_orders(trading_pair)

    # ---- the order transport ------------------------------------------------------------------

    def send(self, method: str, params: Mapping[str, Any], on_reply: ReplyCallback) -> None:
        """The order manager's requests (see ccxt_orders.py); raises NotConnected before `start()`."""
        if not self._started:
            raise NotConnected(f"{self.exchange_id}: the venue is not started")
        self.orders.send(method, params, on_reply)


def _exchange(exchange_id: str, credentials: tuple[str, str] | None, urls: dict[str, Any] | None, sandbox: bool,
              options: dict | None, redact: Redactor) -> Any:
    """The ccxt exchange object: ccxt.pro's class where there is one, else ccxt's async one."""
    kind = getattr(ccxt.pro, exchange_id, None) or getattr(ccxt.async_support, exchange_id, None)
    if not isinstance(kind, type):
        raise ValueError(f"ccxt has no exchange {exchange_id!r}")
    config: dict[str, Any] = {"options": dict(options or {}),
                              "logger": RedactingLogger(logging.getLogger(f"hive.venue.ccxt.{exchange_id}"), redact)}
    if credentials is not None:
        config["apiKey"], config["secret"] = credentials
    exchange = kind(config)
    if sandbox:
        exchange.set_sandbox_mode(True)
    if urls:
        exchange.urls = exchange.deep_extend(exchange.urls, urls)
    return exchange


def rules_of(market: Mapping[str, Any], precision_mode: int, symbol: str) -> SymbolRules:
    """A ccxt market's precision and limits as SymbolRules (a precision given in decimal places becomes a step)."""
    precision, limits = market.get("precision") or {}, market.get("limits") or {}

    def step(value: Any) -> Decimal:
        """A tick or lot step; none for precision in significant digits (no fixed step)."""
        if value is None:
            return ZERO
        if precision_mode == DECIMAL_PLACES:
            return Decimal(1).scaleb(-int(value))
        return _decimal(value) if precision_mode == TICK_SIZE else ZERO

    def bound(kind: str, end: str) -> Decimal:
        return _decimal((limits.get(kind) or {}).get(end))

    return SymbolRules(symbol, tick_size=step(precision.get("price")), min_price=bound("price", "min"),
                       max_price=bound("price", "max"), step_size=step(precision.get("amount")),
                       min_qty=bound("amount", "min"), max_qty=bound("amount", "max"),
                       min_notional=bound("cost", "min"), max_notional=bound("cost", "max"))


def _decimal(value: Any) -> Decimal:
    return Decimal(str(value)) if isinstance(value, (int, float, str)) and float(value) > 0 else ZERO


def _trade_of(pair: str) -> Callable[[Mapping[str, Any]], Trade | None]:
    def convert(raw: Mapping[str, Any]) -> Trade | None:
        side = raw.get("side")
        if side not in ("buy", "sell") or raw.get("price") is None or raw.get("amount") is None:
            return None  # a trade without its aggressor's side or its size tells a strategy nothing sure
        return Trade(pair, float(raw["price"]), float(raw["amount"]), Side(side.upper()),
                     (raw.get("timestamp") or 0) / 1000.0, f"{pair}-t{raw.get('id')}")
    return convert


def _newer(feed: _Feed, raw: list[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The polled trades (the latest ones) that the last poll did not get; none on the first poll, as a stream gives
    only the trades made after it is subscribed."""
    keys = [(trade.get("id"), trade.get("timestamp"), trade.get("price"), trade.get("amount")) for trade in raw]
    fresh = [] if feed.polled is None else [trade for trade, key in zip(raw, keys, strict=True)
                                            if key not in feed.polled]
    feed.polled = set(keys)
    return fresh
