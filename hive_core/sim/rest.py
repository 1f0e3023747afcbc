"""The simulated venue's REST face: Binance spot's REST endpoints (`/api/v3/...`) beside a SimServer.

    rest = SimRestServer(sim_server)        # the same engine, rate limits and keys as the server's WS API
    await rest.start(); rest.url            # http://127.0.0.1:<port>
    await rest.stop()

It serves what ccxt's `binance` calls for markets, books, trades and orders (configured with the options
`fetchCurrencies: False`, `fetchMargins: False`, `fetchMarkets: {"types": ["spot"]}` so that it calls no sapi or
futures endpoint): GET ping, time, exchangeInfo, depth, trades and aggTrades (the last `trades_kept` public trades
of each pair); SIGNED: POST/DELETE/GET order, GET openOrders, account (the simulated venue keeps no balances: an
empty list) and myTrades (the account's trades, as the WS API's myTrades lists them).

As Binance does: parameters come in the query string or a form body; a SIGNED request carries `timestamp`,
optionally `recvWindow`, its key in the `X-MBX-APIKEY` header and `signature`, the HMAC-SHA256 (or Ed25519) of the
query string followed by the body, without the signature itself (sim/auth.py checks it, with Binance's codes).
Every request counts its weight against the client IP's windows (sim/limits.py), the same windows as the WS API's;
an order also counts against ORDERS. Errors are `{"code", "msg"}` with the HTTP status; 429 and 418 add
`Retry-After` (seconds). Every answer carries `X-MBX-USED-WEIGHT-<n><unit>` (and an order's
`X-MBX-ORDER-COUNT-<n><unit>`) with the IP's counts.
"""
from __future__ import annotations

import json
import logging
import math
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web

from hive_core.market.types import OrderBook, Side, Trade
from hive_core.market.wire import fmt, symbol_of
from hive_core.sim.api import ApiError, depth_weight, weight_of
from hive_core.sim.server import SimServer, _trade_number

logger = logging.getLogger("hive.venue.rest")
PREFIX = "/api/v3"
UNKNOWN_ERROR = {"code": -1000, "msg": "An unknown error occurred while processing the request."}
_UNITS = {"SECOND": "S", "MINUTE": "M", "HOUR": "H", "DAY": "D"}
_ACK_FIELDS = ("symbol", "orderId", "orderListId", "clientOrderId", "transactTime")

Params = dict[str, str]


@dataclass(frozen=True)
class _Endpoint:
    handler: Callable[[Params], Any]
    weight: Callable[[Params], int]
    signed: bool = False
    order: bool = False


class SimRestServer:
    """Binance spot's REST API over a SimServer's engine; see the module docstring."""

    def __init__(self, sim: SimServer, host: str = "127.0.0.1", port: int = 0, *, trades_kept: int = 1000) -> None:
        self.sim = sim
        self.api = sim.api
        self.host = host
        self.port = port
        self._runner: web.AppRunner | None = None
        self._public: dict[str, deque[Trade]] = {symbol: deque(maxlen=trades_kept) for symbol in self.api.symbols}
        sim.exchange.add_market_listener(self._on_market)
        api = self.api
        self.endpoints: dict[tuple[str, str], _Endpoint] = {
            ("GET", "ping"): _Endpoint(lambda _params: {}, _one),
            ("GET", "time"): _Endpoint(api.time, _one),
            ("GET", "exchangeInfo"): _Endpoint(api.exchange_info, lambda _params: 20),
            ("GET", "depth"): _Endpoint(api.depth, lambda params: depth_weight(_limit(params, 100))),
            ("GET", "trades"): _Endpoint(self.trades, lambda _params: 25),
            ("GET", "aggTrades"): _Endpoint(self.agg_trades, lambda _params: 4),
            ("POST", "order"): _Endpoint(self.place, _one, signed=True, order=True),
            ("DELETE", "order"): _Endpoint(api.order_cancel, _one, signed=True),
            ("GET", "order"): _Endpoint(api.order_status, lambda _params: 4, signed=True),
            ("GET", "openOrders"): _Endpoint(api.open_orders_status, lambda params: 6 if params.get("symbol") else 80,
                                             signed=True),
            ("GET", "account"): _Endpoint(self.account, lambda _params: 20, signed=True),
            ("GET", "myTrades"): _Endpoint(api.my_trades, lambda params: weight_of("myTrades", params), signed=True),
        }

    # ---- lifecycle ----------------------------------------------------------------------------

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", PREFIX + "/{name}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)  # request lines carry signatures: not logged
        await self._runner.setup()
        await web.TCPSite(self._runner, self.host, self.port).start()
        self.port = self._runner.addresses[0][1]
        logger.info("simulated venue's REST API listening on %s", self.url)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    # ---- dispatch -----------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.Response:
        endpoint = self.endpoints.get((request.method, request.match_info["name"]))
        if endpoint is None:
            return _answer(404, {"code": -1000, "msg": f"Unknown endpoint {request.method} {request.path}."})
        query = request.raw_path.partition("?")[2]
        body = await request.text() if request.can_read_body else ""
        params: Params = dict(parse_qsl(query, keep_blank_values=True))
        params.update(parse_qsl(body, keep_blank_values=True))
        ip = request.remote or "?"
        headers: dict[str, str] = {}
        try:
            verdict = self.sim.limits.check(ip, endpoint.weight(params), endpoint.order)
            headers = self._usage(ip, endpoint.order)
            if verdict.status != 200:
                server_ms = verdict.data.get("serverTime", 0)
                retry_ms = verdict.data.get("retryAfter", server_ms)
                headers["Retry-After"] = str(max(math.ceil((retry_ms - server_ms) / 1000), 0))
                return _answer(verdict.status, {"code": verdict.code, "msg": verdict.msg}, headers)
            keys = self.api.keys
            if endpoint.signed and keys is not None:
                message = (_unsigned(query) + _unsigned(body)).encode()
                refusal = keys.check_signed(request.headers.get("X-MBX-APIKEY"), params, message,
                                            self.api.server_ms())
                if refusal is not None:
                    raise ApiError(*refusal)
            result = endpoint.handler(params)
        except ApiError as problem:
            return _answer(problem.status, {"code": problem.code, "msg": problem.msg}, headers)
        except Exception:
            logger.exception("REST %s %s failed", request.method, request.path)
            return _answer(500, UNKNOWN_ERROR, headers)
        return _answer(200, result, headers)

    def _usage(self, ip: str, include_orders: bool) -> dict[str, str]:
        """The IP's window counts as Binance's X-MBX-USED-WEIGHT-* / X-MBX-ORDER-COUNT-* headers."""
        headers = {}
        for entry in self.sim.limits.report(ip, include_orders):
            kind = "USED-WEIGHT" if entry["rateLimitType"] == "REQUEST_WEIGHT" else "ORDER-COUNT"
            headers[f"X-MBX-{kind}-{entry['intervalNum']}{_UNITS[entry['interval']]}"] = str(entry["count"])
        return headers

    # ---- endpoints the WS API has no method for -----------------------------------------------

    def place(self, params: Params) -> dict:
        """POST order: the WS API's order.place, its answer cut to `newOrderRespType` (FULL by default)."""
        result = self.api.order_place(params)
        kind = params.get("newOrderRespType", "FULL").upper()
        if kind == "ACK":
            return {name: result[name] for name in _ACK_FIELDS}
        if kind == "RESULT":
            result.pop("fills", None)
        return result

    def trades(self, params: Params) -> list[dict]:
        """GET trades: the pair's latest public trades, oldest first."""
        return [{"id": _trade_number(trade.trade_id), "price": fmt(trade.price), "qty": fmt(trade.amount),
                 "quoteQty": fmt(trade.price * trade.amount), "time": int(trade.timestamp * 1000),
                 "isBuyerMaker": trade.side is Side.SELL, "isBestMatch": True} for trade in self._latest(params)]

    def agg_trades(self, params: Params) -> list[dict]:
        """GET aggTrades (ccxt's binance fetches trades with it by default): each trade its own aggregate."""
        out = []
        for trade in self._latest(params):
            number = _trade_number(trade.trade_id)
            out.append({"a": number, "p": fmt(trade.price), "q": fmt(trade.amount), "f": number, "l": number,
                        "T": int(trade.timestamp * 1000), "m": trade.side is Side.SELL, "M": True})
        return out

    def _latest(self, params: Params) -> list[Trade]:
        return list(self._public[self._symbol(params)])[-min(_limit(params, 500), 1000):]

    def account(self, params: Params) -> dict:
        """GET account: the fee rates and permissions; no balances (the simulated venue keeps none)."""
        rate = fmt(self.sim.exchange.fee_rate)
        commission = round(self.sim.exchange.fee_rate * 10_000)
        return {"makerCommission": commission, "takerCommission": commission, "buyerCommission": 0,
                "sellerCommission": 0,
                "commissionRates": {"maker": rate, "taker": rate, "buyer": fmt(0), "seller": fmt(0)},
                "canTrade": True, "canWithdraw": False, "canDeposit": False, "brokered": False,
                "requireSelfTradePrevention": False, "preventSor": False, "updateTime": self.api.server_ms(),
                "accountType": "SPOT", "balances": [], "permissions": ["SPOT"], "uid": 0}

    def _symbol(self, params: Params) -> str:
        symbol = params.get("symbol", "").upper()
        if not symbol:
            raise ApiError(400, -1102, "Mandatory parameter 'symbol' was not sent, was empty/null, or malformed.")
        if symbol not in self.api.symbols:
            raise ApiError(400, -1121, "Invalid symbol.")
        return symbol

    # ---- what the engine reports --------------------------------------------------------------

    def _on_market(self, book: OrderBook, trades: list[Trade]) -> None:
        if trades:
            self._public[symbol_of(book.trading_pair)].extend(trades)


def _one(_params: Params) -> int:
    return 1


def _limit(params: Params, default: int) -> int:
    try:
        return max(int(params.get("limit", default)), 1)
    except ValueError:
        raise ApiError(400, -1100, "Illegal characters found in parameter 'limit'.") from None


def _unsigned(raw: str) -> str:
    """A raw query string or body without its `signature` parameter (what was signed)."""
    return "&".join(part for part in raw.split("&") if part and not part.startswith("signature="))


def _answer(status: int, body: Any, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(status=status, text=json.dumps(body, separators=(",", ":")), content_type="application/json",
                        headers=headers)


# ccxt's binance, told to load spot markets only and to ask for no currencies or margin pairs (sapi endpoints)
CCXT_SPOT_ONLY = {"fetchCurrencies": False, "fetchMargins": False, "fetchMarkets": {"types": ["spot"]}}


def ccxt_binance_urls(known: Mapping[str, Any], stream_url: str, rest_url: str) -> dict[str, Any]:
    """ccxt's binance `urls` with every address on the simulated venue: `known` is its `urls["api"]`; the spot REST
    API goes to the REST face at `rest_url`, the streams and the WS API to the server at `stream_url`, every other
    address to a path neither serves (so nothing can leave for another host)."""
    def unserved(value: Any, name: str) -> Any:
        if isinstance(value, Mapping):
            return {key: unserved(inner, f"{name}/{key}") for key, inner in value.items()}
        return f"{rest_url}/not-served/{name}"

    api = unserved(known, "api")
    api.update(public=f"{rest_url}/api/v3", private=f"{rest_url}/api/v3", v1=f"{rest_url}/api/v1")
    api["ws"]["spot"] = f"{stream_url}/ws"
    api["ws"]["ws-api"]["spot"] = f"{stream_url}/ws-api/v3"
    return {"api": api}
