"""What the order manager needs from a venue connection, and the answers it understands.

`OrderTransport` is deliberately one method: write one WS API request frame NOW (synchronously,
no await, so "order call -> frame on the socket" costs no event-loop round trip) and call
`on_reply` once with the answer when it arrives. Answers are Binance WS API response objects
(`{"id", "status", "result" | "error", "rateLimits"}`) or already parsed `VenueReply`s. A
transport that loses its connection calls `on_reply` for every unanswered request with a
status >= 500 (`connection_lost_reply()`), and `send` raises when it cannot write at all.

`InProcessTransport` serves the same requests from an in-process `SimExchange` (the runtime's path in
virtual time): the answer arrives inside `send`.
"""
from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from hive_core.market.types import Side
from hive_core.market.wire import interval_seconds, symbol_of

ReplyCallback = Callable[[Any], None]


@runtime_checkable
class OrderTransport(Protocol):
    def send(self, method: str, params: Mapping[str, Any], on_reply: ReplyCallback) -> None:
        """Write the request frame now; call on_reply(answer) once when the answer arrives."""


@dataclass(frozen=True, slots=True)
class LimitUsage:
    """One entry of a response's `rateLimits`: the venue's own count in its current window."""

    limit_type: str
    interval_s: float
    limit: int
    count: int


@dataclass(frozen=True, slots=True)
class VenueReply:
    status: int
    result: Any = None
    code: int | None = None
    msg: str = ""
    retry_after: float | None = None       # seconds from when the answer was made
    rate_limits: tuple[LimitUsage, ...] = ()
    unknown: bool = False  # written, but no answer came (timed out, or the connection dropped): the venue may have it

    @property
    def ok(self) -> bool:
        return self.status < 400


def parse_reply(raw: Any, wall_now: float | None = None) -> VenueReply:
    """A Binance WS API response object -> VenueReply.

    `error.data.retryAfter` (and `bannedUntil`) are epoch milliseconds on Binance; they are turned
    into seconds from `error.data.serverTime` when present, else from `wall_now` (time.time()).
    A small number (< 1e9) is taken as seconds already.
    """
    if isinstance(raw, VenueReply):
        return raw
    if not isinstance(raw, Mapping) and hasattr(raw, "status"):
        return _from_object(raw)
    if not isinstance(raw, Mapping):
        return VenueReply(502, msg=f"unreadable answer {raw!r:.200}")
    try:
        status = int(raw.get("status", 0))
    except (TypeError, ValueError):
        status = 502
    usages = []
    for entry in raw.get("rateLimits") or ():
        try:
            usages.append(LimitUsage(str(entry["rateLimitType"]),
                                     interval_seconds(entry["interval"], entry["intervalNum"]),
                                     int(entry["limit"]), int(entry["count"])))
        except (KeyError, TypeError, ValueError):
            continue
    error = raw.get("error") if isinstance(raw.get("error"), Mapping) else None
    if error is None:
        return VenueReply(status, raw.get("result"), rate_limits=tuple(usages))
    data = error.get("data") if isinstance(error.get("data"), Mapping) else {}
    retry_after = None
    mark = data.get("retryAfter", data.get("bannedUntil", raw.get("retryAfter")))
    if isinstance(mark, (int, float)) and not isinstance(mark, bool):
        if mark >= 1e9:
            reference = data.get("serverTime")
            if isinstance(reference, (int, float)) and reference >= 1e9:
                retry_after = (mark - reference) / 1000.0
            else:
                retry_after = mark / 1000.0 - (time.time() if wall_now is None else wall_now)
        else:
            retry_after = float(mark)
        retry_after = max(retry_after, 0.0)
    code = error.get("code")
    return VenueReply(status, None, code if isinstance(code, int) else None, str(error.get("msg", "")),
                      retry_after, tuple(usages))


def _from_object(answer: Any) -> VenueReply:
    """An already parsed answer object (hive_core.market.venue_api.ApiResponse), read by attribute."""
    usages = tuple(LimitUsage(state.limit_type, float(state.interval_s), int(state.limit), int(state.count))
                   for state in getattr(answer, "rate_limits", ()) or ())
    code = getattr(answer, "error_code", None)
    return VenueReply(int(answer.status), getattr(answer, "result", None), code if isinstance(code, int) else None,
                      getattr(answer, "error_msg", None) or "", getattr(answer, "retry_after", None), usages,
                      # VenueApi's own 408/503: on the order path (write_nowait) the request was written, unanswered
                      unknown=bool(getattr(answer, "local", False)))


def connection_lost_reply(reason: str = "connection to the venue lost") -> dict:
    """What a transport answers for requests left unanswered when its connection drops."""
    return {"status": 503, "error": {"code": -1001, "msg": reason}}


class VenueApiTransport:
    """OrderTransport over hive_core.market.venue_api.VenueApi (one persistent WS API connection).

    `VenueApi.write_nowait(method, params)` puts the frame on the socket before it returns and
    gives a future of its ApiResponse (timeouts and lost connections resolve it with 408/503);
    it raises NotConnected when there is no connection, which the manager treats as "try again
    shortly". Must be used on the connection's event loop.

    `on_send(method, params)` runs just before a frame is written and `on_answer(method, params,
    answer)` when its answer arrives: the hooks through which a VenueClient that turns
    executionReports into OrderUpdates learns about the orders the manager sends (it ignores
    reports about orders it does not know).
    """

    def __init__(self, api: Any, *, on_send: Callable[[str, dict], None] | None = None,
                 on_answer: Callable[[str, dict, Any], None] | None = None) -> None:
        self.api = api
        self._on_send = on_send
        self._on_answer = on_answer

    def send(self, method: str, params: Mapping[str, Any], on_reply: ReplyCallback) -> None:
        params = dict(params)
        if self._on_send is not None:
            self._on_send(method, params)
        future = self.api.write_nowait(method, params)
        on_answer = self._on_answer
        if on_answer is None:
            future.add_done_callback(lambda done: on_reply(_outcome(done)))
        else:
            def answered(done: Any) -> None:
                answer = _outcome(done)
                on_answer(method, params, answer)
                on_reply(answer)
            future.add_done_callback(answered)


def _outcome(future: Any) -> Any:
    if future.cancelled():
        return connection_lost_reply("request cancelled")
    problem = future.exception()
    if problem is not None:
        return connection_lost_reply(f"request failed: {problem}")
    return future.result()


class InProcessTransport:
    """Serves order.place / order.cancel from an in-process SimExchange; answers inside `send`.

    Order updates still reach their listeners through the exchange's own order listeners, as
    they did before the order manager existed; the answer only says accepted or rejected.
    """

    def __init__(self, exchange: Any) -> None:
        self.exchange = exchange
        self._pairs = {symbol_of(pair): pair for pair in exchange.trading_pairs}
        self.requests = 0

    def send(self, method: str, params: Mapping[str, Any], on_reply: ReplyCallback) -> None:
        self.requests += 1
        on_reply(self._answer(method, params))

    def _answer(self, method: str, params: Mapping[str, Any]) -> dict:
        pair = self._pairs.get(str(params.get("symbol", "")))
        if pair is None:
            return {"status": 400, "error": {"code": -1121, "msg": "Invalid symbol."}}
        if method == "order.place":
            client_id = params["newClientOrderId"]
            side = Side(params["side"])
            amount = float(params["quantity"])
            if params["type"] == "LIMIT":
                order = self.exchange.place_limit(client_id, pair, side, amount, float(params["price"]))
            else:
                order = self.exchange.place_market(client_id, pair, side, amount)
            if order.status.value == "rejected":
                return {"status": 400, "error": {"code": -2010, "msg": "Order rejected."}}
            return {"status": 200, "result": {"clientOrderId": client_id, "status": order.status.value}}
        if method == "order.cancel":
            if self.exchange.cancel(params["origClientOrderId"]):
                return {"status": 200, "result": {"origClientOrderId": params["origClientOrderId"]}}
            return {"status": 400, "error": {"code": -2011, "msg": "Unknown order sent."}}
        return {"status": 400, "error": {"code": -1100, "msg": f"Unknown method '{method}'."}}
