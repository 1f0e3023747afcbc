"""A venue's order rules (hive_core/market/symbol_rules.py): read from exchange info, enforced by the simulated venue
as Binance does (-1013 "Filter failure: ..."), and applied by a strategy's order handle before an order leaves:
prices onto the tick away from the book, amounts down onto the step, and a clear local error for the rest."""
from __future__ import annotations

import asyncio

import pytest

from hive_core.market.symbol_rules import Breach, SymbolRules, rules_of
from hive_core.market.types import Side
from hive_core.market.venue_api import VenueApi
from hive_core.orders.requests import InvalidOrder
from hive_core.strategy import Strategy
from tests.hive_core.market.conftest import run, started_server
from tests.hive_core.market.test_runtime_on_network_venue import make_runtime
from tests.polling import wait_until_async

pytestmark = pytest.mark.integration

ENTRY = {"symbol": "BTCUSDT", "filters": [
    {"filterType": "PRICE_FILTER", "minPrice": "0.01000000", "maxPrice": "1000000.00000000", "tickSize": "0.01000000"},
    {"filterType": "LOT_SIZE", "minQty": "0.00100000", "maxQty": "100.00000000", "stepSize": "0.00100000"},
    {"filterType": "NOTIONAL", "minNotional": "5.00000000", "maxNotional": "9000000.00000000"},
    {"filterType": "ICEBERG_PARTS", "limit": 10}]}


def test_rules_are_read_from_exchange_info_and_applied() -> None:
    rules = rules_of({"symbols": [ENTRY, {"filters": []}]})["BTCUSDT"]
    assert rules.price(100.0149, Side.BUY) == 100.01 and rules.price(100.0101, Side.SELL) == 100.02
    assert rules.price(100.02, Side.SELL) == 100.02  # on the tick already: unchanged
    assert rules.quantity(0.0123456) == 0.012 and rules.quantity(0.0005) == 0.0005  # below the minimum: left
    assert rules.problem(100.01, 0.05) is None and rules.problem(None, 0.05) is None
    assert rules.problem(100.015, 0.05) == Breach("PRICE_FILTER", "price 100.015 is not on BTCUSDT's tick 0.01")
    assert rules.problem(100.0, 0.0005) == Breach("LOT_SIZE", "quantity 0.0005 is below BTCUSDT's minimum 0.001")
    assert rules.problem(100.0, 0.0015).filter == "LOT_SIZE"
    assert rules.problem(100.0, 0.04) == Breach("NOTIONAL", "the order is worth 4, below BTCUSDT's minimum notional 5")
    assert rules.problem(None, 0.04) is None  # a market order's notional is the venue's to judge
    assert SymbolRules.of({"symbol": "X", "filters": [{"filterType": "PRICE_FILTER", "tickSize": "0"}]}).problem(
        1.23456789, 1.0) is None  # 0 turns a rule off


def test_the_simulated_venue_enforces_its_filters_as_binance_does() -> None:
    async def scenario() -> None:
        server = await started_server(lot_step=0.001, min_notional=5.0)
        api = VenueApi(server.url)
        await api.start()
        try:
            assert await api.wait_connected(5)
            info = await api.request("exchangeInfo")
            rules = rules_of(info.result)["BTCUSDT"]
            assert (float(rules.tick_size), float(rules.step_size), float(rules.min_notional)) == (0.01, 0.001, 5.0)
            order = {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC"}
            refusals = {}
            for name, price, quantity in (("PRICE_FILTER", "90.005", "0.1"), ("LOT_SIZE", "90.00", "0.1005"),
                                          ("NOTIONAL", "90.00", "0.05")):
                answer = await api.request("order.place", {**order, "price": price, "quantity": quantity})
                refusals[name] = (answer.status, answer.error_code, answer.error_msg)
            assert refusals == {name: (400, -1013, f"Filter failure: {name}")
                                for name in ("PRICE_FILTER", "LOT_SIZE", "NOTIONAL")}
            placed = await api.request("order.place", {**order, "price": "90.01", "quantity": "0.1"})
            assert placed.ok
        finally:
            await api.stop()
            await server.stop()

    run(scenario())


class RuledTrader(Strategy):
    """Places one quote off the tick and step, and one too small to be worth the venue's minimum."""

    def on_start(self) -> None:
        mid = self.ctx.market.mid_price()
        self.ctx.state["mid"] = mid
        self.ctx.state["placed"] = self.ctx.orders.place_limit(Side.BUY, 0.0123456, mid * 0.9 + 0.004)
        try:
            self.ctx.orders.place_limit(Side.BUY, 0.004, mid * 0.5)
        except InvalidOrder as refused:
            self.ctx.state["refused"] = str(refused)

    def on_tick(self, now: float) -> None:
        pass


def test_an_order_handle_puts_orders_on_the_venues_tick_and_step_and_refuses_what_breaks_a_rule() -> None:
    async def scenario() -> None:
        runtime = make_runtime([("r1", RuledTrader, 0.2)], lot_step=0.001, min_notional=5.0,
                               initial_prices={"BTC-USDT": 1000.0, "ETH-USDT": 50.0})
        task = asyncio.create_task(runtime.run(install_signal_handlers=False))
        try:
            await wait_until_async(lambda: len(runtime.host.running) == 1, 10, message="started")
            state = runtime.host.slots["r1"].ctx.state
            server = runtime.sim_server
            await wait_until_async(lambda: server.exchange.get_order(state["placed"]) is not None, 10,
                                   message="the quote on the venue")
            order = server.exchange.get_order(state["placed"])
            tick = server.exchange.markets["BTC-USDT"].tick_size
            assert order.amount == pytest.approx(0.012)
            assert order.price <= state["mid"] * 0.9 + 0.004 and round(order.price / tick, 6).is_integer()
            assert "(NOTIONAL): the order was not placed" in state["refused"]
            assert "below BTCUSDT's minimum notional 5" in state["refused"]
            assert runtime.host.slots["r1"].job.errors == 0
        finally:
            runtime.request_stop()
            await asyncio.wait_for(task, 10)

    run(scenario(), timeout=60)


def test_a_runtime_on_a_venue_by_url_keeps_to_the_limits_the_venue_publishes() -> None:
    async def scenario() -> None:
        published = [{"limit_type": "REQUEST_WEIGHT", "interval_s": 60, "limit": 1200},
                     {"limit_type": "ORDERS", "interval_s": 10, "limit": 40}]
        server = await started_server(rate_limits=published)
        runtime = make_runtime([("r1", RuledTrader, 0.2)], url=server.url,
                               initial_prices={"BTC-USDT": 1000.0, "ETH-USDT": 50.0})
        task = asyncio.create_task(runtime.run(install_signal_handlers=False))
        try:
            await wait_until_async(lambda: len(runtime.host.running) == 1, 10, message="started")
            limits = {(r.limit_type, r.interval_s): r.limit for r in runtime.orders.venue_limits()}
            assert limits[("REQUEST_WEIGHT", 60)] == 1200 and limits[("ORDERS", 10)] == 40  # configured: 6000, 100
            assert limits[("ORDERS", 86_400)] == 200_000  # configured, not published: kept
        finally:
            runtime.request_stop()
            await asyncio.wait_for(task, 10)
            await server.stop()

    run(scenario(), timeout=60)
