"""Benchmark: a real Runtime in realtime mode at scale.

1,000 strategies at 1 s and 100 strategies at 100 ms (`seconds` each), each tick reading the mid price
and doing a little arithmetic: tick lag p50/p99/max (scheduled vs actual start of on_tick), starvation
events, memory per added strategy (USS delta / N) and the time to build one performance report.
While it runs, the instance does what it does in production: it publishes P/performance and P/metrics to
an MQTT broker every second, and a Prometheus scraper GETs its /metrics every second; both are counted.
"""
from __future__ import annotations

import asyncio
import gc
import logging
import tempfile
import textwrap
import threading
import time
import urllib.request
from pathlib import Path

import paho.mqtt.client as mqtt

from benchmarks.density import mqtt_broker
from hive_core.remote.nodelay import nodelay

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
LAG_MAX_TARGET_MS = 10.0
MEMORY_TARGET_MB = 1.0
SCRAPE_EVERY = 1.0   # s between Prometheus scrapes, as a Prometheus server would


def uss_bytes() -> int:
    """Unique set size of this process (what it would give back if it exited)."""
    import psutil
    process = psutil.Process()
    try:
        return process.memory_full_info().uss
    except (psutil.AccessDenied, AttributeError):   # no /proc/<pid>/smaps: fall back to RSS
        return process.memory_info().rss


class _Scraper(threading.Thread):
    """GETs the runtime's /metrics every SCRAPE_EVERY s, once its metrics server listens."""

    def __init__(self, runtime) -> None:
        super().__init__(name="bench-scraper", daemon=True)
        self.runtime = runtime
        self.scrapes = 0
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(SCRAPE_EVERY):
            server = self.runtime.metrics_server
            if server is None or server.port is None:
                continue
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{server.port}/metrics", timeout=30) as answer:
                    answer.read()
            except OSError:    # the runtime stopping meanwhile
                continue
            self.scrapes += 1


class _ReportCounter:
    """Counts the P/performance messages the broker passes on."""

    def __init__(self, broker_port: int) -> None:
        self.reports = 0
        self._client = nodelay(mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="bench-scale-reports"))
        self._client.on_message = self._count
        self._client.connect("127.0.0.1", broker_port)
        self._client.subscribe("hbot/bench/performance", qos=0)
        self._client.loop_start()

    def _count(self, _client, _userdata, _message) -> None:
        self.reports += 1

    def close(self) -> None:
        self._client.loop_stop()
        self._client.disconnect()


def run_scale(strategies: int, interval: float, seconds: float, strategy_dir: Path, broker_port: int) -> dict:
    """One realtime Runtime: a seed strategy, then `strategies` added through Runtime.add_strategy
    (USS measured around the additions), then `seconds` of running with reports and scrapes; lag and
    starvation read back."""
    from hive_core.config import parse_instance_config
    from hive_core.loader import StrategyLoader, resolve_instance
    from hive_core.runtime import Runtime

    config = parse_instance_config({
        "instance_id": "bench", "strategy_dirs": [str(strategy_dir)], "metrics_port": 0,
        "strategies": [{"id": "seed", "strategy": "bench_tick", "interval": interval}],
        "venue": {"seed": 1}, "mqtt_bridge": {"mqtt_host": "127.0.0.1", "mqtt_port": broker_port,
                                              "mqtt_performance_interval": 1.0}})
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
    scraper, counter = _Scraper(runtime), _ReportCounter(broker_port)
    scraper.start()
    wall = time.perf_counter()
    try:
        asyncio.run(timed_run())
    finally:
        scraper.stopped.set()
        scraper.join(timeout=30)
        counter.close()
    wall = time.perf_counter() - wall
    jobs = [slot.job for slot in runtime.host.slots.values()]
    lag = runtime.scheduler.lag
    ticks = sum(job.ticks for job in jobs)
    expected = (strategies + 1) * seconds / interval
    report_started = time.perf_counter()
    runtime.reports.performance_report()
    report_ms = (time.perf_counter() - report_started) * 1000
    lag_p99_ms, lag_max_ms = lag.percentile(0.99, recent=False) * 1000, lag.max * 1000
    starvation = sum(job.starvation for job in jobs)
    return {"strategies": strategies, "interval_s": interval, "seconds": seconds, "wall_seconds": wall,
            "ticks": ticks, "ticks_expected": expected,
            "lag_p50_ms": lag.percentile(0.5, recent=False) * 1000, "lag_p99_ms": lag_p99_ms,
            "lag_max_ms": lag_max_ms, "starvation_events": starvation,
            "clock_overruns": runtime.clock.total_overruns, "budget_overruns": sum(job.budget_overruns for job in jobs),
            "errors": sum(job.errors for job in jobs), "memory_per_strategy_mb": per_strategy / 1e6,
            "performance_report_ms": report_ms, "performance_reports": counter.reports, "scrapes": scraper.scrapes,
            "meets_targets": (lag_p99_ms < LAG_TARGET_MS and lag_max_ms < LAG_MAX_TARGET_MS and starvation == 0
                              and per_strategy / 1e6 < MEMORY_TARGET_MB)}


def scale_benchmark(seconds: float) -> list[dict]:
    with tempfile.TemporaryDirectory(prefix="hive-bench-") as directory:
        strategy_dir = Path(directory)
        (strategy_dir / "bench_tick.py").write_text(textwrap.dedent(SCALE_STRATEGY))
        with mqtt_broker(strategy_dir) as broker_port:
            return [run_scale(n, interval, seconds, strategy_dir, broker_port) for n, interval in SCALE_SCENARIOS]


def print_scale(results: list[dict]) -> None:
    print(f"scale: realtime Runtime, trivial on_tick (reads the mid), P/performance and a Prometheus scrape every "
          f"second; targets: lag p99 < {LAG_TARGET_MS:g} ms and max < {LAG_MAX_TARGET_MS:g} ms, 0 starvation, "
          f"< {MEMORY_TARGET_MB:g} MB per strategy")
    print(f"{'strategies':>10} {'interval':>8} {'seconds':>7} {'ticks':>9} {'lag p50 ms':>10} {'lag p99 ms':>10} "
          f"{'lag max ms':>10} {'starved':>7} {'MB/strat':>8} {'report ms':>9} {'reports':>7} {'scrapes':>7} "
          f"{'ok':>3}")
    for r in results:
        print(f"{r['strategies']:>10} {r['interval_s']:>7g}s {r['seconds']:>7g} {r['ticks']:>9,} "
              f"{r['lag_p50_ms']:>10.3f} {r['lag_p99_ms']:>10.3f} {r['lag_max_ms']:>10.2f} {r['starvation_events']:>7} "
              f"{r['memory_per_strategy_mb']:>8.3f} {r['performance_report_ms']:>9.1f} {r['performance_reports']:>7} "
              f"{r['scrapes']:>7} {'yes' if r['meets_targets'] else 'NO':>3}")
