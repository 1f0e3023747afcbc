"""The simulated venue as a network server, in Binance spot's public format.

    python -m hive_core.sim.server --host 127.0.0.1 --port 9400 --pairs BTC-USDT,ETH-USDT --seed 7

or embedded: `server = SimServer(config); await server.start(); ... await server.stop()` (port 0 picks a
free port; `server.url` is then `ws://127.0.0.1:<port>`). It wraps the matching engine (SimExchange,
one SimMarket per pair), steps it every `step_interval` seconds and serves three WebSocket paths:

- `/stream`: combined market streams. `{"method": "SUBSCRIBE", "params": ["btcusdt@depth@100ms",
  "btcusdt@trade", "btcusdt@bookTicker"], "id": 1}` -> `{"result": null, "id": 1}`; UNSUBSCRIBE
  likewise; LIST_SUBSCRIPTIONS -> `{"result": [...], "id": ...}`; `/stream?streams=a/b` subscribes
  at connect. Messages are `{"stream": <name as subscribed>, "data": ...}` with data
  `depthUpdate {"e","E","s","U","u","b","a"}` (levels `[price, qty]` as strings, qty "0" removes),
  `trade {"e","E","s","t","p","q","T","m","M"}`, bookTicker `{"u","s","b","B","a","A"}`.
  Every step of a pair's market is one depth update with contiguous ids: `U` = previous `u` + 1.
- `/ws` and `/ws/<stream>`: raw streams (Binance's raw endpoint, which ccxt's binance uses): the same control
  requests, `<stream>` (if it is one) subscribed at connect, and messages are the `data` objects alone.
- `/ws-api/v3`: the WS API (api.py): depth, exchangeInfo, order.place/cancel/status,
  openOrders.status, userDataStream.subscribe (then `{"subscriptionId", "event": executionReport}`
  pushes on the same connection), ping, time; rate limits enforced per client IP (limits.py).

Test hooks: `drop_connections()` aborts every client connection (a network drop), `inject_gap(pair)`
withholds the next depth update of a pair (clients see a sequence gap), `step()` steps the market
by hand (with `autostep=False`), `received` lists the stream control requests the server got, and
`limits.stats` / `limits.count(ip)` expose the rate-limit counters.

Frames are written to the socket at once (`wire.write_now`); a client that does not read and lets
MAX_WRITE_BUFFER bytes pile up is disconnected as a slow consumer, as real venues do.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import logging
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.protocol import State

from hive_core.config import RateLimitRule, SimVenueConfig
from hive_core.market.signing import LOGON, USER_DATA, USER_DATA_SIGNED
from hive_core.market.types import OrderBook, OrderUpdate, Side, Trade
from hive_core.market.wire import (
    API_PATH,
    BOOK_TICKER,
    DEPTH,
    MAX_WRITE_BUFFER,
    STREAM_PATH,
    TRADE,
    fmt,
    parse_stream,
    symbol_of,
    write_now,
)
from hive_core.sim.api import ApiError, SimApi
from hive_core.sim.auth import SimKeys
from hive_core.sim.exchange import SimExchange
from hive_core.sim.limits import VenueLimits
from hive_core.stop_signal import stop_signalled

logger = logging.getLogger("hive.venue.server")
STREAM_KINDS = (DEPTH, TRADE, BOOK_TICKER)
MAX_STREAMS_PER_CONNECTION = 1024
RAW_STREAM_PATH = "/ws"


class _SymbolState:
    """What has been published for one symbol: its levels as strings and the last update id."""

    __slots__ = ("symbol", "pair", "bids", "asks", "update_id", "withhold")

    def __init__(self, symbol: str, pair: str) -> None:
        self.symbol = symbol
        self.pair = pair
        self.bids: dict[str, str] = {}
        self.asks: dict[str, str] = {}
        self.update_id = 0
        self.withhold = 0


class SimServer:
    """The simulated venue over WebSocket; see the module docstring."""

    def __init__(self, config: SimVenueConfig, *, host: str = "127.0.0.1", port: int = 0,
                 time_source: Callable[[], float] = time.time, exchange: SimExchange | None = None,
                 autostep: bool = True, ban_seconds: float = 120.0, keys: SimKeys | None = None) -> None:
        self.config = config
        self.host = host
        self.port = port
        self._now = time_source
        self.exchange = exchange if exchange is not None else SimExchange(config, time_source)
        self.limits = VenueLimits(config.rate_limits, ban_seconds=ban_seconds, clock=time.time)
        self.api = SimApi(self.exchange, self.limits, now=time_source, depth_snapshot=self.depth_snapshot, keys=keys)
        self.autostep = autostep
        self._symbols = {symbol_of(pair): _SymbolState(symbol_of(pair), pair) for pair in self.exchange.trading_pairs}
        self._by_pair = {state.pair: state for state in self._symbols.values()}
        self._subscribers: dict[str, set[ServerConnection]] = {}     # stream name -> connections
        self._streams_of: dict[ServerConnection, set[str]] = {}      # stream connection -> its streams
        self._raw: set[ServerConnection] = set()                     # stream connections on /ws: data unwrapped
        self._user_data: dict[ServerConnection, int] = {}           # API connection -> subscription id
        self._api_connections: set[ServerConnection] = set()
        self._drop_next_order: str | None = None  # drop_at_next_order()
        self._server: Server | None = None
        self._stepper: asyncio.Task | None = None
        self.received: list[dict] = []        # stream control requests, in arrival order (tests)
        self.stats = {"stream_connections": 0, "api_connections": 0, "messages_out": 0, "slow_consumers": 0,
                      "steps": 0, "withheld": 0}
        for state in self._symbols.values():
            self._publish_levels(state, self.exchange.order_book(state.pair), send=False)
        self.exchange.add_market_listener(self._on_market)
        self.exchange.add_order_listener(self._on_order_update)

    # ---- lifecycle ----------------------------------------------------------------------------

    async def start(self) -> None:
        self._server = await serve(self._handle, self.host, self.port, max_size=2**20, ping_interval=20,
                                   ping_timeout=20, compression=None)
        self.port = next(iter(self._server.sockets)).getsockname()[1]
        if self.autostep:
            self._stepper = asyncio.create_task(self._step_loop(), name="sim-venue-step")
        logger.info("simulated venue listening on %s (%s)", self.url, ", ".join(self._by_pair))

    async def stop(self) -> None:
        if self._stepper is not None:
            self._stepper.cancel()
            try:
                await self._stepper
            except asyncio.CancelledError:
                pass
            self._stepper = None
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    @property
    def url(self) -> str:
        return f"ws://{self.host}:{self.port}"

    async def _step_loop(self) -> None:
        loop = asyncio.get_running_loop()
        interval = self.config.step_interval
        next_at = loop.time()
        while True:
            next_at += interval
            delay = next_at - loop.time()
            if delay < -interval:
                next_at = loop.time()        # far behind (a stalled loop): skip, never burst
                delay = 0.0
            await asyncio.sleep(max(delay, 0.0))
            try:
                self.step()
            except Exception:
                logger.exception("simulated market step failed")

    def step(self) -> None:
        """Advance every pair one step and publish the changes."""
        self.stats["steps"] += 1
        self.exchange.step()

    # ---- test hooks ---------------------------------------------------------------------------

    async def drop_connections(self) -> int:
        """Abort every client connection (no close handshake, like a network failure)."""
        connections = list(self._streams_of) + list(self._api_connections)
        for connection in connections:
            connection.transport.abort()
        if connections:
            await asyncio.sleep(0)
        return len(connections)

    def inject_gap(self, trading_pair: str, updates: int = 1) -> None:
        """Withhold the next `updates` depth updates of a pair: subscribers see a sequence gap."""
        self._state(trading_pair).withhold += updates

    async def blast(self, stream: str, messages: list[str]) -> int:
        """Benchmark hook: send pre-encoded `data` JSON texts on `stream` as fast as flow control allows."""
        sent = 0
        for connection in list(self._subscribers.get(stream, ())):
            for data_json in messages:
                await connection.send(f'{{"stream":"{stream}","data":{data_json}}}')
                sent += 1
        return sent

    def stream_connections(self) -> int:
        """Stream connections subscribed to something now."""
        return len({connection for connections in self._subscribers.values() for connection in connections})

    def subscriptions(self) -> dict[str, int]:
        """Stream name -> number of connections subscribed to it."""
        return {stream: len(connections) for stream, connections in self._subscribers.items() if connections}

    # ---- market data --------------------------------------------------------------------------

    def _state(self, pair_or_symbol: str) -> _SymbolState:
        state = self._by_pair.get(pair_or_symbol) or self._symbols.get(symbol_of(pair_or_symbol))
        if state is None:
            raise KeyError(f"{pair_or_symbol!r} is not traded on this venue")
        return state

    def depth_snapshot(self, symbol: str, limit: int) -> dict:
        state = self._symbols[symbol]
        bids = sorted(state.bids.items(), key=lambda level: -float(level[0]))[:limit]
        asks = sorted(state.asks.items(), key=lambda level: float(level[0]))[:limit]
        return {"lastUpdateId": state.update_id, "bids": [list(level) for level in bids],
                "asks": [list(level) for level in asks]}

    def _on_market(self, book: OrderBook, trades: list[Trade]) -> None:
        state = self._by_pair[book.trading_pair]
        self._publish_levels(state, book, send=True)
        if trades:
            self._publish_trades(state, trades)

    def _publish_levels(self, state: _SymbolState, book: OrderBook, *, send: bool) -> None:
        bid_changes = _diff(state.bids, book.bids)
        ask_changes = _diff(state.asks, book.asks)
        if not bid_changes and not ask_changes:
            return
        first = state.update_id + 1
        state.update_id += len(bid_changes) + len(ask_changes)
        if not send:
            return
        symbol = state.symbol
        lower = symbol.lower()
        event_ms = int(self._now() * 1000)
        if state.withhold > 0:
            state.withhold -= 1
            self.stats["withheld"] += 1
        else:
            data = json.dumps({"e": "depthUpdate", "E": event_ms, "s": symbol, "U": first, "u": state.update_id,
                               "b": bid_changes, "a": ask_changes}, separators=(",", ":"))
            for suffix in ("@depth", "@depth@100ms", "@depth@1000ms"):
                self._broadcast(lower + suffix, data)
        if book.bids and book.asks:
            best_bid, best_ask = book.bids[0], book.asks[0]
            ticker = json.dumps({"u": state.update_id, "s": symbol, "b": fmt(best_bid[0]), "B": fmt(best_bid[1]),
                                 "a": fmt(best_ask[0]), "A": fmt(best_ask[1])}, separators=(",", ":"))
            self._broadcast(lower + "@bookTicker", ticker)

    def _publish_trades(self, state: _SymbolState, trades: list[Trade]) -> None:
        stream = state.symbol.lower() + "@trade"
        if not self._subscribers.get(stream):
            return
        for trade in trades:
            ms = int(trade.timestamp * 1000)
            data = json.dumps({"e": "trade", "E": int(self._now() * 1000), "s": state.symbol,
                               "t": _trade_number(trade.trade_id), "p": fmt(trade.price), "q": fmt(trade.amount),
                               "T": ms, "m": trade.side is Side.SELL, "M": True}, separators=(",", ":"))
            self._broadcast(stream, data)

    def _broadcast(self, stream: str, data_json: str) -> None:
        connections = self._subscribers.get(stream)
        if not connections:
            return
        text = f'{{"stream":"{stream}","data":{data_json}}}'
        for connection in list(connections):
            self._write(connection, data_json if connection in self._raw else text)

    def _write(self, connection: ServerConnection, text: str) -> None:
        if write_now(connection, text):
            self.stats["messages_out"] += 1
            return
        transport = connection.transport
        if (connection.protocol.state is State.OPEN and transport is not None and not transport.is_closing()
                and transport.get_write_buffer_size() > MAX_WRITE_BUFFER):
            # Not readable fast enough: drop it rather than buffer without bound.
            self.stats["slow_consumers"] += 1
            logger.warning("disconnecting slow consumer %s", connection.remote_address)
            transport.abort()

    # ---- order updates ------------------------------------------------------------------------

    def _on_order_update(self, update: OrderUpdate) -> None:
        if not self._user_data:
            return
        report = self.api.execution_report(update)
        if report is None:
            return
        for connection, subscription in list(self._user_data.items()):
            self._write(connection, json.dumps({"subscriptionId": subscription, "event": report},
                                               separators=(",", ":")))

    # ---- connections --------------------------------------------------------------------------

    async def _handle(self, connection: ServerConnection) -> None:
        path = urlsplit(connection.request.path if connection.request else "/")
        if path.path.rstrip("/") == STREAM_PATH:
            await self._serve_streams(connection, parse_qs(path.query).get("streams", []))
        elif path.path.rstrip("/") == API_PATH:
            await self._serve_api(connection)
        elif path.path == RAW_STREAM_PATH or path.path.startswith(RAW_STREAM_PATH + "/"):
            await self._serve_streams(connection, [path.path[len(RAW_STREAM_PATH) + 1:]], unwrapped=True)
        else:
            await connection.close(code=1008, reason=f"unknown path {path.path}")

    async def _serve_streams(self, connection: ServerConnection, initial: list[str], unwrapped: bool = False) -> None:
        self.stats["stream_connections"] += 1
        mine: set[str] = set()
        self._streams_of[connection] = mine
        if unwrapped:
            self._raw.add(connection)
        try:
            for value in initial:
                for stream in value.split("/"):
                    if self._valid_stream(stream):
                        self._add_subscriber(connection, stream)
            async for raw in connection:
                reply = self._stream_control(connection, raw)
                if reply is not None:
                    self._write(connection, json.dumps(reply, separators=(",", ":")))
        except ConnectionClosed:
            pass
        finally:
            self._raw.discard(connection)
            for stream in self._streams_of.pop(connection, set()):
                subscribers = self._subscribers.get(stream)
                if subscribers is not None:
                    subscribers.discard(connection)

    def _stream_control(self, connection: ServerConnection, raw: Any) -> dict | None:
        try:
            request = json.loads(raw)
        except ValueError:
            return {"error": {"code": 3, "msg": "Invalid JSON: expected value at line 1 column 1"}}
        if not isinstance(request, dict):
            return {"error": {"code": 3, "msg": "Invalid JSON: expected an object"}}
        request_id = request.get("id")
        method = request.get("method")
        params = request.get("params", [])
        self.received.append({"method": method, "params": params, "id": request_id})
        mine = self._streams_of[connection]
        if method == "LIST_SUBSCRIPTIONS":
            return {"result": sorted(mine), "id": request_id}
        if method not in ("SUBSCRIBE", "UNSUBSCRIBE") or not isinstance(params, list):
            return {"error": {"code": 2, "msg": f"Invalid request: unknown method or params {method!r}"},
                    "id": request_id}
        bad = [stream for stream in params if not isinstance(stream, str) or not self._valid_stream(stream)]
        if bad:
            return {"error": {"code": 2, "msg": f"Invalid request: unknown stream(s) {bad}"}, "id": request_id}
        for stream in params:
            if method == "SUBSCRIBE":
                if len(mine) >= MAX_STREAMS_PER_CONNECTION:
                    return {"error": {"code": 2, "msg": "Invalid request: too many streams"}, "id": request_id}
                self._add_subscriber(connection, stream)
            else:
                mine.discard(stream)
                self._subscribers.get(stream, set()).discard(connection)
        return {"result": None, "id": request_id}

    def _add_subscriber(self, connection: ServerConnection, stream: str) -> None:
        self._streams_of[connection].add(stream)
        self._subscribers.setdefault(stream, set()).add(connection)

    def _valid_stream(self, stream: str) -> bool:
        symbol, kind = parse_stream(stream)
        if symbol not in self._symbols or kind not in STREAM_KINDS:
            return False
        suffix = stream.partition("@")[2]
        return suffix in ("depth", "depth@100ms", "depth@1000ms", "trade", "bookTicker")

    async def _serve_api(self, connection: ServerConnection) -> None:
        self.stats["api_connections"] += 1
        self._api_connections.add(connection)
        ip = connection.remote_address[0] if connection.remote_address else "?"
        logon = _Logon(self.api, connected_at=int(self._now() * 1000))
        session = {
            USER_DATA: lambda _params: self._subscribe_user_data(connection, logon),
            USER_DATA_SIGNED: lambda _params: self._subscribe_user_data(connection),  # its signature checked
            "userDataStream.unsubscribe": lambda _params: self._unsubscribe_user_data(connection),
            LOGON: logon.log_on,
            "session.logout": logon.log_out,
        }
        try:
            async for raw in connection:
                try:
                    request = json.loads(raw)
                except ValueError:
                    request = None
                drop = self._drop_next_order if _is_order(request) else None
                if drop == "before":  # the order never reaches the venue
                    self._drop_next_order = None
                    await connection.close()
                    break
                if drop == "after":  # nothing of this order reaches the connection: its reports are lost too
                    self._user_data.pop(connection, None)
                response = self.api.handle(ip, request, session, logon.api_key)
                if drop == "after":  # the venue took the order; its answer is lost with the connection
                    self._drop_next_order = None
                    await connection.close()
                    break
                text = json.dumps(response, separators=(",", ":"))
                if not write_now(connection, text):
                    await connection.send(text)
        except ConnectionClosed:
            pass
        finally:
            self._api_connections.discard(connection)
            self._user_data.pop(connection, None)

    def drop_at_next_order(self, when: str) -> None:
        """Test hook: close the API connection at the next order.place, `before` the venue handles it (the order
        is lost) or `after` (the venue has it; its answer is lost)."""
        if when not in ("before", "after"):
            raise ValueError(f"when must be 'before' or 'after', not {when!r}")
        self._drop_next_order = when

    def _subscribe_user_data(self, connection: ServerConnection, logon: _Logon | None = None) -> dict:
        """userDataStream.subscribe (`logon`: on a venue with keys, only on a connection that logged on) or its
        signed form."""
        if logon is not None and self.api.keys is not None and logon.api_key is None:
            raise ApiError(400, -1002, "You are not authorized to execute this request: log on (session.logon) "
                                       "or use userDataStream.subscribe.signature.")
        subscription = self._user_data.get(connection)
        if subscription is None:
            subscription = self._user_data[connection] = len(self._user_data)
        return {"subscriptionId": subscription}

    def _unsubscribe_user_data(self, connection: ServerConnection) -> dict:
        self._user_data.pop(connection, None)
        return {}


def _is_order(request: Any) -> bool:
    return isinstance(request, dict) and request.get("method") == "order.place"


class _Logon:
    """One API connection's session.logon (its signature already checked by SimApi: the method is SIGNED)."""

    def __init__(self, api: SimApi, connected_at: int) -> None:
        self.api = api
        self.connected_at = connected_at
        self.api_key: str | None = None
        self.since: int | None = None

    def log_on(self, params: dict) -> dict:
        api_key = str(params.get("apiKey") or "")
        if self.api.keys is not None and not self.api.keys.can_log_on(api_key):
            raise ApiError(400, -1002, "You are not authorized to execute this request: session.logon takes "
                                       "Ed25519 keys only.")
        self.api_key, self.since = api_key, self.api.server_ms()
        return self.status()

    def log_out(self, _params: dict) -> dict:
        self.api_key = self.since = None
        return self.status()

    def status(self) -> dict:
        return {"apiKey": self.api_key, "authorizedSince": self.since, "connectedSince": self.connected_at,
                "returnRateLimits": True, "serverTime": self.api.server_ms(), "userDataStream": False}


def _diff(published: dict[str, str], levels: tuple[tuple[float, float], ...]) -> list[list[str]]:
    """Changes from the published levels to `levels` (qty "0" for removed ones); updates `published`."""
    fresh = {fmt(price): fmt(size) for price, size in levels}
    changes = [[price, "0.00000000"] for price in published if price not in fresh]
    changes.extend([price, size] for price, size in fresh.items() if published.get(price) != size)
    published.clear()
    published.update(fresh)
    return changes


def _trade_number(trade_id: str) -> int:
    digits = trade_id.rpartition("t")[2]
    return int(digits) if digits.isdigit() else abs(hash(trade_id)) % 2**53


# ---- standalone -------------------------------------------------------------------------------


def _rule(text: str) -> RateLimitRule:
    kind, seconds, limit = text.split(":")
    return RateLimitRule.model_validate({"limit_type": kind.upper(), "interval_s": float(seconds), "limit": int(limit)})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="hive_core's simulated venue (Binance spot wire format)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9400)
    parser.add_argument("--pairs", default="BTC-USDT", help="comma-separated trading pairs")
    parser.add_argument("--prices", default="", help="initial mids, e.g. BTC-USDT=65000,ETH-USDT=3000")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--step-interval", type=float, default=0.25)
    parser.add_argument("--volatility", type=float, default=0.0005)
    parser.add_argument("--fee-rate", type=float, default=0.001)
    parser.add_argument("--rate-limit", action="append", default=[], metavar="TYPE:SECONDS:LIMIT",
                        help="e.g. REQUEST_WEIGHT:60:6000 (repeatable; Binance's published limits by default)")
    parser.add_argument("--ban-seconds", type=float, default=120.0)
    args = parser.parse_args(argv)
    settings: dict[str, Any] = {
        "trading_pairs": [pair.strip() for pair in args.pairs.split(",") if pair.strip()],
        "initial_prices": {key: float(value) for key, _, value in
                           (item.partition("=") for item in args.prices.split(",") if item)},
        "seed": args.seed, "step_interval": args.step_interval, "volatility": args.volatility,
        "fee_rate": args.fee_rate}
    if args.rate_limit:
        settings["rate_limits"] = [_rule(text) for text in args.rate_limit]
    config = SimVenueConfig(**settings)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    async def run() -> None:
        server = SimServer(config, host=args.host, port=args.port, ban_seconds=args.ban_seconds)
        await server.start()
        print(f"listening on {server.url} (streams {STREAM_PATH}, API {API_PATH})", flush=True)
        await stop_signalled()
        await server.stop()

    asyncio.run(run())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
