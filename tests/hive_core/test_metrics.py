"""Metrics: the collector registry, the Prometheus text (read back by prometheus_client's parser), and GET
/metrics scraped over real HTTP."""
from __future__ import annotations

import asyncio
import gc
import logging
import math
import re
import subprocess
import sys
import urllib.error
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from hive_core.config import parse_instance_config
from hive_core.loader import resolve_instance
from hive_core.metrics import MetricsRegistry
from hive_core.prometheus import MetricsServer, render
from hive_core.runtime import Runtime
from tests.polling import wait_until_async

pytestmark = pytest.mark.timeout(60)


def parse(text: str) -> tuple[dict[str, tuple[str, str]], dict[tuple[str, frozenset], float]]:
    """The exposition read back by prometheus_client's parser: {family: (type, help)}, {(sample, labels): value}."""
    families, samples = {}, {}
    for family in text_string_to_metric_families(text):
        assert family.name not in families, family.name               # one HELP/TYPE block per metric
        families[family.name] = (family.type, family.documentation)
        for sample in family.samples:
            samples[sample.name, frozenset(sample.labels.items())] = sample.value
    return families, samples


def exposition(registry: MetricsRegistry, slots: dict) -> str:
    return render(registry.snapshot(slots)).decode()


def labels(**values: str) -> frozenset:
    return frozenset(values.items())


def test_registry_renders_strategy_and_instance_fields_as_prometheus_text():
    registry = MetricsRegistry("bot-1")
    registry.add_strategy_collector("core", lambda slot: {"ticks": slot["ticks"], "lag_p99_ms": 1.5,
                                                          "status": "running", "open_orders": [1, 2]})
    registry.add_instance_collector("inst", lambda: {"strategies": 2, "policy": "priority"})
    text = exposition(registry, {"a": {"ticks": 3}, "b": {"ticks": 4}})
    families, samples = parse(text)
    assert '# TYPE hive_strategy_ticks_total counter' in text
    assert families["hive_strategy_ticks"] == ("counter", "on_tick calls that returned")
    assert samples["hive_strategy_ticks_total", labels(instance="bot-1", strategy="a")] == 3
    assert samples["hive_strategy_ticks_total", labels(instance="bot-1", strategy="b")] == 4
    assert samples["hive_strategy_lag_p99_ms", labels(instance="bot-1", strategy="a")] == 1.5
    assert families["hive_strategy_lag_p99_ms"][0] == "gauge"
    assert samples["hive_strategy_status", labels(instance="bot-1", strategy="a", status="running")] == 1
    assert families["hive_strategy_status"][0] == "gauge"
    assert samples["hive_instance_strategies", labels(instance="bot-1")] == 2
    assert samples["hive_instance_policy", labels(instance="bot-1", policy="priority")] == 1
    assert "open_orders{" not in text                     # lists are for custom_info only
    assert not any("open_orders" in name for name in families)
    assert len(samples) == 8                               # 2 instance figures, 3 per strategy
    assert text.count("# TYPE hive_strategy_ticks_total") == 1
    for line in text.splitlines():                         # every sample line parses
        if not line.startswith("#"):
            assert re.fullmatch(r'[a-z_][a-z0-9_]*\{[^}]*\} (-?[0-9.e+]+|NaN|[+-]Inf)', line), line


def test_label_values_are_escaped_and_special_numbers_kept():
    registry = MetricsRegistry('bot "1"')
    registry.add_strategy_collector("odd", lambda slot: {"note": 'a"b\\c\nd', "lag_max_ms": float("nan"),
                                                         "interval": float("inf"), "position": -2.5})
    _, samples = parse(exposition(registry, {"s\\1": object()}))
    strategy = {"instance": 'bot "1"', "strategy": "s\\1"}
    assert samples["hive_strategy_note", frozenset({**strategy, "note": 'a"b\\c\nd'}.items())] == 1
    assert math.isnan(samples["hive_strategy_lag_max_ms", frozenset(strategy.items())])
    assert samples["hive_strategy_interval", frozenset(strategy.items())] == math.inf
    assert samples["hive_strategy_position", frozenset(strategy.items())] == -2.5


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
    text = exposition(registry, {"s": object()})
    assert "# HELP hive_strategy_queued_orders orders waiting in the queue" in text
    families, samples = parse(text)
    assert families["hive_strategy_queued_orders"] == ("gauge", "orders waiting in the queue")
    assert samples == {("hive_strategy_queued_orders", labels(instance="i", strategy="s")): 7}
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
        registry = MetricsRegistry("i")
        registry.add_instance_collector("x", lambda: {"x": 1})

        async def snapshot():
            return registry.snapshot({})

        server = MetricsServer(snapshot, port=0)
        port = await server.start()
        try:
            ok = await asyncio.to_thread(get, f"http://127.0.0.1:{port}/metrics")
            missing = await asyncio.to_thread(get, f"http://127.0.0.1:{port}/other")
        finally:
            await server.stop()
        return port, ok, missing, server.scrapes

    port, ok, missing, scrapes = asyncio.run(scenario())
    text = '# HELP hive_instance_x x\n# TYPE hive_instance_x gauge\nhive_instance_x{instance="i"} 1.0\n'
    assert port > 0 and ok == (200, "text/plain; version=0.0.4; charset=utf-8", text)
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
            slots = runtime.host.slots
            await wait_until_async(lambda: slots["mm"].job.ticks >= 5 and slots["mo"].job.ticks >= 2,
                                   10, message="ticks of both strategies")
            return await asyncio.to_thread(get, f"http://127.0.0.1:{runtime.metrics_server.port}/metrics")
        finally:
            runtime.request_stop()
            await asyncio.wait_for(task, 10)

    with caplog.at_level(logging.INFO, logger="hive.metrics"):
        status, content_type, text = asyncio.run(scenario())
    assert status == 200 and content_type.startswith("text/plain; version=0.0.4")
    assert any("Prometheus metrics on http://127.0.0.1:" in r.getMessage() for r in caplog.records)
    _, samples = parse(text)
    assert samples["hive_strategy_ticks_total", labels(instance="prom", strategy="mm")] >= 5
    assert samples["hive_strategy_ticks_total", labels(instance="prom", strategy="mo")] >= 2
    names = {name for name, _ in samples}
    for name in ("hive_strategy_lag_p99_ms", "hive_strategy_starvation_total", "hive_strategy_budget_overruns_total",
                 "hive_strategy_global_pnl_quote", "hive_strategy_open_orders_count", "hive_instance_lag_p99_ms",
                 "hive_instance_running", "hive_instance_quarantines_total"):
        assert f"{name}{{" in text and name in names, name
    assert samples["hive_instance_running", labels(instance="prom")] == 2
    assert runtime.metrics_server is None or runtime.metrics_server._server is None   # closed at shutdown


def test_an_instance_without_a_metrics_port_does_not_load_prometheus_client():
    code = ("import sys; import hive_core.runtime, hive_core.cli; "
            "print(sorted(m for m in sys.modules if m.startswith(('prometheus_client', 'hive_core.prometheus'))))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert loaded.stdout.strip() == "[]"


class ClientLibraryCollector:
    """The same families built with prometheus_client's own metric classes: the reference render() must match."""

    def __init__(self, snapshot) -> None:
        self.snapshot = snapshot

    def collect(self):
        from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily
        families = {}

        def add(prefix, field, labels, value):
            if value is None or isinstance(value, dict | list | tuple):
                return
            kind, help_text = self.snapshot.descriptions.get(field, ("gauge", field.replace("_", " ")))
            label = re.sub(r"[^a-zA-Z0-9_]", "_", field)
            name = prefix + label
            if isinstance(value, str):
                kind, labels, number = "gauge", {**labels, label: value}, 1.0
            else:
                number = float(value)
                if kind == "counter" and not name.endswith("_total"):
                    name += "_total"
            if name not in families:
                families[name] = (CounterMetricFamily if kind == "counter" else GaugeMetricFamily)(name, help_text)
            families[name].add_sample(name, labels, number)

        for field, value in self.snapshot.instance_fields.items():
            add("hive_instance_", field, {"instance": self.snapshot.instance_id}, value)
        for strategy_id, fields in self.snapshot.strategy_fields:
            for field, value in fields.items():
                add("hive_strategy_", field, {"instance": self.snapshot.instance_id, "strategy": strategy_id}, value)
        return list(families.values())


def test_the_text_is_byte_for_byte_what_prometheus_client_writes_for_the_same_families():
    from prometheus_client.exposition import generate_latest
    registry = MetricsRegistry('bot "1"')
    registry.add_strategy_collector("odd", lambda slot: {
        "ticks": 7, "note": 'a"b\\c\nd', "status": "running", "lag_max_ms": float("nan"), "interval": float("inf"),
        "position": -2.5, "big": 12345678.9, "flag": True, "fills_total": 3, "orders": [1]},
        describe={"fills_total": ("counter", "fills\nwith \\ and a newline"), "big": ("gauge", "a large gauge")})
    registry.add_instance_collector("inst", lambda: {"strategies": 2, "policy": "priority", "uptime_s": 0.1})
    snapshot = registry.snapshot({"s\\1": object(), "b": object()})
    assert render(snapshot) == generate_latest(ClientLibraryCollector(snapshot))

    from tests.hive_core.test_order_path import Light, make_runtime
    runtime = make_runtime([{"id": f"l{i}", "strategy": "Light", "interval": 0.5} for i in range(5)], {"Light": Light},
                           realtime=False)
    runtime.run_virtual(5.0)
    snapshot = runtime.reports.metrics_snapshot()
    assert render(snapshot) == generate_latest(ClientLibraryCollector(snapshot))


def many_strategies_snapshot(strategies: int = 1000):
    """A registry with the built-in collectors' number of fields (about 30 per strategy)."""
    registry = MetricsRegistry("big")
    registry.add_strategy_collector("figures", lambda slot: {f"field_{i}": slot * 1.5 + i for i in range(30)})
    registry.add_instance_collector("inst", lambda: {"strategies": strategies})
    return registry.snapshot({f"s{i}": i for i in range(strategies)})


def test_rendering_a_thousand_strategies_sets_off_no_garbage_collection():
    """The render runs on a worker thread, but a collection it sets off stops the tick loop too (the GIL)."""
    snapshot = many_strategies_snapshot()
    collections = []

    def record(phase, info):
        if phase == "start":
            collections.append(info["generation"])

    gc.collect()
    gc.callbacks.append(record)
    try:
        text = render(snapshot)
    finally:
        gc.callbacks.remove(record)
    assert text.count(b"\n") == 3 + 30 * (2 + 1000)   # the instance family, then 30 of 1,000 samples each
    assert collections == []


def test_a_sliced_snapshot_lets_the_loop_run_between_slices_and_equals_the_whole():
    from tests.hive_core.test_order_path import Light, make_runtime
    runtime = make_runtime([{"id": f"l{i}", "strategy": "Light", "interval": 0.5} for i in range(250)],
                           {"Light": Light}, realtime=False)
    runtime.run_virtual(2.0)

    async def scenario():
        turns = 0

        async def count_turns():
            nonlocal turns
            while True:
                turns += 1
                await asyncio.sleep(0)

        counter = asyncio.create_task(count_turns())
        await asyncio.sleep(0)
        before = turns
        sliced = await runtime.reports.metrics_snapshot_sliced(batch=100)
        counter.cancel()
        return sliced, turns - before

    sliced, turns = asyncio.run(scenario())
    assert turns >= 3, "one loop turn between each of the 3 slices"
    whole = runtime.reports.metrics_snapshot()
    assert sliced.strategy_fields == whole.strategy_fields and len(sliced.strategy_fields) == 250
    assert sliced.instance_fields.keys() == whole.instance_fields.keys()
