"""Benchmark: a real Runtime in realtime mode at scale.

1,000 strategies at 1 s and 100 strategies at 100 ms (`seconds` each), each tick reading the mid price
and doing a little arithmetic: tick lag p50/p99 (scheduled vs actual start of on_tick), starvation
events, memory per added strategy (USS delta / N) and the time to build one performance report.
"""
from __future__ import annotations

import asyncio
import gc
import logging
import tempfile
import textwrap
import time
from pathlib import Path

SCALE_STRATEGY = '''
from hive_core.strategy import Strategy

class BenchTick(Strategy):
    """Reads the mid price every tick and keeps a short moving average of it."""

    def on_start(self):
        self.avg = self.ctx.market.mid_price()
        self.n = 0

    def on_tick(self, now):
        mid = self.ctx.market.mid_price()
        self.avg += (mid - self.avg) * 0.1
        self.n += 1
'''

# (strategies, interval s) of the issue; each runs `seconds` of wall-clock time.
SCALE_SCENARIOS = ((1000, 1.0), (100, 0.1))
LAG_TARGET_MS = 5.0
MEMORY_TARGET_MB = 1.0


def uss_bytes() -> int:
    """Unique set size of this process (what it would give back if it exited)."""
    import psutil
    process = psutil.Process()
    try:
        return process.memory_full_info().uss
    except (psutil.AccessDenied, AttributeError):   # no /proc/<pid>/smaps: fall back to RSS
        return process.memory_info().rss


def run_scale(strategies: int, interval: float, seconds: float, strategy_dir: Path) -> dict:
    """One realtime Runtime: a seed strategy, then `strategies` added through Runtime.add_strategy
    (USS measured around the additions), then `seconds` of running; lag and starvation read back."""
    from hive_core.config import parse_instance_config
    from hive_core.loader import StrategyLoader, resolve_instance
    from hive_core.runtime import Runtime

    config = parse_instance_config({
        "instance_id": "bench", "strategy_dirs": [str(strategy_dir)],
        "strategies": [{"id": "seed", "strategy": "bench_tick", "interval": interval}],
        "venue": {"seed": 1}, "mqtt_bridge": {"mqtt_autostart": False}})
    loader = StrategyLoader(config.strategy_dirs)
    runtime = Runtime(config, resolve_instance(config, loader=loader), loader=loader)
    runtime.host.add_strategy({"id": "warmup", "strategy": "bench_tick", "interval": interval})
    runtime.host.remove_strategy("warmup")
    gc.collect()
    before = uss_bytes()
    for index in range(strategies):
        runtime.host.add_strategy({"id": f"s{index:05d}", "strategy": "bench_tick", "interval": interval})
    gc.collect()
    per_strategy = (uss_bytes() - before) / strategies

    async def timed_run() -> None:
        asyncio.get_running_loop().call_later(seconds, runtime.request_stop)
        await runtime.run(install_signal_handlers=False)

    logging.getLogger("hive").setLevel(logging.WARNING)
    wall = time.perf_counter()
    asyncio.run(timed_run())
    wall = time.perf_counter() - wall
    jobs = [slot.job for slot in runtime.host.slots.values()]
    lag = runtime.scheduler.lag
    ticks = sum(job.ticks for job in jobs)
    expected = (strategies + 1) * seconds / interval
    report_started = time.perf_counter()
    runtime.reports.performance_report()
    report_ms = (time.perf_counter() - report_started) * 1000
    return {"strategies": strategies, "interval_s": interval, "seconds": seconds, "wall_seconds": wall,
            "ticks": ticks, "ticks_expected": expected,
            "lag_p50_ms": lag.percentile(0.5, recent=False) * 1000,
            "lag_p99_ms": lag.percentile(0.99, recent=False) * 1000,
            "lag_max_ms": lag.max * 1000, "starvation_events": sum(job.starvation for job in jobs),
            "clock_overruns": runtime.clock.total_overruns, "budget_overruns": sum(job.budget_overruns for job in jobs),
            "errors": sum(job.errors for job in jobs), "memory_per_strategy_mb": per_strategy / 1e6,
            "performance_report_ms": report_ms,
            "meets_targets": (lag.percentile(0.99, recent=False) * 1000 < LAG_TARGET_MS
                              and sum(job.starvation for job in jobs) == 0
                              and per_strategy / 1e6 < MEMORY_TARGET_MB)}


def scale_benchmark(seconds: float) -> list[dict]:
    with tempfile.TemporaryDirectory(prefix="hive-bench-") as directory:
        strategy_dir = Path(directory)
        (strategy_dir / "bench_tick.py").write_text(textwrap.dedent(SCALE_STRATEGY))
        return [run_scale(n, interval, seconds, strategy_dir) for n, interval in SCALE_SCENARIOS]


def print_scale(results: list[dict]) -> None:
    print(f"scale: realtime Runtime, trivial on_tick (reads the mid); targets: lag p99 < {LAG_TARGET_MS:g} ms, "
          f"0 starvation, < {MEMORY_TARGET_MB:g} MB per strategy")
    print(f"{'strategies':>10} {'interval':>8} {'seconds':>7} {'ticks':>9} {'lag p50 ms':>10} {'lag p99 ms':>10} "
          f"{'lag max ms':>10} {'starved':>7} {'MB/strat':>8} {'report ms':>9} {'ok':>3}")
    for r in results:
        print(f"{r['strategies']:>10} {r['interval_s']:>7g}s {r['seconds']:>7g} {r['ticks']:>9,} "
              f"{r['lag_p50_ms']:>10.3f} {r['lag_p99_ms']:>10.3f} {r['lag_max_ms']:>10.2f} {r['starvation_events']:>7} "
              f"{r['memory_per_strategy_mb']:>8.3f} {r['performance_report_ms']:>9.1f} "
              f"{'yes' if r['meets_targets'] else 'NO':>3}")
