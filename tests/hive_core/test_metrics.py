"""Metrics: the collector registry, the Prometheus text, and GET /metrics scraped over real HTTP."""
from __future__ import annotations

import asyncio
import logging
import re
import urllib.error
import urllib.request

import pytest

from hive_core.config import parse_instance_config
from hive_core.loader import resolve_instance
from hive_core.metrics import MetricsRegistry, MetricsServer
from hive_core.runtime import Runtime
from tests.polling import wait_until_async

pytestmark = pytest.mark.timeout(60)


def test_registry_renders_strategy_and_instance_fields_as_prometheus_text():
    registry = MetricsRegistry("bot-1")
    registry.add_strategy_collector("core", lambda slot: {"ticks": slot["ticks"], "lag_p99_ms": 1.5,
                                                          "status": "running", "open_orders": [1, 2]})
    registry.add_instance_collector("inst", lambda: {"strategies": 2, "policy": "priority"})
    text = registry.prometheus({"a": {"ticks": 3}, "b": {"ticks": 4}})
    assert '# TYPE hive_strategy_ticks_total counter' in text
    assert 'hive_strategy_ticks_total{instance="bot-1",strategy="a"} 3\n' in text
    assert 'hive_strategy_ticks_total{instance="bot-1",strategy="b"} 4\n' in text
    assert 'hive_strategy_lag_p99_ms{instance="bot-1",strategy="a"} 1.5\n' in text
    assert 'hive_strategy_status{instance="bot-1",strategy="a",status="running"} 1\n' in text
    assert 'hive_instance_strategies{instance="bot-1"} 2\n' in text
    assert "open_orders{" not in text                     # lists are for custom_info only
    assert text.count("# TYPE hive_strategy_ticks_total") == 1
    for line in text.splitlines():                         # every sample line parses
        if not line.startswith("#"):
            assert re.fullmatch(r'[a-z_][a-z0-9_]*\{[^}]*\} (-?[0-9.e+]+|NaN|[+-]Inf)', line), line


def test_a_new_source_is_one_collector_and_a_failing_one_is_skipped(caplog):
    registry = MetricsRegistry("i")
    registry.add_strategy_collector("orders", lambda slot: {"queued_orders": 7},
                                    describe={"queued_orders": ("gauge", "orders waiting in the queue")})

    def broken(_slot):
        raise KeyError("venue gone")

    registry.add_strategy_collector("broken", broken)
    with caplog.at_level(logging.ERROR, logger="hive.metrics"):
        assert registry.strategy_fields(object()) == {"queued_orders": 7}
        assert registry.strategy_fields(object()) == {"queued_orders": 7}
    assert len([r for r in caplog.records if "broken" in r.getMessage()]) == 1   # logged once
    text = registry.prometheus({"s": object()})
    assert "# HELP hive_strategy_queued_orders orders waiting in the queue" in text
    registry.remove_collector("orders")
    assert registry.collectors == ["broken"]


def get(url: str) -> tuple[int, str, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.headers["Content-Type"], response.read().decode()
    except urllib.error.HTTPError as problem:
        return problem.code, problem.headers["Content-Type"], problem.read().decode()


@pytest.mark.integration
def test_metrics_server_answers_get_metrics_and_404_elsewhere():
    async def scenario():
        server = MetricsServer(lambda: "hive_x 1\n", port=0)
        port = await server.start()
        try:
            ok = await asyncio.to_thread(get, f"http://127.0.0.1:{port}/metrics")
            missing = await asyncio.to_thread(get, f"http://127.0.0.1:{port}/other")
        finally:
            await server.stop()
        return port, ok, missing, server.scrapes

    port, ok, missing, scrapes = asyncio.run(scenario())
    assert port > 0 and ok == (200, "text/plain; version=0.0.4; charset=utf-8", "hive_x 1\n")
    assert missing[0] == 404 and scrapes == 1


@pytest.mark.integration
def test_running_instance_serves_its_strategies_figures_on_an_ephemeral_metrics_port(caplog):
    config = parse_instance_config({
        "instance_id": "prom", "metrics_port": 0, "mqtt_bridge": {"mqtt_autostart": False},
        "strategies": [{"id": "mm", "strategy": "market_maker", "interval": 0.1},
                       {"id": "mo", "strategy": "momentum", "interval": 0.2}]})
    runtime = Runtime(config, resolve_instance(config))

    async def scenario():
        task = asyncio.create_task(runtime.run(install_signal_handlers=False))
        try:
            await wait_until_async(lambda: runtime.metrics_server is not None and runtime.metrics_server.port, 5,
                                   message="the metrics server listening")
            await wait_until_async(lambda: runtime.slots["mm"].job.ticks >= 5 and runtime.slots["mo"].job.ticks >= 2,
                                   10, message="ticks of both strategies")
            return await asyncio.to_thread(get, f"http://127.0.0.1:{runtime.metrics_server.port}/metrics")
        finally:
            runtime.request_stop()
            await asyncio.wait_for(task, 10)

    with caplog.at_level(logging.INFO, logger="hive.metrics"):
        status, content_type, text = asyncio.run(scenario())
    assert status == 200 and content_type.startswith("text/plain; version=0.0.4")
    assert any("Prometheus metrics on http://127.0.0.1:" in r.getMessage() for r in caplog.records)
    ticks = dict(re.findall(r'hive_strategy_ticks_total\{instance="prom",strategy="(\w+)"\} (\d+)', text))
    assert int(ticks["mm"]) >= 5 and int(ticks["mo"]) >= 2
    for name in ("hive_strategy_lag_p99_ms", "hive_strategy_starvation_total", "hive_strategy_budget_overruns_total",
                 "hive_strategy_global_pnl_quote", "hive_strategy_open_orders_count", "hive_instance_lag_p99_ms",
                 "hive_instance_running", "hive_instance_quarantines_total"):
        assert f"{name}{{" in text, name
    assert 'hive_instance_running{instance="prom"} 2' in text
    assert runtime.metrics_server is None or runtime.metrics_server._server is None   # closed at shutdown
