"""One persistent WebSocket API connection per venue (Binance's WS API format, path `/ws-api/v3`).

Interface (what the order manager codes against)::

    api = VenueApi("ws://127.0.0.1:9400")           # base URL of the venue; /ws-api/v3 is appended
    await api.start()                                # connects in the background; reconnects for ever
    await api.wait_connected(timeout=5.0)            # -> bool
    response = await api.request("order.place", {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT",
                                                 "timeInForce": "GTC", "price": "100.0", "quantity": "0.1",
                                                 "newClientOrderId": "mm1-000001"})
    future = api.write_nowait("order.cancel", {...}) # the frame is on the socket when this returns;
                                                     # raises NotConnected when there is no connection
    response = await future
    api.on_user_event(callback)                      # callback(event: dict): executionReport, ...
    VenueApi(url, signer=RequestSigner(api_key, signer_for(secret)))  # SIGNED methods signed (market/signing.py),
                                                     # on the venue's clock, measured with `time` on every connect;
                                                     # an Ed25519 key logs the connection on (session.logon)
    await api.subscribe_user_data()                  # and again automatically after every reconnect
    await api.stop()

Every request resolves to an `ApiResponse` (it never raises for venue or network trouble):
`status` 200 with `result`, or the venue's 4xx with `error_code`/`error_msg`; 429 (rate limited) and
418 (banned) carry `retry_after` in seconds from now (from `error.data.retryAfter`/`bannedUntil`).
Two local statuses: 408 when no answer came within the timeout, 503 when the connection was lost
(or never up) before the answer. `used_weight`/`order_count` are the busiest REQUEST_WEIGHT/ORDERS
window counts of the answer's `rateLimits` (`rate_limits` has them all); the latest values are
also kept on the connection (`api.used_weight`, `api.retry_after_until`).

Callbacks run on the event loop, synchronously, and must be cheap. All of it is asyncio, single-threaded.
"""
from __future__ import annotations

import asyncio
import itertools
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from websockets.asyncio.client import ClientConnection

from hive_core.market.backoff import Backoff
from hive_core.market.signing import LOGON, SIGNED_METHODS, USER_DATA, USER_DATA_SIGNED, RequestSigner, ServerClock
from hive_core.market.wire import API_PATH, interval_seconds, write_now
from hive_core.market.ws_connection import ReconnectingWebSocket, open_websocket

logger = logging.getLogger("hive.venue.api")
LOCAL_TIMEOUT = 408
LOCAL_UNAVAILABLE = 503
TIMESTAMP_OUTSIDE_WINDOW = -1021  # Binance's code for a signed request's timestamp it refused

UserEventCallback = Callable[[dict], None]


class NotConnected(ConnectionError):
    """write_nowait() without an open connection."""


@dataclass(frozen=True, slots=True)
class RateLimitState:
    """One entry of a response's `rateLimits`."""

    limit_type: str          # REQUEST_WEIGHT | ORDERS
    interval_s: float
    limit: int
    count: int


@dataclass(frozen=True, slots=True)
class ApiResponse:
    """The answer to one request; see the module docstring."""

    id: int
    method: str
    status: int
    result: Any = None
    error_code: int | None = None
    error_msg: str | None = None
    retry_after: float | None = None        # seconds from now (429/418)
    used_weight: int | None = None
    order_count: int | None = None
    rate_limits: tuple[RateLimitState, ...] = ()
    local: bool = False                     # 408/503 made up by this side, not sent by the venue

    @property
    def ok(self) -> bool:
        return self.status == 200

    @property
    def throttled(self) -> bool:
        """429 (slow down) or 418 (banned)."""
        return self.status in (429, 418)


class VenueApi(ReconnectingWebSocket[ClientConnection]):
    """The WS API connection of one venue; see the module docstring."""

    def __init__(self, url: str, *, request_timeout: float = 10.0, connect_timeout: float = 5.0,
                 backoff: Backoff | None = None, signer: RequestSigner | None = None) -> None:
        base = url.rstrip("/")
        url = base if base.endswith(API_PATH) else base + API_PATH
        super().__init__(url, name="venue-api", backoff=backoff or Backoff(0.1, 5.0), connect_timeout=connect_timeout)
        self.request_timeout = request_timeout
        self._pending: dict[int, tuple[asyncio.Future, asyncio.TimerHandle, str]] = {}
        self._ids = itertools.count(1)
        self._user_callbacks: list[UserEventCallback] = []
        self._user_data_wanted = False
        self.used_weight: int | None = None
        self.order_count: int | None = None
        self.retry_after_until = 0.0          # epoch seconds the venue asked us to wait until
        self.signer = signer
        self._clock_sync: asyncio.Task | None = None
        self._logged_on: ClientConnection | None = None  # the connection that session.logon authenticated
        self._connected_callbacks: list[Callable[[], None]] = []
        self.stats.update({"requests": 0, "responses": 0, "timeouts": 0, "lost": 0, "throttled": 0, "banned": 0,
                           "user_events": 0, "callback_errors": 0})

    # ---- connection hooks ---------------------------------------------------------------------

    async def _connect(self, url: str) -> ClientConnection:
        return await open_websocket(url, self.connect_timeout)

    def _on_open(self, connection: ClientConnection) -> None:
        self._backoff.reset()
        if self.signer is not None:  # the user data subscription follows the session (it is signed or logged on)
            self._clock_sync = asyncio.ensure_future(self._open_session(self.signer, connection))
        else:
            self._ready()

    def _ready(self) -> None:
        """The connection can carry the account's requests: subscribe to its events, then tell the listeners
        (what they ask from now on cannot miss an event)."""
        if self._user_data_wanted:
            self._send_user_data_subscribe()
        for callback in tuple(self._connected_callbacks):
            try:
                callback()
            except Exception:
                logger.exception("venue API connected callback failed")

    def on_connected(self, callback: Callable[[], None]) -> None:
        """Call `callback` (on the loop, cheap) each time the connection comes up, after the user data
        subscription went out (with a signer: after the clock was measured and the logon made)."""
        self._connected_callbacks.append(callback)

    @property
    def logged_on(self) -> bool:
        """This connection logged on (session.logon): its SIGNED requests go without a signature of their own."""
        return self._logged_on is not None and self._logged_on is self._connection

    async def _open_session(self, signer: RequestSigner, connection: ClientConnection) -> None:
        """Measure the venue's clock; then, with an Ed25519 key, log the connection on (session.logon), so that
        its requests need no signature of their own."""
        await self._clock_offset(signer.clock)
        if signer.can_log_on and self._connection is connection:
            response = await self.request(LOGON)
            if response.ok and self._connection is connection:
                self._logged_on = connection
            elif not response.ok:
                logger.warning("session.logon refused (%s %s): every request is signed", response.status,
                               response.error_msg)
        if self._connection is connection:
            self._ready()

    def _measure_clock(self) -> None:
        """Measure the venue's clock again (a signed request's timestamp was refused), unless a measurement is
        under way."""
        if self.signer is not None and (self._clock_sync is None or self._clock_sync.done()):
            self._clock_sync = asyncio.ensure_future(self._clock_offset(self.signer.clock))

    async def _clock_offset(self, clock: ServerClock) -> None:
        sent = time.time()
        response = await self.request("time")
        if response.ok and isinstance(response.result, dict) and "serverTime" in response.result:
            clock.update(float(response.result["serverTime"]), sent, time.time())
        else:
            logger.warning("could not read the venue's clock: %s %s", response.status, response.error_msg)

    async def _read(self, connection: ClientConnection) -> None:
        async for raw in connection:
            self._on_message(raw)

    def _on_close(self) -> None:
        self._fail_pending("connection lost")

    # ---- requests -----------------------------------------------------------------------------

    def write_nowait(self, method: str, params: dict | None = None, *, timeout: float | None = None) -> asyncio.Future:
        """Write the request frame now; returns the future of its ApiResponse. Raises NotConnected."""
        connection = self._connection
        if connection is None:
            raise NotConnected(f"no connection to {self.url}")
        request_id = next(self._ids)
        if self.signer is not None and method in SIGNED_METHODS:
            logged_on = self._logged_on is connection and method != LOGON
            params = self.signer.timed(params or {}) if logged_on else self.signer.signed(params or {})
        frame = json.dumps({"id": request_id, "method": method, "params": params or {}}, separators=(",", ":"))
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        timer = loop.call_later(self.request_timeout if timeout is None else timeout, self._expire, request_id)
        self._pending[request_id] = (future, timer, method)
        self.stats["requests"] += 1
        if not write_now(connection, frame):
            # Open but the socket buffer is full (flow control): queue behind it instead of failing.
            asyncio.ensure_future(self._send_late(connection, request_id, frame))
        return future

    async def request(self, method: str, params: dict | None = None, *, timeout: float | None = None) -> ApiResponse:
        """Send one request (waiting up to `timeout` for a connection) and await its ApiResponse."""
        timeout = self.request_timeout if timeout is None else timeout
        if self._connection is None:
            started = time.monotonic()
            if not await self.wait_connected(timeout):
                return ApiResponse(0, method, LOCAL_UNAVAILABLE, error_msg="not connected", local=True)
            timeout = max(timeout - (time.monotonic() - started), 0.001)
        try:
            future = self.write_nowait(method, params, timeout=timeout)
        except NotConnected:
            return ApiResponse(0, method, LOCAL_UNAVAILABLE, error_msg="not connected", local=True)
        return await future

    async def depth_snapshot(self, symbol: str, limit: int = 1000) -> dict | None:
        """The `depth` result for a symbol, or None when it could not be had (logged)."""
        response = await self.request("depth", {"symbol": symbol, "limit": limit})
        if not response.ok:
            logger.warning("depth snapshot of %s failed: %s %s", symbol, response.status, response.error_msg)
            return None
        return response.result

    async def _send_late(self, connection: ClientConnection, request_id: int, frame: str) -> None:
        try:
            await connection.send(frame)
        except Exception:
            self._resolve(request_id, None, "connection lost")

    def _expire(self, request_id: int) -> None:
        entry = self._pending.pop(request_id, None)
        if entry is not None and not entry[0].done():
            self.stats["timeouts"] += 1
            entry[0].set_result(ApiResponse(request_id, entry[2], LOCAL_TIMEOUT, error_msg="no answer in time",
                                            local=True))

    def _fail_pending(self, reason: str) -> None:
        for request_id in list(self._pending):
            self._resolve(request_id, None, reason)

    def _resolve(self, request_id: int, response: ApiResponse | None, reason: str = "") -> None:
        entry = self._pending.pop(request_id, None)
        if entry is None:
            return
        future, timer, method = entry
        timer.cancel()
        if future.done():
            return
        if response is None:
            self.stats["lost"] += 1
            response = ApiResponse(request_id, method, LOCAL_UNAVAILABLE, error_msg=reason, local=True)
        future.set_result(response)

    # ---- user data ----------------------------------------------------------------------------

    def on_user_event(self, callback: UserEventCallback) -> None:
        self._user_callbacks.append(callback)

    async def subscribe_user_data(self) -> ApiResponse:
        """Subscribe this connection to the account's events; renewed after every reconnect."""
        self._user_data_wanted = True
        return await self.request(self._user_data_method())

    def _send_user_data_subscribe(self) -> None:
        try:
            self.write_nowait(self._user_data_method())
        except NotConnected:
            pass

    def _user_data_method(self) -> str:
        """Binance: userDataStream.subscribe on a connection that logged on (or a venue without keys), else
        userDataStream.subscribe.signature, a signed request."""
        return USER_DATA_SIGNED if self.signer is not None and not self.logged_on else USER_DATA

    # ---- incoming -----------------------------------------------------------------------------

    def _on_message(self, raw: str | bytes) -> None:
        try:
            message = json.loads(raw)
        except ValueError:
            logger.warning("venue API sent something that is not JSON: %.200r", raw)
            return
        if not isinstance(message, dict):
            return
        event = message.get("event")
        if event is not None:
            self.stats["user_events"] += 1
            for callback in tuple(self._user_callbacks):
                try:
                    callback(event)
                except Exception:
                    self.stats["callback_errors"] += 1
                    logger.exception("user data callback failed")
            return
        request_id = message.get("id")
        if not isinstance(request_id, int):
            return
        entry = self._pending.get(request_id)
        if entry is None:
            return
        self.stats["responses"] += 1
        response = self.parse_response(message, entry[2])
        if response.error_code == TIMESTAMP_OUTSIDE_WINDOW:
            self._measure_clock()  # the clocks drifted apart: measure again for the next requests
        if response.status == 429:
            self.stats["throttled"] += 1
        elif response.status == 418:
            self.stats["banned"] += 1
        self._resolve(request_id, response)

    def parse_response(self, message: dict, method: str = "") -> ApiResponse:
        """A venue answer as an ApiResponse; also updates the connection's latest limit figures."""
        limits = tuple(_rate_limit(entry) for entry in message.get("rateLimits") or () if isinstance(entry, dict))
        used = _busiest(limits, "REQUEST_WEIGHT")
        orders = _busiest(limits, "ORDERS")
        if used is not None:
            self.used_weight = used
        if orders is not None:
            self.order_count = orders
        status = int(message.get("status", 0))
        error = message.get("error") or {}
        retry_after = None
        if status in (429, 418):
            data = error.get("data") or {}
            until_ms = data.get("retryAfter") or data.get("bannedUntil")
            if until_ms:
                until = float(until_ms) / 1000.0
                self.retry_after_until = max(self.retry_after_until, until)
                retry_after = max(until - time.time(), 0.0)
        return ApiResponse(message.get("id", 0), method, status, message.get("result"), error.get("code"),
                           error.get("msg"), retry_after, used, orders, limits)


def _rate_limit(entry: dict) -> RateLimitState:
    return RateLimitState(str(entry.get("rateLimitType")),
                          interval_seconds(entry.get("interval", "SECOND"), entry.get("intervalNum", 1)),
                          int(entry.get("limit", 0)), int(entry.get("count", 0)))


def _busiest(limits: tuple[RateLimitState, ...], limit_type: str) -> int | None:
    """The count of the window of that type closest to its limit."""
    best = None
    for state in limits:
        if state.limit_type == limit_type and (best is None or state.count / max(state.limit, 1)
                                               > best.count / max(best.limit, 1)):
            best = state
    return None if best is None else best.count
