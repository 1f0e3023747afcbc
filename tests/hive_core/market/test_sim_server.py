"""The venue server: combined streams, contiguous depth ids, WS API orders and reports, enforced limits."""
from __future__ import annotations

import time

import pytest

from hive_core.config import RateLimitRule
from hive_core.market.venue_api import VenueApi
from tests.polling import wait_until_async

from .conftest import RawClient, run, started_server

pytestmark = pytest.mark.integration


def test_subscribe_list_and_unsubscribe_on_the_combined_stream():
    async def scenario():
        server = await started_server()
        client = await RawClient.open(server.url + "/stream")
        try:
            streams = ["btcusdt@depth@100ms", "btcusdt@trade", "btcusdt@bookTicker"]
            assert await client.call(1, "SUBSCRIBE", streams) == {"result": None, "id": 1}
            listed = await client.call(2, "LIST_SUBSCRIPTIONS")
            assert sorted(listed["result"]) == sorted(streams)
            await wait_until_async(lambda: client.data("btcusdt@depth@100ms") and client.data("btcusdt@bookTicker"), 5,
                                   message="depth and bookTicker messages")
            depth = client.data("btcusdt@depth@100ms")[0]
            assert depth["e"] == "depthUpdate" and depth["s"] == "BTCUSDT"
            assert all(isinstance(level[0], str) and isinstance(level[1], str) for level in depth["b"] + depth["a"])
            ticker = client.data("btcusdt@bookTicker")[0]
            assert set(ticker) == {"u", "s", "b", "B", "a", "A"}
            assert await client.call(3, "UNSUBSCRIBE", ["btcusdt@bookTicker"]) == {"result": None, "id": 3}
            assert sorted((await client.call(4, "LIST_SUBSCRIPTIONS"))["result"]) == sorted(streams[:2])
            bad = await client.call(5, "SUBSCRIBE", ["nosuch@depth"])
            assert bad["error"]["code"] == 2
            assert [r["method"] for r in server.received] == ["SUBSCRIBE", "LIST_SUBSCRIPTIONS", "UNSUBSCRIBE",
                                                               "LIST_SUBSCRIPTIONS", "SUBSCRIBE"]
        finally:
            await client.close()
            await server.stop()
    run(scenario())


def test_depth_update_ids_are_contiguous_and_match_the_snapshot():
    async def scenario():
        server = await started_server()
        client = await RawClient.open(server.url + "/stream?streams=ethusdt@depth")
        try:
            await wait_until_async(lambda: len(client.data("ethusdt@depth")) >= 10, 5, message="10 depth updates")
            updates = client.data("ethusdt@depth")
            for previous, current in zip(updates, updates[1:], strict=False):
                assert current["U"] == previous["u"] + 1
                assert current["u"] >= current["U"]
            snapshot = server.depth_snapshot("ETHUSDT", 100)
            assert snapshot["lastUpdateId"] >= updates[-1]["u"]
        finally:
            await client.close()
            await server.stop()
    run(scenario())


def test_ws_api_place_fill_and_cancel_with_execution_reports():
    async def scenario():
        server = await started_server()
        api = VenueApi(server.url)
        events: list[dict] = []
        api.on_user_event(events.append)
        await api.start()
        try:
            assert (await api.subscribe_user_data()).ok
            info = await api.request("exchangeInfo")
            assert info.ok and {s["symbol"] for s in info.result["symbols"]} == {"BTCUSDT", "ETHUSDT"}
            assert info.result["rateLimits"][0]["rateLimitType"] == "REQUEST_WEIGHT"
            depth = await api.request("depth", {"symbol": "BTCUSDT", "limit": 5})
            assert depth.ok and len(depth.result["bids"]) == 5 and depth.result["lastUpdateId"] > 0
            best_ask = float(depth.result["asks"][0][0])

            market = await api.request("order.place", {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET",
                                                       "quantity": "0.5", "newClientOrderId": "a-000001"})
            assert market.ok and market.result["status"] == "FILLED" and market.result["fills"]
            assert market.used_weight is not None and market.order_count == 1
            resting = await api.request("order.place", {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT",
                                                        "timeInForce": "GTC", "price": f"{best_ask * 0.5:.8f}",
                                                        "quantity": "0.1", "newClientOrderId": "a-000002"})
            assert resting.ok and resting.result["status"] == "NEW"
            open_orders = await api.request("openOrders.status", {"symbol": "BTCUSDT"})
            assert [o["clientOrderId"] for o in open_orders.result] == ["a-000002"]
            cancelled = await api.request("order.cancel", {"symbol": "BTCUSDT", "origClientOrderId": "a-000002"})
            assert cancelled.ok and cancelled.result["status"] == "CANCELED"
            again = await api.request("order.cancel", {"symbol": "BTCUSDT", "origClientOrderId": "a-000002"})
            assert again.status == 400 and again.error_code == -2011
            duplicate = await api.request("order.place", {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET",
                                                          "quantity": "0.5", "newClientOrderId": "a-000001"})
            assert duplicate.status == 400 and duplicate.error_code == -2010

            await wait_until_async(lambda: len(events) >= 4, 5, message="execution reports")
            reports = [(e["c"], e["x"], e["X"]) for e in events]
            assert reports[:4] == [("a-000001", "NEW", "NEW"), ("a-000001", "TRADE", "FILLED"),
                                   ("a-000002", "NEW", "NEW"), ("a-000002", "CANCELED", "CANCELED")]
            trade = events[1]
            assert trade["e"] == "executionReport" and trade["S"] == "BUY" and trade["o"] == "MARKET"
            assert float(trade["l"]) == 0.5 and float(trade["z"]) == 0.5 and float(trade["n"]) > 0
            assert trade["N"] == "USDT" and trade["t"] > 0
        finally:
            await api.stop()
            await server.stop()
    run(scenario())


def test_resting_limit_order_fills_when_the_market_reaches_it():
    async def scenario():
        server = await started_server(volatility=0.01, trades_per_step=5.0)
        api = VenueApi(server.url)
        events: list[dict] = []
        api.on_user_event(events.append)
        await api.start()
        try:
            await api.subscribe_user_data()
            mid = server.exchange.mid_price("BTC-USDT")
            placed = await api.request("order.place", {"symbol": "BTCUSDT", "side": "SELL", "type": "LIMIT",
                                                       "timeInForce": "GTC", "price": f"{mid * 1.0003:.8f}",
                                                       "quantity": "0.01", "newClientOrderId": "r-000001"})
            assert placed.ok
            await wait_until_async(lambda: any(e["x"] == "TRADE" for e in events), 15, message="a maker fill")
            fill = next(e for e in events if e["x"] == "TRADE")
            assert fill["m"] is True and float(fill["L"]) == float(f"{mid * 1.0003:.8f}")
        finally:
            await api.stop()
            await server.stop()
    run(scenario())


def _away_from_window_edge(seconds: float) -> None:
    """Fixed windows are aligned on the epoch: keep a short test from straddling one."""
    left = seconds - time.time() % seconds
    if left < 2.0:
        time.sleep(left + 0.05)


def test_request_weight_over_the_limit_is_429_then_418_while_retry_after_runs():
    _away_from_window_edge(60)

    async def scenario():
        rules = [RateLimitRule(limit_type="REQUEST_WEIGHT", interval_s=60, limit=12),
                 RateLimitRule(limit_type="ORDERS", interval_s=60, limit=100)]
        server = await started_server(rate_limits=rules, ban_seconds=30)
        api = VenueApi(server.url)
        await api.start()
        try:
            first = await api.request("depth", {"symbol": "BTCUSDT", "limit": 10})       # weight 5
            assert first.ok and first.used_weight == 5
            second = await api.request("depth", {"symbol": "BTCUSDT", "limit": 10})      # 10
            assert second.ok and second.used_weight == 10
            third = await api.request("depth", {"symbol": "BTCUSDT", "limit": 10})       # 15 > 12
            assert third.status == 429 and third.error_code == -1003 and third.throttled
            assert 0 < third.retry_after <= 60
            assert api.retry_after_until > time.time()
            fourth = await api.request("ping")                                           # inside retryAfter
            assert fourth.status == 418 and fourth.retry_after > 25
            fifth = await api.request("ping")
            assert fifth.status == 418
            assert server.limits.stats["rejected_429"] == 1 and server.limits.stats["rejected_418"] == 2
            assert server.limits.count("127.0.0.1") == 15
            assert api.stats["throttled"] == 1 and api.stats["banned"] == 2
        finally:
            await api.stop()
            await server.stop()
    run(scenario())


def test_orders_over_the_orders_limit_are_429_without_a_ban():
    _away_from_window_edge(60)

    async def scenario():
        rules = [RateLimitRule(limit_type="REQUEST_WEIGHT", interval_s=60, limit=1000),
                 RateLimitRule(limit_type="ORDERS", interval_s=60, limit=2)]
        server = await started_server(rate_limits=rules)
        api = VenueApi(server.url)
        await api.start()
        try:
            answers = []
            for index in range(3):
                answers.append(await api.request("order.place", {
                    "symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.01",
                    "newClientOrderId": f"o-{index}"}))
            assert [a.status for a in answers] == [200, 200, 429]
            assert answers[2].error_code == -1015 and answers[2].retry_after > 0
            assert answers[1].order_count == 2
            assert (await api.request("ping")).ok          # weight still fine: no ban for orders
        finally:
            await api.stop()
            await server.stop()
    run(scenario())


def test_requests_fail_fast_with_local_statuses_when_the_venue_is_gone():
    async def scenario():
        server = await started_server()
        api = VenueApi(server.url, request_timeout=0.5)
        await api.start()
        assert await api.wait_connected(5)
        await server.stop()
        await server.drop_connections()
        answer = await api.request("ping", timeout=0.5)
        assert answer.local and answer.status in (503, 408)
        await api.stop()
    run(scenario())


def test_standalone_module_serves_until_terminated(tmp_path):
    import socket
    import subprocess
    import sys

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen([sys.executable, "-m", "hive_core.sim.server", "--host", "127.0.0.1",
                                "--port", str(port), "--pairs", "BTC-USDT,ETH-USDT", "--seed", "3"],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        lines = []
        while not any(line.startswith("listening on ws://127.0.0.1:") for line in lines):
            line = process.stdout.readline()
            assert line, f"server exited: {lines}"
            lines.append(line)

        async def scenario():
            api = VenueApi(f"ws://127.0.0.1:{port}")
            await api.start()
            info = await api.request("exchangeInfo")
            await api.stop()
            return info
        info = run(scenario())
        assert [s["symbol"] for s in info.result["symbols"]] == ["BTCUSDT", "ETHUSDT"]
    finally:
        process.terminate()
        assert process.wait(10) == 0
