"""How long the periodic reports take to build for many strategies (they run on the tick loop).

    python -m benchmarks.report [--strategies 1000] [--seconds 30] [--repeats 20]

A virtual-time runtime with N shipped market makers (1 s ticks, generous venue limits so the order
queues stay short) runs `--seconds` of virtual time, so every strategy has orders, fills and
histograms; then the P/performance payload (`performance_report()` + JSON encoding, what the
bridge does once per `mqtt_performance_interval`), the P/metrics payload and the Prometheus text
are each built `--repeats` times. Prints one JSON object: median and max milliseconds of each.
"""
from __future__ import annotations

import argparse
import gc
import json
import logging
import statistics
import time
from typing import Any

from hive_core.config import parse_instance_config
from hive_core.loader import StrategyLoader, resolve_instance
from hive_core.prometheus import render
from hive_core.remote import messages
from hive_core.runtime import Runtime


def build_runtime(strategies: int) -> Runtime:
    config = parse_instance_config({
        "instance_id": "bench-report", "mqtt_bridge": {"mqtt_autostart": False},
        "paper": {"balances": {"USDT": 10_000.0, "BTC": 1.0, "ETH": 20.0}},
        "venue": {"seed": 3, "trading_pairs": ["BTC-USDT", "ETH-USDT"],
                  "rate_limits": [{"limit_type": "REQUEST_WEIGHT", "interval_s": 60, "limit": 10_000_000},
                                  {"limit_type": "ORDERS", "interval_s": 10, "limit": 1_000_000}]},
        "strategies": [{"id": f"mm{i}", "strategy": "market_maker", "interval": 1.0,
                        "trading_pair": "BTC-USDT" if i % 2 else "ETH-USDT",
                        "quota": {"orders_per_second": 1000, "weight_per_minute": 60_000}}
                       for i in range(strategies)]})
    loader = StrategyLoader(config.strategy_dirs)
    return Runtime(config, resolve_instance(config), realtime=False, start_time=1_700_000_000.0, loader=loader)


def _time(fn, repeats: int) -> dict[str, float]:
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - started) * 1e3)
    return {"median_ms": round(statistics.median(samples), 3), "max_ms": round(max(samples), 3)}


def _time_parts(parts_of, repeats: int) -> dict[str, float]:
    longest: list[float] = []
    total: list[float] = []
    for _ in range(repeats):
        parts = parts_of()
        slices = []
        while True:
            started = time.perf_counter()
            if next(parts, None) is None:
                break
            slices.append((time.perf_counter() - started) * 1e3)
        longest.append(max(slices))
        total.append(sum(slices))
    return {"total_median_ms": round(statistics.median(total), 3),
            "longest_part_median_ms": round(statistics.median(longest), 3),
            "longest_part_max_ms": round(max(longest), 3)}


def measure(strategies: int = 1000, seconds: float = 30.0, repeats: int = 20) -> dict[str, Any]:
    logging.getLogger("hive").setLevel(logging.ERROR)
    runtime = build_runtime(strategies)
    runtime.run_virtual(seconds)
    fills = sum(slot.account.fill_count for slot in runtime.host.slots.values())
    figures: dict[str, Any] = {"strategies": strategies, "virtual_s": seconds, "fills": fills}
    reports = runtime.reports
    figures["performance_build"] = _time(reports.performance_report, repeats)
    figures["performance_build_and_json"] = _time(lambda: messages.to_json(reports.performance_report()), repeats)
    figures["performance_json_bytes"] = len(messages.to_json(reports.performance_report()))
    # What the bridge does: one part per loop turn; the loop is held one part long.
    figures["performance_parts"] = _time_parts(reports.performance_json_parts, repeats)
    gc.collect()
    gc.freeze()              # as Runtime.run() does after start-up
    figures["performance_parts_gc_frozen"] = _time_parts(reports.performance_json_parts, repeats)
    gc.unfreeze()
    figures["metrics_build_and_json"] = _time(lambda: messages.to_json(reports.metrics_report()), repeats)
    figures["prometheus"] = _time(lambda: render(reports.metrics_snapshot()), max(repeats // 4, 1))
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--strategies", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args(argv)
    print(json.dumps(measure(args.strategies, args.seconds, args.repeats), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
