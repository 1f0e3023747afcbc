"""The runtime's single order path: the configured OrderManager over the venue's WS API socket.

Realtime on the built-in venue (real sockets on 127.0.0.1), realtime against a standalone
`python -m hive_core.sim.server` subprocess (sockets counted with psutil), virtual time with
VirtualTimers, and P/metrics read raw from the real broker.
"""
from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from hive_core.config import parse_instance_config
from hive_core.loader import ResolvedStrategy, StrategySpec
from hive_core.market.types import Side
from hive_core.orders.requests import owner_of
from hive_core.prometheus import render
from hive_core.runtime import Runtime
from hive_core.strategy import Strategy
from tests.conftest import REPO_ROOT, free_port, wait_for_port
from tests.hive_core.market.conftest import run
from tests.polling import wait_until, wait_until_async

pytestmark = pytest.mark.timeout(120)

TIGHT_LIMITS = [{"limit_type": "REQUEST_WEIGHT", "interval_s": 60, "limit": 6000},
                {"limit_type": "ORDERS", "interval_s": 1, "limit": 20}]


class Flood(Strategy):
    """Submits 10 tiny market orders per tick (100/s at 0.1 s), far beyond its quota."""

    def on_start(self):
        self.n = 0

    def on_tick(self, now):
        for _ in range(10):
            self.n += 1
            self.ctx.orders.place_market(Side.BUY if self.n % 2 else Side.SELL, 0.001)


class Light(Strategy):
    """One small market order per tick, well within its quota."""

    def on_start(self):
        self.n = 0

    def on_tick(self, now):
        self.n += 1
        self.ctx.orders.place_market(Side.BUY if self.n % 2 else Side.SELL, 0.002)


def make_runtime(strategies: list[dict], classes: dict[str, type[Strategy]], *, realtime: bool = True,
                 **venue) -> Runtime:
    config = parse_instance_config({
        "instance_id": "orders", "mqtt_bridge": {"mqtt_autostart": False}, "strategies": strategies,
        "venue": {"seed": 4, "step_interval": 0.05, "initial_prices": {"BTC-USDT": 100.0}, **venue}})
    resolved = []
    for entry in config.strategies:
        spec = StrategySpec(entry.strategy, Path("<test>"), classes[entry.strategy], shipped=False)
        resolved.append(ResolvedStrategy(entry, spec, spec.validate_params(entry.params), config.pair_of(entry)))
    return Runtime(config, resolved, realtime=realtime, start_time=None if realtime else 1_000.0)


@pytest.mark.integration
def test_flooding_strategies_go_through_the_ws_api_with_quotas_and_no_ban_and_the_light_one_is_not_delayed():
    strategies = [
        {"id": "heavy", "strategy": "Flood", "interval": 0.1, "quota": {"orders_per_second": 4}},
        {"id": "heavy2", "strategy": "Flood", "interval": 0.1, "quota": {"orders_per_second": 4}},
        {"id": "light", "strategy": "Light", "interval": 0.5, "quota": {"orders_per_second": 4}},
    ]

    async def scenario():
        runtime = make_runtime(strategies, {"Flood": Flood, "Light": Light}, rate_limits=TIGHT_LIMITS)
        task = asyncio.create_task(runtime.run(install_signal_handlers=False))
        try:
            await wait_until_async(lambda: runtime.sim_server is not None and len(runtime.host.running) == 3, 10,
                                   message="started")
            started = time.monotonic()
            server = runtime.sim_server
            assert runtime.venue is runtime.venue_client                  # orders go over the socket
            slots = runtime.host.slots
            await wait_until_async(lambda: all(slots[s].account.fill_count >= 8 for s in slots), 20,
                                   message="fills")
            def held_back() -> bool:
                heavy = runtime.orders.metrics()["strategies"]["heavy"]
                return heavy["queued"] > 20 and heavy["throttled_s"] > 0.5

            await wait_until_async(held_back, 10, message="the floods held back by their quotas")
            orders = runtime.orders
            figures = orders.metrics()
            # Every placement the manager sent reached the venue over the WS API connection (its counters),
            # and the in-process engine got nothing any other way.
            sent_ids = {fill.order_id for slot in runtime.host.slots.values() for fill in slot.handle.fills}
            assert sent_ids <= set(server.api.order_ids)
            assert server.stats["api_connections"] == 1
            assert server.limits.stats["orders"] == len(server.api.order_ids) >= 3 * 8
            assert runtime.venue_client.stats["order_requests"] >= len(server.api.order_ids)
            # No ban ever; a 429 (if the venue sent any) was backed off from.
            assert orders.http_418 == 0 and server.limits.stats["rejected_418"] == 0
            if orders.http_429:
                assert orders.paused_total > 0
            # The floods are held to their quotas, queueing; the light strategy is not delayed beyond its quota.
            heavy = figures["strategies"]["heavy"]
            light = figures["strategies"]["light"]
            assert heavy["queued"] > 20 and heavy["throttled_s"] > 0.5
            elapsed = time.monotonic() - started
            assert heavy["sent"] <= 4 * elapsed + 8, (heavy, elapsed)               # its quota, plus the burst
            assert light["queued"] == 0 and light["sent"] >= 4
            assert light["queue_delay_ms"]["max"] <= 1000.0 / 4 + 50.0, light
            # Fills are attributed to the strategy that placed them, and the PnL moves.
            for slot in runtime.host.slots.values():
                assert all(owner_of(fill.order_id) == slot.id for fill in slot.handle.fills)
                assert slot.account.fees_paid > 0 and slot.account.volume_quote > 0
            report = runtime.reports.performance_report()
            assert all(entry["performance"]["global_pnl_quote"] != 0.0 for entry in report.values())
            info = report["heavy"]["custom_info"]
            assert info["orders_queued"] > 0 and info["orders_throttled_s"] > 0 and "instance" not in info
            assert runtime.reports.metrics_report()["instance"]["orders_http_418"] == 0
            assert b"hive_strategy_orders_queued{" in render(runtime.reports.metrics_snapshot())
        finally:
            runtime.request_stop()
            await asyncio.wait_for(task, 15)
        # Shutdown: queued orders withdrawn, the rest answered before the connections closed.
        assert runtime.orders.queued() == 0 and runtime.orders.inflight == 0 and not runtime.orders.running
    run(scenario(), timeout=90)


class Rester(Strategy):
    """Keeps one resting limit order far from the mid and trades a little every tick."""

    def on_start(self):
        self.n = 0
        self.ctx.orders.place_limit(Side.BUY, 0.01, self.ctx.market.mid_price() * 0.5)

    def on_tick(self, now):
        self.n += 1
        self.ctx.orders.place_market(Side.BUY if self.n % 2 else Side.SELL, 0.01)


@pytest.mark.integration
def test_run_time_add_and_remove_register_with_the_manager_and_removal_cancels_over_the_socket():
    async def scenario():
        runtime = make_runtime([{"id": "a", "strategy": "Rester", "interval": 0.2}], {"Rester": Rester})
        runtime.host.loader.resolve = lambda name: StrategySpec(name, Path("<test>"), Rester, shipped=False)
        task = asyncio.create_task(runtime.run(install_signal_handlers=False))
        try:
            await wait_until_async(lambda: len(runtime.host.running) == 1, 10, message="started")
            runtime.host.add_strategy({"id": "b", "strategy": "Rester", "interval": 0.2, "priority": 3,
                                  "quota": {"orders_per_second": 2}})
            assert "b" in runtime.orders.strategies
            assert runtime.orders.metrics()["strategies"]["b"]["priority"] == 3
            server = runtime.sim_server
            await wait_until_async(lambda: runtime.host.slots["b"].account.fill_count >= 2, 10, message="b trades")
            await wait_until_async(
                lambda: len([o for o in server.exchange.open_orders() if o.client_order_id.startswith("b-")]) == 1, 5,
                message="b's resting order")
            runtime.host.remove_strategy("b")
            assert "b" not in runtime.orders.strategies or runtime.orders.queued("b") > 0
            await wait_until_async(
                lambda: not [o for o in server.exchange.open_orders() if o.client_order_id.startswith("b-")], 5,
                message="b's order cancelled at the venue")
            await wait_until_async(lambda: "b" not in runtime.orders.strategies or runtime.orders.queued("b") == 0, 5,
                                   message="forgotten")
        finally:
            runtime.request_stop()
            await asyncio.wait_for(task, 15)
        assert runtime.sim_server is None and server.exchange.open_orders() == []
    run(scenario(), timeout=60)


def test_virtual_time_fires_the_order_managers_timers_with_the_clock():
    strategies = [{"id": "heavy", "strategy": "Flood", "interval": 0.1, "quota": {"orders_per_second": 5}},
                  {"id": "light", "strategy": "Light", "interval": 1.0, "quota": {"orders_per_second": 4}}]
    runtime = make_runtime(strategies, {"Flood": Flood, "Light": Light}, realtime=False, rate_limits=TIGHT_LIMITS)
    runtime.run_virtual(20.0)
    figures = runtime.orders.metrics()
    heavy = figures["strategies"]["heavy"]
    # Paced by its quota in virtual time: ~5 a second for 20 s (plus the burst), the rest queued.
    assert 90 <= heavy["sent"] <= 5 * 20 + 10 and heavy["queued"] > 1000
    assert runtime.timers.fired >= 90
    assert figures["strategies"]["light"]["queue_delay_ms"]["max"] <= 250.0
    assert runtime.host.slots["heavy"].account.fill_count >= 90 and runtime.host.slots["light"].account.fill_count >= 15
    assert figures["http_429"] == 0


# ---- a standalone venue in its own process -----------------------------------------------------


@pytest.fixture
def venue_process():
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "hive_core.sim.server", "--host", "127.0.0.1",
                                "--port", str(port), "--pairs", "BTC-USDT", "--seed", "7", "--step-interval", "0.05"],
                               cwd=REPO_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port("127.0.0.1", port)
        yield f"ws://127.0.0.1:{port}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def network_connections(pid: int) -> list:
    """Connections of `pid` whose far end is another process (a socket pair inside the process is not one)."""
    connections = psutil.Process(pid).net_connections(kind="inet")
    own_ends = {connection.laddr for connection in connections}
    return [c for c in connections if c.raddr and c.raddr not in own_ends]


def test_an_instance_on_a_standalone_venue_trades_with_at_most_three_connections(
        mqtt_broker, mqtt_probe, spawn_hive, strategy_dir, venue_process):
    from tests.hive_core.conftest import instance_config

    strategies = [{"id": f"t{i}", "strategy": "taker", "interval": 0.3, "params": {"amount": 0.01}} for i in range(5)]
    strategies += [{"id": f"mm{i}", "strategy": "market_maker", "interval": 0.5} for i in range(5)]
    config = instance_config(mqtt_broker, strategies)
    config["strategy_dirs"] = [str(strategy_dir)]
    config["venue"]["url"] = venue_process
    hive = spawn_hive(config)
    prefix = hive.prefix
    mqtt_probe.wait_for(f"{prefix}/status_updates", lambda m: m.json()["msg"] == "online", timeout=20)
    [report] = mqtt_probe.wait_for(f"{prefix}/performance",
                                   lambda m: all(m.json()[f"t{i}"]["performance"]["fills"] >= 3 for i in range(5)),
                                   timeout=20)
    assert all(report.json()[f"t{i}"]["performance"]["volume_traded"] > 0 for i in range(5))
    mqtt_probe.wait_for(f"{prefix}/events", lambda m: m.json()["type"] == "OrderFilled"
                        and m.json()["data"]["controller_id"] == "t3", timeout=10)
    remote = network_connections(hive.process.pid)
    venue_port = int(venue_process.rsplit(":", 1)[1])
    ports = sorted(c.raddr.port for c in remote)
    assert len(remote) <= 3, remote
    assert ports.count(venue_port) == 2 and ports.count(mqtt_broker.port) == 1, remote   # stream + API, MQTT
    hive.signal(15)
    assert hive.wait(20) == 0


def test_p_metrics_carries_the_instance_block_once_and_strategy_entries_do_not(mqtt_broker, mqtt_probe, spawn_hive,
                                                                                strategy_dir):
    from tests.hive_core.conftest import instance_config

    config = instance_config(mqtt_broker, [{"id": "mm1", "strategy": "market_maker"},
                                           {"id": "taker", "strategy": "taker", "interval": 0.3}])
    config["strategy_dirs"] = [str(strategy_dir)]
    hive = spawn_hive(config)
    prefix = hive.prefix
    [message] = mqtt_probe.wait_for(f"{prefix}/metrics", lambda m: m.json()["instance"]["ticks"] > 0, timeout=20)
    payload = message.json()
    assert set(payload) == {"timestamp", "instance"} and isinstance(payload["timestamp"], int)
    assert abs(payload["timestamp"] / 1000 - time.time()) < 60
    instance = payload["instance"]
    assert instance["strategies"] == 2 and instance["running"] == 2 and instance["orders_http_418"] == 0
    assert {"lag_p99_ms", "uptime_s", "orders_sent", "orders_http_429", "orders_paused_s",
            "venue_api_requests"} <= set(instance)
    [performance] = mqtt_probe.wait_for(f"{prefix}/performance",
                                        lambda m: m.json()["taker"]["performance"]["fills"] > 0, timeout=20)
    for entry in performance.json().values():
        assert "instance" not in entry["custom_info"]
        assert {"orders_sent", "order_queue_delay_p99_ms", "orders_throttled_s"} <= set(entry["custom_info"])
    # once per performance interval: about as many P/metrics as P/performance messages
    seen = len(mqtt_probe.received(f"{prefix}/performance"))
    wait_until(lambda: len(mqtt_probe.received(f"{prefix}/performance")) >= seen + 2, 10, message="two more reports")
    n_metrics = len(mqtt_probe.received(f"{prefix}/metrics"))
    n_performance = len(mqtt_probe.received(f"{prefix}/performance"))
    assert abs(n_metrics - n_performance) <= 1


def test_venue_client_hooks_track_manager_orders_and_do_not_report_throttling_as_a_refusal():
    from hive_core.market.venue_api import ApiResponse
    from hive_core.market.venue_client import VenueClient

    client = VenueClient(["BTC-USDT"], fee_rate=0.001, now=lambda: 5.0)
    updates = []
    client.add_order_listener(updates.append)
    params = {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC", "price": "90",
              "quantity": "0.5", "newClientOrderId": "s1-000001"}
    client.track_request("order.place", params)
    assert client.get_order("s1-000001").price == 90.0
    client.forget_refused("order.place", params, ApiResponse(1, "order.place", 429, retry_after=1.0))
    client.track_request("order.place", params)                     # the manager sends it again
    client.forget_refused("order.place", params, ApiResponse(2, "order.place", 418, retry_after=5.0))
    assert updates == [] and client.stats["refused"] == 0
    client.track_request("order.place", params)
    client.forget_refused("order.place", params, ApiResponse(3, "order.place", 503, local=True))
    assert client.get_order("s1-000001") is not None                 # outcome unknown: still attributed
    client.forget_refused("order.place", params, {"status": 400, "error": {"code": -2010, "msg": "no"}})
    assert client.get_order("s1-000001") is None and updates == [] and client.stats["refused"] == 1
    # an accepted one: its executionReport becomes an update
    client.track_request("order.place", {**params, "newClientOrderId": "s1-000002"})
    client.forget_refused("order.place", params, ApiResponse(4, "order.place", 200))
    client._on_user_event({"e": "executionReport", "c": "s1-000002", "x": "NEW", "X": "NEW", "T": 5000})
    assert [(u.kind.value, u.order.client_order_id) for u in updates] == [("created", "s1-000002")]


def test_performance_parts_join_to_the_same_json_as_the_whole_report():
    import json

    from hive_core.remote import messages

    strategies = [{"id": f"l{i}", "strategy": "Light", "interval": 0.5} for i in range(7)]
    runtime = make_runtime(strategies, {"Light": Light}, realtime=False)
    runtime.run_virtual(5.0)
    parts = list(runtime.reports.performance_json_parts(batch=3))
    assert len(parts) == 3
    joined = json.loads("{" + ", ".join(parts) + "}")
    assert joined == json.loads(messages.to_json(runtime.reports.performance_report()))
    assert list(joined) == [f"l{i}" for i in range(7)] and joined["l3"]["performance"]["fills"] > 0


class SwitchIntervalProbe(Strategy):
    """Records the interpreter's GIL switch interval at each tick."""

    def on_start(self):
        self.seen = []

    def on_tick(self, now):
        self.seen.append(sys.getswitchinterval())


@pytest.mark.integration
def test_while_running_a_worker_thread_holds_the_gil_at_most_half_a_millisecond_at_a_time():
    """The Prometheus text renders on a worker thread: with Python's default interval (5 ms) the tick loop
    waited up to that long for the GIL each time it woke up during a scrape."""
    from hive_core.runtime import GIL_SWITCH_INTERVAL
    before = sys.getswitchinterval()

    async def scenario():
        runtime = make_runtime([{"id": "p", "strategy": "Probe", "interval": 0.05}], {"Probe": SwitchIntervalProbe})
        task = asyncio.create_task(runtime.run(install_signal_handlers=False))
        try:
            probe = await wait_until_async(lambda: runtime.host.slots["p"].strategy, 10, message="started")
            await wait_until_async(lambda: len(probe.seen) >= 3, 10, message="three ticks")
        finally:
            runtime.request_stop()
            await asyncio.wait_for(task, 15)
        return probe.seen

    seen = run(scenario(), timeout=60)
    assert set(seen) == {GIL_SWITCH_INTERVAL} and GIL_SWITCH_INTERVAL <= 0.0005
    assert sys.getswitchinterval() == before, "given back when the instance stops"
