"""Benchmark: the clock + scheduler hot path, compiled (Cython) against interpreted, in one process.

N no-op strategies on one interval with spread phases, driven in backtest (virtual) time for a fixed
number of ticks, through the same clock + scheduler calls the runtime makes (scheduled times, lag and
run-time histograms); so it measures what the runtime pays per tick, not what strategies do. The
interpreted variant is the same .py source imported under another module name, so both run the same
workload side by side.
"""
from __future__ import annotations

import importlib.util
import logging
import sys
import time
from pathlib import Path
from types import ModuleType

import hive_core

SOURCE_DIR = Path(hive_core.__file__).resolve().parent


def load_source(name: str) -> ModuleType:
    """Import hive_core/<name>.py as plain Python, even when a compiled module shadows it."""
    path = SOURCE_DIR / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"_hive_bench_pure_{name}", path)
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



def print_clock_scheduler(title: str, results: dict[str, dict], ratio: float | None) -> None:
    print(title)
    print(f"{'variant':<12} {'seconds':>9} {'ticks/s':>12} {'ns/tick':>9}")
    for name, result in results.items():
        print(f"{name:<12} {result['seconds']:>9.3f} {result['ticks_per_second']:>12,.0f} "
              f"{result['ns_per_tick']:>9.0f}")
    if ratio is not None:
        print(f"compiled is {ratio:.2f}x the speed of interpreted")
