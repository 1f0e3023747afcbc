"""The host's market-data service: ONE upstream connection per venue endpoint, shared by every instance on the host.

    python -m hive_core.feed --socket /run/hive/feed.sock [--port 9500]

Instances reach it on a Unix domain socket (or TCP on 127.0.0.1) in the venue's own format, so an instance's
multiplexer speaks to it as to the venue (hive_core/market/multiplexer.py):

- `/u/<token>/stream`: combined streams of the upstream the token names (`upstream_token(stream_url, api_url)`):
  SUBSCRIBE / UNSUBSCRIBE / LIST_SUBSCRIPTIONS, then `{"stream", "data"}` messages, forwarded as the upstream sent
  them (its frames' own bytes), depth diffs once the service's own book applied them;
- `/u/<token>/ws-api/v3`: `depth` answered from the service's book (the same sequence the diffs continue, and `E`,
  the event time of its last diff, which Binance's own answer lacks), and
  `exchangeInfo`, `ping`, `time` from the upstream; nothing else (orders go to the venue, not through here);
- GET `/health`: JSON with the upstreams, their streams and clients, and the counters.

Subscriptions are reference counted across all clients (`Upstream`): a stream is subscribed upstream for its first
client and unsubscribed after its last one leaves; an upstream with no client left for `linger` seconds is closed.
The service keeps each subscribed symbol's book from snapshot plus diffs and resyncs it on a gap (the multiplexer
does), and its `depth` answers let a client build the same book.

A client that reads too slowly never slows the others: each client's unsent output is bounded. Past HIGH_WATER bytes
its messages are dropped (counted per stream); once its output is back under LOW_WATER it is told, one
`{"stream": s, "data": {"e": "behind", "dropped": n}}` per stream it missed, and resyncs those books.
"""
from __future__ import annotations

import asyncio
import itertools
import json
import logging
import time
from collections.abc import Callable
from http import HTTPStatus
from typing import Any

from websockets.asyncio.server import Server, ServerConnection, serve, unix_serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response
from websockets.protocol import State

from hive_core.feed.address import upstream_of
from hive_core.market.multiplexer import BEHIND, Multiplexer, Subscription
from hive_core.market.venue_api import ApiResponse, VenueApi
from hive_core.market.wire import API_PATH, STREAM_PATH, UPSTREAM_MARK, write_now

logger = logging.getLogger("hive.feed")
HIGH_WATER = 1024 * 1024   # bytes of a client's unsent output past which its messages are dropped
LOW_WATER = 256 * 1024     # ... and under which it is told what it missed, and fed again
DRAIN_CHECK_S = 0.05       # how often a client that fell behind is looked at
LINGER_S = 30.0            # an upstream without clients is closed after this long
SYNC_WAIT_S = 3.0          # a depth request waits this long for the service's book to sync before asking upstream
INFO_TTL_S = 60.0          # exchangeInfo answers are kept this long
FORWARDED = frozenset({"exchangeInfo", "ping", "time"})


class Client:
    """One instance's stream connection: what it subscribed to, and its bounded output.

    A message's frame (the venue's own) is the same for all its clients (Upstream._forward) and queued here; the
    queue goes to the socket in one write once the service has handled what it read of the venue (up to 256 KiB),
    so a client costs a reference to the bytes per message, not a frame and a system call."""

    _ids = itertools.count(1)

    def __init__(self, connection: ServerConnection) -> None:
        self.connection = connection
        self.id = next(self._ids)
        self.streams: set[str] = set()
        self.missed: dict[str, int] = {}   # stream -> messages dropped since it fell behind
        self._out: list[bytes] = []        # frames waiting for the next write
        self._queued = 0                   # their bytes
        self.stats = {"sent": 0, "dropped": 0, "behind": 0}

    def send(self, stream: str, frame: bytes) -> None:
        """Queue one message's frame (a server's text frame: unmasked, uncompressed, the same for every client)."""
        if self.missed or self._pending() + self._queued > HIGH_WATER:
            self._drop(stream)
            return
        if not self._out:
            asyncio.get_running_loop().call_soon(self._write)
        self._out.append(frame)
        self._queued += len(frame)
        self.stats["sent"] += 1

    def _write(self) -> None:
        out, self._out, self._queued = self._out, [], 0
        transport = self.connection.transport
        if transport is None or transport.is_closing() or self.connection.protocol.state is not State.OPEN:
            return
        transport.write(b"".join(out))   # whole frames, after any the connection wrote itself

    def _pending(self) -> int:
        transport = self.connection.transport
        return transport.get_write_buffer_size() if transport is not None else 0

    def _drop(self, stream: str) -> None:
        if not self.missed:   # it falls behind now: watch its output drain
            self.stats["behind"] += 1
            asyncio.get_running_loop().call_later(DRAIN_CHECK_S, self._catch_up)
        self.missed[stream] = self.missed.get(stream, 0) + 1
        self.stats["dropped"] += 1

    def _catch_up(self) -> None:
        """Once its output drained under LOW_WATER: tell it what it missed, per stream (it resyncs those books), and
        feed it again."""
        if self.connection.transport is None or self.connection.transport.is_closing():
            return
        if self._pending() > LOW_WATER:
            asyncio.get_running_loop().call_later(DRAIN_CHECK_S, self._catch_up)
            return
        missed, self.missed = self.missed, {}
        logger.warning("client %d read too slowly: %d messages dropped (%s); told to resync", self.id,
                       sum(missed.values()), ", ".join(sorted(missed)))
        for stream, dropped in missed.items():
            write_now(self.connection, json.dumps({"stream": stream, "data": {"e": BEHIND, "dropped": dropped}}))


class Upstream:
    """One venue endpoint: its stream connection (a Multiplexer, which keeps the books), a WS API connection for
    snapshots and exchange info, and the streams its clients want, reference counted."""

    def __init__(self, stream_url: str, api_url: str) -> None:
        self.stream_url, self.api_url = stream_url, api_url
        self.api = VenueApi(api_url)
        self.mux = Multiplexer(stream_url, fetch_snapshot=self.api.depth_snapshot, on_raw=self._forward)
        self.clients: dict[str, set[Client]] = {}
        self._holds: dict[str, Subscription] = {}
        self.api_clients = 0
        self.idle_since: float | None = None
        self._info: tuple[float, dict] | None = None            # (when, exchangeInfo's answer)
        self._info_asked: asyncio.Task[tuple[int, Any]] | None = None

    async def start(self) -> None:
        await self.api.start()
        await self.mux.start()

    async def stop(self) -> None:
        await self.mux.stop()
        await self.api.stop()

    def subscribe(self, client: Client, streams: list[str]) -> None:
        for stream in streams:
            if stream in client.streams:
                continue
            client.streams.add(stream)
            holders = self.clients.get(stream)
            if holders is None:
                holders = self.clients[stream] = set()
                self._holds[stream] = self.mux.subscribe(stream, _held)
            holders.add(client)
        self.idle_since = None

    def unsubscribe(self, client: Client, streams: list[str]) -> None:
        for stream in streams:
            client.streams.discard(stream)
            holders = self.clients.get(stream)
            if holders is None:
                continue
            holders.discard(client)
            if not holders:
                del self.clients[stream]
                self._holds.pop(stream).close()
        self._mark_idle()

    def leave(self, client: Client) -> None:
        self.unsubscribe(client, sorted(client.streams))

    def _mark_idle(self) -> None:
        if not self.clients and self.api_clients == 0 and self.idle_since is None:
            self.idle_since = time.monotonic()

    def _forward(self, stream: str, frame: bytes) -> None:
        """One message, as the venue's frame (the same bytes for every client: a server's frames are unmasked)."""
        clients = self.clients.get(stream)
        if not clients:
            return
        for client in tuple(clients):
            client.send(stream, frame)

    async def answer(self, method: str, params: dict) -> tuple[int, Any]:
        """(status, result or error) of one WS API request: depth from the book, a few others from upstream."""
        if method == "depth":
            return await self._depth(str(params.get("symbol", "")).upper(), int(params.get("limit", 100)))
        if method not in FORWARDED:
            return 400, {"code": -1100, "msg": f"the host's feed service serves market data only, not {method!r}: "
                                               "send it to the venue"}
        if method == "exchangeInfo" and not params:
            return await self._exchange_info()
        return _answer_of(await self.api.request(method, params or None))

    async def _exchange_info(self) -> tuple[int, Any]:
        """exchangeInfo, asked of the venue at most once per INFO_TTL_S for all clients (of weight 20 on Binance):
        clients that ask while it is being asked wait for the same answer."""
        if self._info is not None and time.monotonic() - self._info[0] < INFO_TTL_S:
            return 200, self._info[1]
        if self._info_asked is None:
            self._info_asked = asyncio.get_running_loop().create_task(self._ask_exchange_info())
        return await asyncio.shield(self._info_asked)

    async def _ask_exchange_info(self) -> tuple[int, Any]:
        try:
            response = await self.api.request("exchangeInfo")
            if response.ok:
                self._info = (time.monotonic(), response.result)
            return _answer_of(response)
        finally:
            self._info_asked = None

    async def _depth(self, symbol: str, limit: int) -> tuple[int, Any]:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + SYNC_WAIT_S
        while True:
            book = self.mux.book(symbol)
            if book is not None and book.synced:
                return 200, {"lastUpdateId": book.last_update_id, "bids": book.bids(limit), "asks": book.asks(limit),
                             "E": round(book.event_time * 1000)}   # how new: its last diff's event time
            if book is None or loop.time() >= deadline:
                break
            await asyncio.sleep(0.01)
        snapshot = await self.api.depth_snapshot(symbol, limit)   # a symbol the service keeps no book of (yet)
        if snapshot is None:
            return 503, {"code": -1001, "msg": f"no depth of {symbol} from the venue"}
        return 200, snapshot

    def describe(self) -> dict:
        """Its figures; `lag_ms`: how far behind the venue's clock its newest book update is (grows when the
        service falls behind the venue, whose connection then backs up)."""
        times = [book.event_time for book in self.mux.books().values() if book.event_time]
        lag = round((time.time() - max(times)) * 1000, 1) if times else None
        return {"stream_url": self.stream_url, "connected": self.mux.connected, "lag_ms": lag,
                "streams": {stream: len(holders) for stream, holders in sorted(self.clients.items())},
                "api_clients": self.api_clients, **{name: self.mux.stats[name] for name in
                                                    ("messages", "gaps", "resyncs", "reconnects", "subscribes_sent",
                                                     "unsubscribes_sent")}}


def _answer_of(response: ApiResponse) -> tuple[int, Any]:
    """(status, result or error) of an upstream answer, for the client."""
    if response.ok:
        return 200, response.result
    return response.status, {"code": response.error_code or -1, "msg": response.error_msg or "upstream failed"}


def _held(_stream: str, _data: dict) -> None:
    """The service's own hold on a stream; messages reach the clients raw (Upstream._forward)."""


class FeedService:
    """See the module docstring."""

    def __init__(self, *, socket_path: str | None = None, host: str = "127.0.0.1", port: int | None = None,
                 linger: float = LINGER_S, allowed: Callable[[str, str], bool] | None = None) -> None:
        if socket_path is None and port is None:
            raise ValueError("the feed service needs a socket path, a TCP port, or both")
        self.socket_path, self.host, self.port = socket_path, host, port
        self.linger = linger
        self.allowed = allowed or _loopback_or_tls
        self.upstreams: dict[str, Upstream] = {}
        self.clients: set[Client] = set()
        self._servers: list[Server] = []
        self._janitor: asyncio.Task | None = None
        self.stats = {"connections": 0, "refused": 0, "dropped_by_gone": 0}   # connections: taken so far

    async def start(self) -> None:
        if self.socket_path is not None:
            self._servers.append(await unix_serve(self._handle, self.socket_path, process_request=self._http,
                                                  compression=None, max_size=2**20))
        if self.port is not None:
            server = await serve(self._handle, self.host, self.port, process_request=self._http, compression=None,
                                 max_size=2**20)
            self.port = next(iter(server.sockets)).getsockname()[1]
            self._servers.append(server)
        self._janitor = asyncio.create_task(self._close_idle())
        logger.info("feed service listening on %s", ", ".join(self.addresses))

    @property
    def addresses(self) -> list[str]:
        out = [f"unix:{self.socket_path}"] if self.socket_path is not None else []
        return out + ([f"ws://{self.host}:{self.port}"] if self.port is not None else [])

    async def stop(self) -> None:
        if self._janitor is not None:
            self._janitor.cancel()
        for server in self._servers:
            server.close()
            await server.wait_closed()
        self._servers = []
        for upstream in self.upstreams.values():
            await upstream.stop()
        self.upstreams.clear()

    def health(self) -> dict:
        return {"addresses": self.addresses, **self.stats, "clients": len(self.clients),
                "dropped": self.stats["dropped_by_gone"] + sum(client.stats["dropped"] for client in self.clients),
                "upstreams": [upstream.describe() for upstream in self.upstreams.values()]}

    def _http(self, connection: ServerConnection, request: Request) -> Response | None:
        if request.path == "/health":
            body = json.dumps(self.health()).encode()
            return Response(HTTPStatus.OK.value, "OK", _headers(len(body)), body)
        return None

    async def _upstream(self, token: str) -> Upstream | None:
        upstream = self.upstreams.get(token)
        if upstream is not None:
            return upstream
        pair = upstream_of(token)
        if pair is None or not self.allowed(*pair):
            return None
        upstream = self.upstreams[token] = Upstream(*pair)
        await upstream.start()
        logger.info("upstream %s (API %s) opened", *pair)
        return upstream

    async def _handle(self, connection: ServerConnection) -> None:
        path = connection.request.path if connection.request is not None else ""
        token, _, tail = path.removeprefix(UPSTREAM_MARK).partition("/")
        upstream = await self._upstream(token) if path.startswith(UPSTREAM_MARK) else None
        if upstream is None or f"/{tail}" not in (STREAM_PATH, API_PATH):
            self.stats["refused"] += 1
            await connection.close(1008, "unknown path: /u/<upstream token>/stream or /ws-api/v3")
            return
        if f"/{tail}" == STREAM_PATH:
            await self._serve_streams(connection, upstream)
        else:
            await self._serve_api(connection, upstream)

    async def _serve_streams(self, connection: ServerConnection, upstream: Upstream) -> None:
        client = Client(connection)
        self.clients.add(client)
        self.stats["connections"] += 1
        try:
            async for raw in connection:
                reply = self._control(client, upstream, raw)
                if reply is not None:
                    write_now(connection, json.dumps(reply))
        except ConnectionClosed:
            pass
        finally:
            self.clients.discard(client)
            self.stats["dropped_by_gone"] += client.stats["dropped"]
            upstream.leave(client)

    @staticmethod
    def _control(client: Client, upstream: Upstream, raw: str | bytes) -> dict | None:
        try:
            request = json.loads(raw)
            method, request_id = request["method"], request.get("id")
            streams = [str(stream) for stream in request.get("params") or []]
        except (ValueError, KeyError, TypeError, AttributeError):
            return {"error": {"code": 2, "msg": "Invalid request: expected {method, params, id}"}, "id": None}
        if method == "SUBSCRIBE":
            upstream.subscribe(client, streams)
        elif method == "UNSUBSCRIBE":
            upstream.unsubscribe(client, streams)
        elif method == "LIST_SUBSCRIPTIONS":
            return {"result": sorted(client.streams), "id": request_id}
        else:
            return {"error": {"code": 2, "msg": f"Invalid request: unknown method {method!r}"}, "id": request_id}
        return {"result": None, "id": request_id}

    async def _serve_api(self, connection: ServerConnection, upstream: Upstream) -> None:
        upstream.api_clients += 1
        upstream.idle_since = None
        try:
            async for raw in connection:
                try:
                    request = json.loads(raw)
                    request_id, method = request.get("id"), str(request["method"])
                    params = request.get("params") or {}
                except (ValueError, KeyError, TypeError, AttributeError):
                    await connection.send(json.dumps({"id": None, "status": 400, "error": {
                        "code": -1102, "msg": "Mandatory parameter 'method' was not sent, was empty/null, or "
                                              "malformed."}}))
                    continue
                status, body = await upstream.answer(method, params if isinstance(params, dict) else {})
                key = "result" if status == 200 else "error"
                await connection.send(json.dumps({"id": request_id, "status": status, key: body}))
        except ConnectionClosed:
            pass
        finally:
            upstream.api_clients -= 1
            upstream._mark_idle()

    async def _close_idle(self) -> None:
        while True:
            await asyncio.sleep(min(self.linger, 5.0))
            now = time.monotonic()
            for token, upstream in list(self.upstreams.items()):
                if upstream.idle_since is not None and now - upstream.idle_since >= self.linger:
                    del self.upstreams[token]
                    await upstream.stop()
                    logger.info("upstream %s closed: no client for %g s", upstream.stream_url, self.linger)


def _loopback_or_tls(stream_url: str, api_url: str) -> bool:
    """The upstreams a client may ask for: a venue over TLS, or one on this host's loopback (the simulated venue);
    not a plain ws:// address elsewhere."""
    def fine(url: str) -> bool:
        return url.startswith("wss://") or url.startswith(("ws://127.0.0.1:", "ws://localhost:", "ws://[::1]:"))
    return fine(stream_url) and fine(api_url)


def _headers(length: int) -> Headers:
    return Headers([("Content-Type", "application/json"), ("Content-Length", str(length))])
