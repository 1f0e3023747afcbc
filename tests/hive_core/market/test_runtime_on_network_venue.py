"""Integration: a realtime runtime with many strategies on a network venue (embedded or by URL)."""
from __future__ import annotations

import asyncio
import math
from pathlib import Path

import pytest

from hive_core.config import parse_instance_config
from hive_core.loader import ResolvedStrategy, StrategySpec
from hive_core.market.types import Side
from hive_core.runtime import Runtime
from hive_core.sim.server import SimServer
from hive_core.strategy import Strategy
from tests.polling import wait_until_async

from .conftest import run, venue_config

pytestmark = pytest.mark.integration


class Watcher(Strategy):
    """Reads the mid every tick and counts the books it is handed."""

    def on_start(self):
        self.ctx.state["books"] = 0
        self.ctx.state["mids"] = []

    def on_tick(self, now):
        mid = self.ctx.market.mid_price()
        assert math.isfinite(mid) and mid > 0
        self.ctx.state["mids"].append(mid)

    def on_order_book(self, book):
        assert book.best_bid < book.best_ask
        self.ctx.state["books"] += 1


class Trader(Watcher):
    """Alternates market buys and sells, and keeps one far-away limit order resting."""

    def on_start(self):
        super().on_start()
        self.n = 0
        self.ctx.orders.place_limit(Side.BUY, 0.01, self.ctx.market.mid_price() * 0.5)

    def on_tick(self, now):
        super().on_tick(now)
        self.n += 1
        self.ctx.orders.place_market(Side.BUY if self.n % 2 else Side.SELL, 0.01)


def make_runtime(strategies: list[tuple[str, type[Strategy], float]], **venue) -> Runtime:
    config = parse_instance_config({
        "instance_id": "net", "mqtt_bridge": {"mqtt_autostart": False},
        "strategies": [{"id": sid, "strategy": cls.__name__, "interval": interval}
                       for sid, cls, interval in strategies],
        "venue": {"seed": 5, "step_interval": 0.05, "trading_pairs": ["BTC-USDT", "ETH-USDT"], **venue}})
    classes = {cls.__name__: cls for _sid, cls, _interval in strategies}
    resolved = []
    for entry in config.strategies:
        spec = StrategySpec(entry.strategy, Path("<test>"), classes[entry.strategy], shipped=False)
        resolved.append(ResolvedStrategy(entry, spec, spec.validate_params(entry.params), config.pair_of(entry)))
    return Runtime(config, resolved, realtime=True)


def books_match_venue(runtime: Runtime, server: SimServer, symbol: str) -> bool:
    book = runtime.venue_client.mux.book(symbol)
    snapshot = server.depth_snapshot(symbol, 100)
    return (book is not None and book.synced and book.last_update_id == snapshot["lastUpdateId"]
            and book.bids(100) == [(float(p), float(q)) for p, q in snapshot["bids"]])


def test_sixty_strategies_share_one_connection_and_survive_a_venue_drop():
    strategies = [(f"w{i}", Watcher, 0.1) for i in range(56)] + [(f"t{i}", Trader, 0.2) for i in range(4)]

    async def scenario():
        runtime = make_runtime(strategies)
        task = asyncio.create_task(runtime.run(install_signal_handlers=False))
        try:
            await wait_until_async(lambda: runtime.sim_server is not None and len(runtime.host.running) == 60, 10,
                                   message="all started")
            server = runtime.sim_server
            slots = list(runtime.host.slots.values())
            await wait_until_async(lambda: all(s.job.ticks >= 3 and s.ctx.state["books"] >= 3 for s in slots), 15,
                                   message="ticks and books everywhere")
            # One stream connection and one API connection for all 60 strategies, one SUBSCRIBE on the wire.
            assert server.stats["stream_connections"] == 1 and server.stats["api_connections"] == 1
            subscribes = [r for r in server.received if r["method"] == "SUBSCRIBE"]
            assert len(subscribes) == 1 and sorted(subscribes[0]["params"]) == [
                "btcusdt@depth@100ms", "btcusdt@trade", "ethusdt@depth@100ms", "ethusdt@trade"]
            # Orders of the in-process path are matched by the server's engine.
            slot_of = runtime.host.slots
            await wait_until_async(lambda: all(slot_of[f"t{i}"].account.fill_count >= 2 for i in range(4)), 10,
                                   message="fills")
            assert len(server.exchange.open_orders()) == 4

            ticks = {s.id: s.job.ticks for s in slots}
            books = {s.id: s.ctx.state["books"] for s in slots}
            assert await server.drop_connections() >= 2
            mux = runtime.venue_client.mux
            await wait_until_async(lambda: mux.stats["reconnects"] >= 1 and mux.connected, 10, message="reconnect")
            await wait_until_async(
                lambda: all(runtime.venue_client.synced(pair) for pair in ("BTC-USDT", "ETH-USDT")), 10,
                message="books resynced")
            await wait_until_async(lambda: all(s.job.ticks >= ticks[s.id] + 5 for s in slots), 15, message="ticking on")
            await wait_until_async(lambda: all(s.ctx.state["books"] > books[s.id] + 2 for s in slots), 15,
                                   message="books flowing again")
            await wait_until_async(lambda: books_match_venue(runtime, server, "BTCUSDT"), 5,
                                   message="BTC book equal to the venue's")
            assert all(s.job.errors == 0 for s in slots), [s.job.last_error for s in slots if s.job.errors]
            assert server.stats["stream_connections"] == 2
            assert len([r for r in server.received if r["method"] == "SUBSCRIBE"]) == 2
        finally:
            runtime.request_stop()
            await asyncio.wait_for(task, 10)
        assert server.exchange.open_orders() == []          # shutdown cancelled the resting orders
    run(scenario(), timeout=90)


def test_a_runtime_given_a_venue_url_trades_over_the_ws_api():
    async def scenario():
        server = SimServer(venue_config(step_interval=0.05))
        await server.start()
        runtime = make_runtime([("t1", Trader, 0.1), ("t2", Trader, 0.1), ("w1", Watcher, 0.1)], url=server.url)
        task = asyncio.create_task(runtime.run(install_signal_handlers=False))
        try:
            await wait_until_async(lambda: len(runtime.host.running) == 3, 10, message="started")
            assert runtime.sim_server is None and runtime.venue is runtime.venue_client
            await wait_until_async(lambda: all(runtime.host.slots[s].account.fill_count >= 3 for s in ("t1", "t2")), 15,
                                   message="fills")
            assert set(server.api.order_ids) >= {"t1-000001", "t2-000001", "t1-000002"}
            assert len(runtime.host.slots["t1"].handle.open_orders()) == 1
            assert runtime.venue_client.stats["reports"] > 0
            report = runtime.reports.performance_report()
            assert report["t1"]["performance"]["volume_traded"] > 0
            assert server.limits.stats["orders"] >= 6
        finally:
            runtime.request_stop()
            await asyncio.wait_for(task, 10)
            assert server.exchange.open_orders() == []     # cancelled over the WS API at shutdown
            await server.stop()
    run(scenario(), timeout=60)
