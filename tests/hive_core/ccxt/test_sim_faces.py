"""What ccxt's binance reaches on the simulated venue: its raw stream path (/ws) and its REST face (sim/rest.py),
answering as Binance does (formats, signatures, error codes, rate limits)."""
from __future__ import annotations

import hashlib
import hmac
import time
from urllib.parse import urlencode

import pytest
from aiohttp import ClientSession

from hive_core.config import RateLimitRule
from hive_core.sim.auth import SimKeys
from hive_core.sim.rest import SimRestServer
from tests.hive_core.market.conftest import RawClient, run, started_server
from tests.polling import wait_until_async

from .conftest import API_KEY, SECRET, sim_venue

pytestmark = pytest.mark.integration

# Binance's published example key and its signed order (spot REST API docs, "SIGNED endpoint examples"): not live.
DOC_KEY = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A"
DOC_SECRET = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"
DOC_HEAD = "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC"
DOC_TAIL = "quantity=1&price=0.1&recvWindow=5000&timestamp=1499827319559"
DOC_SIGNATURE = "c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71"        # query string or body
DOC_MIXED_SIGNATURE = "0fd168b8ddb4876a0358a8d14d0c9f3da0e9b20c5d52b2a00fcf7d1c602f9a77"  # query, then body
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def signed(params: dict) -> str:
    """`params` with a timestamp, signed with SECRET over the query string (as ccxt signs a GET or DELETE)."""
    query = urlencode({**params, "timestamp": int(time.time() * 1000)})
    return f"{query}&signature={hmac.new(SECRET.encode(), query.encode(), hashlib.sha256).hexdigest()}"


def test_the_raw_stream_path_sends_the_data_alone_beside_the_combined_one():
    async def scenario():
        server = await started_server()
        raw = await RawClient.open(server.url + "/ws/0")            # ccxt's form: a stream number, then SUBSCRIBE
        named = await RawClient.open(server.url + "/ws/ethusdt@trade")  # Binance's: the stream in the path
        combined = await RawClient.open(server.url + "/stream?streams=btcusdt@depth@100ms")
        try:
            assert await raw.call(1, "SUBSCRIBE", ["btcusdt@depth@100ms", "btcusdt@trade"]) == {"result": None, "id": 1}
            await wait_until_async(lambda: [m for m in raw.messages if m.get("e") == "depthUpdate"]
                                   and [m for m in named.messages if m.get("e") == "trade"]
                                   and combined.data("btcusdt@depth@100ms"), 5, message="raw and combined messages")
            depth = next(m for m in raw.messages if m.get("e") == "depthUpdate")
            assert depth["s"] == "BTCUSDT" and "stream" not in depth
            assert {m["s"] for m in named.messages if "e" in m} == {"ETHUSDT"}
            assert combined.messages[0]["stream"] == "btcusdt@depth@100ms"
            assert (await raw.call(2, "LIST_SUBSCRIPTIONS"))["result"] == ["btcusdt@depth@100ms", "btcusdt@trade"]
        finally:
            for client in (raw, named, combined):
                await client.close()
            await server.stop()
    run(scenario())


def test_public_endpoints_answer_as_binance_does():
    async def scenario():
        server, rest = await sim_venue()
        try:
            async with ClientSession(rest.url) as http:
                async with http.get("/api/v3/exchangeInfo") as answer:
                    assert answer.status == 200
                    assert answer.headers["X-MBX-USED-WEIGHT-1M"] == "20"
                    info = await answer.json()
                assert info == {**server.api.exchange_info({}), "serverTime": info["serverTime"]}
                async with http.get("/api/v3/depth", params={"symbol": "BTCUSDT", "limit": "5"}) as answer:
                    depth = await answer.json()
                assert len(depth["bids"]) == 5 and depth["lastUpdateId"] > 0
                await wait_until_async(lambda: rest.trades({"symbol": "ETHUSDT"}), 5, message="public trades")
                async with http.get("/api/v3/trades", params={"symbol": "ETHUSDT", "limit": "3"}) as answer:
                    trades = await answer.json()
                assert 1 <= len(trades) <= 3
                assert set(trades[0]) == {"id", "price", "qty", "quoteQty", "time", "isBuyerMaker", "isBestMatch"}
                assert [t["id"] for t in trades] == sorted(t["id"] for t in trades)
                async with http.get("/api/v3/aggTrades", params={"symbol": "ETHUSDT"}) as answer:
                    assert {"a", "p", "q", "f", "l", "T", "m", "M"} <= set((await answer.json())[0])
                async with http.get("/api/v3/depth", params={"symbol": "NOPE"}) as answer:
                    assert (answer.status, await answer.json()) == (400, {"code": -1121, "msg": "Invalid symbol."})
                async with http.get("/api/v3/account") as answer:  # SIGNED: the key is missing
                    assert answer.status == 401 and (await answer.json())["code"] == -2014
        finally:
            await rest.stop()
            await server.stop()
    run(scenario())


def test_signatures_cover_the_query_string_then_the_body_as_binance_documents():
    async def scenario():
        keys = SimKeys()
        keys.add_hmac(DOC_KEY, DOC_SECRET)
        server = await started_server(keys=keys, time_source=lambda: 1499827319.559)  # the example's moment
        rest = SimRestServer(server)
        await rest.start()
        headers = {"X-MBX-APIKEY": DOC_KEY}
        order = f"{DOC_HEAD}&{DOC_TAIL}"
        try:
            async with ClientSession(rest.url, headers=headers) as http:
                async def code(query: str, body: str = "") -> int:
                    async with http.post(f"/api/v3/order?{query}" if query else "/api/v3/order", data=body,
                                         headers=FORM) as answer:
                        return (await answer.json())["code"]

                # accepted: the venue gets as far as the symbol, which it does not list
                assert await code(f"{order}&signature={DOC_SIGNATURE}") == -1121
                assert await code("", f"{order}&signature={DOC_SIGNATURE}") == -1121
                assert await code(DOC_HEAD, f"{DOC_TAIL}&signature={DOC_MIXED_SIGNATURE}") == -1121
                assert await code(DOC_HEAD, f"{DOC_TAIL}&signature={DOC_SIGNATURE}") == -1022
                assert await code(order.replace("price=0.1", "price=0.2") + f"&signature={DOC_SIGNATURE}") == -1022
                async with http.get("/api/v3/openOrders", params={"timestamp": "1499827319559", "signature": "00"},
                                    headers={"X-MBX-APIKEY": "someone-else"}) as answer:
                    assert (answer.status, (await answer.json())["code"]) == (401, -2015)
        finally:
            await rest.stop()
            await server.stop()
    run(scenario())


def test_requests_count_against_the_ip_s_windows_with_binance_s_429_and_418():
    async def scenario():
        limits = [RateLimitRule(limit_type="REQUEST_WEIGHT", interval_s=60, limit=30),
                  RateLimitRule(limit_type="ORDERS", interval_s=10, limit=5)]
        server, rest = await sim_venue(rate_limits=limits)
        try:
            async with ClientSession(rest.url) as http:
                async with http.get("/api/v3/exchangeInfo") as answer:           # 20 of 30
                    assert answer.status == 200
                async with http.get("/api/v3/exchangeInfo") as answer:           # 40: over
                    assert answer.status == 429
                    assert (await answer.json())["code"] == -1003
                    assert 0 <= int(answer.headers["Retry-After"]) <= 60
                async with http.get("/api/v3/time") as answer:                   # before Retry-After: banned
                    assert answer.status == 418 and int(answer.headers["Retry-After"]) > 0
            assert server.limits.stats["rejected_429"] == 1 and server.limits.stats["rejected_418"] == 1
            assert server.limits.count("127.0.0.1") == 40  # the WS API's windows: one count per IP
        finally:
            await rest.stop()
            await server.stop()
    run(scenario())


def test_an_order_placed_over_rest_is_the_engine_s_and_its_fills_are_my_trades():
    async def scenario():
        server, rest = await sim_venue()
        try:
            async with ClientSession(rest.url, headers={"X-MBX-APIKEY": API_KEY}) as http:
                order = {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.5",
                         "newClientOrderId": "r-000001", "newOrderRespType": "FULL"}
                async with http.post("/api/v3/order", data=signed(order), headers=FORM) as answer:
                    assert answer.status == 200, await answer.text()
                    assert "X-MBX-ORDER-COUNT-10S" in answer.headers
                    placed = await answer.json()
                assert placed["status"] == "FILLED" and placed["fills"]
                assert server.exchange.get_order("r-000001").filled_amount == pytest.approx(0.5)
                async with http.get(f"/api/v3/myTrades?{signed({'symbol': 'BTCUSDT'})}") as answer:
                    mine = await answer.json()
                assert [t["id"] for t in mine] == [f["tradeId"] for f in placed["fills"]]
                assert sum(float(t["qty"]) for t in mine) == pytest.approx(0.5)
                unknown = signed({"symbol": "BTCUSDT", "origClientOrderId": "nope"})
                async with http.get(f"/api/v3/order?{unknown}") as answer:
                    assert (answer.status, (await answer.json())["code"]) == (400, -2013)
        finally:
            await rest.stop()
            await server.stop()
    run(scenario())
