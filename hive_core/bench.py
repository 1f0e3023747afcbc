"""Benchmark: the clock + scheduler hot path, compiled (Cython) against interpreted, in one run.

`python -m hive_core.bench` (or `make bench`). Two benchmarks, printed as tables and saved as JSON
under bench-results/:

- compiled vs interpreted: N no-op strategies on one interval with spread phases, driven in
  backtest (virtual) time for a fixed number of ticks, through the same clock + scheduler calls the
  runtime makes (scheduled times, lag and run-time histograms); so it measures what the runtime
  pays per tick, not what strategies do. The interpreted variant is the same .py source imported
  under another module name, so both run the same workload side by side in one process.
- scale: a real Runtime in realtime mode, 1,000 strategies at 1 s and 100 strategies at 100 ms
  (60 s each), each tick reading the mid price and doing a little arithmetic: tick lag p50/p99
  (scheduled vs actual start of on_tick), starvation events, memory per added strategy (USS delta / N).

`--quick` (or HIVE_BENCH_QUICK=1) shortens both, for a smoke run.
"""
from __future__ import annotations

import argparse
import asyncio
import gc
import importlib.util
import json
import logging
import os
import platform
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from types import ModuleType

import hive_core
from hive_core import clock as clock_module
from hive_core import scheduler as scheduler_module

SOURCE_DIR = Path(hive_core.__file__).resolve().parent


def load_source(name: str) -> ModuleType:
    """Import hive_core/<name>.py as plain Python, even when a compiled module shadows it."""
    path = SOURCE_DIR / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"_hive_bench_pure_{name}", path)
    assert spec is not None and spec.loader is not None     # a .py file always has both
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _noop(_now: float) -> None:
    return None


def run_workload(clock_mod: ModuleType, scheduler_mod: ModuleType, strategies: int, ticks: int,
                 interval: float = 1.0) -> dict:
    """Tick `strategies` no-op jobs until `ticks` ticks have run; returns timing figures."""
    logger = logging.getLogger("hive.bench")
    clock = clock_mod.Clock(realtime=False, start_time=0.0)
    scheduler = scheduler_mod.Scheduler()
    for index in range(strategies):
        scheduler.add(scheduler_mod.Job(f"s{index}", _noop, logger, interval=interval))
        clock.add(interval)
    clock.start(0.0)
    due: list = []
    scheduled: list = []
    ran = 0
    wakeups = 0
    started = time.perf_counter()
    while ran < ticks:
        due.clear()
        scheduled.clear()
        now = clock.advance(due, scheduled)
        ran += scheduler.run_due(due, now, scheduled)
        wakeups += 1
    elapsed = time.perf_counter() - started
    return {"ticks": ran, "wakeups": wakeups, "seconds": elapsed, "ticks_per_second": ran / elapsed,
            "ns_per_tick": elapsed / ran * 1e9, "virtual_seconds": clock.now(), "overruns": clock.total_overruns}


def best_of(repeats: int, *args) -> dict:
    return min((run_workload(*args) for _ in range(repeats)), key=lambda result: result["seconds"])


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
    """One realtime Runtime: a seed strategy, then `strategies` added through StrategyHost.add_strategy
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


def fanout_benchmark(subscribers: int = 100, messages: int = 20_000) -> dict:
    """Market-data fan-out: messages/s from one venue connection to `subscribers` callbacks
    (over a real 127.0.0.1 WebSocket, and dispatch alone); see hive_core/market/bench_fanout.py."""
    from hive_core.market.bench_fanout import fanout_benchmark as run_fanout
    return run_fanout(subscribers, messages)


def order_benchmark(orders: int = 20_000, seconds: float = 300.0) -> dict:
    """Order manager: submit -> frame on a local WebSocket (p50/p99), and fairness of 10 floods + 1 light
    strategy (Jain's index, light max delay vs its quota); see hive_core/orders/bench_orders.py."""
    from hive_core.orders.bench_orders import order_benchmarks
    return order_benchmarks(orders, seconds)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--strategies", type=int, default=1000)
    parser.add_argument("--ticks", type=int, default=300_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path("bench-results"))
    parser.add_argument("--quick", action="store_true", default=os.environ.get("HIVE_BENCH_QUICK", "") not in ("", "0"),
                        help="short runs (scale: 10 s per scenario; 50,000 ticks, 1 repeat)")
    parser.add_argument("--scale-seconds", type=float, default=None, help="seconds per scale scenario (default 60)")
    parser.add_argument("--skip-scale", action="store_true", help="only compiled vs interpreted")
    parser.add_argument("--density-n", default=None,
                        help="comma-separated strategy counts for the density benchmark "
                             "(default 1,10,100; '' skips it)")
    parser.add_argument("--density-seconds", type=float, default=None, help="measuring window per side (default 20)")
    args = parser.parse_args(argv)
    if args.quick:
        args.ticks, args.repeats = min(args.ticks, 50_000), 1
    scale_seconds = args.scale_seconds or (10.0 if args.quick else 60.0)

    pure_clock, pure_scheduler = load_source("clock"), load_source("scheduler")
    variants = {"interpreted": (pure_clock, pure_scheduler)}
    compiled = clock_module.COMPILED and scheduler_module.COMPILED
    if compiled:
        variants["compiled"] = (clock_module, scheduler_module)
    else:
        print("compiled modules not built (run `make install` or `python setup.py build_ext --inplace`); "
              "measuring the interpreted source only", file=sys.stderr)

    results = {name: best_of(args.repeats, mods[0], mods[1], args.strategies, args.ticks)
               for name, mods in variants.items()}
    ratio = (results["interpreted"]["seconds"] / results["compiled"]["seconds"]) if compiled else None

    title = (f"clock+scheduler: {args.strategies} no-op strategies, {args.ticks:,} ticks, backtest mode, "
             f"best of {args.repeats}")
    print(title)
    print(f"{'variant':<12} {'seconds':>9} {'ticks/s':>12} {'ns/tick':>9}")
    for name, result in results.items():
        print(f"{name:<12} {result['seconds']:>9.3f} {result['ticks_per_second']:>12,.0f} "
              f"{result['ns_per_tick']:>9.0f}")
    if ratio is not None:
        print(f"compiled is {ratio:.2f}x the speed of interpreted")

    scale = [] if args.skip_scale else scale_benchmark(scale_seconds)
    if scale:
        print()
        print_scale(scale)

    from hive_core.market.bench_fanout import print_fanout
    fanout = fanout_benchmark(100, 5_000 if args.quick else 20_000)
    print()
    print_fanout(fanout)

    from hive_core.orders.bench_orders import print_order_benchmarks
    orders = order_benchmark(5_000 if args.quick else 20_000, 60.0 if args.quick else 300.0)
    print()
    print_order_benchmarks(orders)

    density_n = args.density_n if args.density_n is not None else ("1,10" if args.quick else "1,10,100")
    density_ns = tuple(int(n) for n in density_n.split(",") if n.strip())
    density = []
    if density_ns:
        from hive_core.bench_density import format_density, run_density
        density = run_density(density_ns, args.density_seconds or (5.0 if args.quick else 20.0))
        print()
        print("density: one process with N strategies vs N processes with one (same strategy, shared venue and broker)")
        print(format_density(density))

    args.out.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    record = {"benchmark": "clock_scheduler", "title": title, "strategies": args.strategies, "ticks": args.ticks,
              "repeats": args.repeats, "results": results, "speedup": ratio, "speedup_target": 3.0,
              "scale": scale, "fanout": fanout, "orders": orders, "density": density, "compiled": compiled,
              "hive_core": hive_core.__version__,
              "python": platform.python_version(), "machine": platform.machine(), "at": stamp}
    path = args.out / f"clock_scheduler-{stamp}.json"
    path.write_text(json.dumps(record, indent=2))
    print(f"saved {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
