"""What the ccxt extra costs an instance: the same instance (10 market makers, paper trading on the simulated venue
standing in for Binance) once through the native `binance` venue and once through the `ccxt` venue (ccxt's binance),
side by side in one run.

Each side is a real `python -m hive_core run` process, measured once its strategies run and again after a window:
memory (RSS, USS, PSS) and the CPU seconds it spent in the window. The venue (its WebSocket and REST faces) runs in
this process, on a thread of its own, and is not measured.
"""
from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import psutil
import yaml

from hive_core.sim.background import venue_thread
from hive_core.sim.rest import CCXT_SPOT_ONLY, ccxt_binance_urls

STRATEGIES = 10
READY_TIMEOUT_S = 60.0
READY_LINE = "running"   # "instance <id> running <n> strategies" in the instance's log
MB = 1024 * 1024


@dataclass(frozen=True)
class VenueSide:
    venue: str
    rss_mb: float
    uss_mb: float
    pss_mb: float
    cpu_s: float


def _config(venue: dict[str, Any]) -> dict[str, Any]:
    return {"instance_id": "mem", "mqtt_bridge": {"mqtt_autostart": False}, "journal": {"enabled": False},
            "strategies": [{"id": f"mm{i}", "strategy": "market_maker", "params": {"spread_bps": 20 + i}}
                           for i in range(STRATEGIES)],
            "venue": {"mode": "paper", "trading_pairs": ["BTC-USDT"], **venue}}


def _measure(name: str, venue: dict[str, Any], window: float, folder: Path) -> VenueSide:
    path = folder / f"{name}.yml"
    path.write_text(yaml.safe_dump(_config(venue)))
    log = folder / f"{name}.log"
    with open(log, "wb") as out:
        process = subprocess.Popen([sys.executable, "-m", "hive_core", "run", "--config", str(path)],
                                   stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while READY_LINE not in log.read_text(errors="replace"):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the {name} instance did not start:\n{log.read_text(errors='replace')[-2000:]}")
            time.sleep(0.2)
        watched = psutil.Process(process.pid)
        cpu_before = sum(watched.cpu_times()[:2])
        time.sleep(window)
        cpu = sum(watched.cpu_times()[:2]) - cpu_before
        memory = watched.memory_full_info()
        return VenueSide(name, memory.rss / MB, memory.uss / MB, memory.pss / MB, cpu)
    finally:
        process.terminate()
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


def venue_memory_benchmark(window: float = 10.0) -> dict[str, Any]:
    """The native binance venue against the ccxt one, same instance, same simulated venue."""
    import ccxt.pro

    with venue_thread(rest=True, step_interval=0.1) as venue, tempfile.TemporaryDirectory() as directory:
        assert venue.rest_url is not None
        native = {"kind": "binance", "network": "testnet", "stream_url": venue.url, "api_url": venue.url}
        through_ccxt = {"kind": "ccxt", "exchange": "binance", "options": CCXT_SPOT_ONLY, "poll_interval": 0.25,
                        "urls": ccxt_binance_urls(ccxt.pro.binance().urls["api"], venue.url, venue.rest_url)}
        sides = [_measure("binance", native, window, Path(directory)),
                 _measure("ccxt", through_ccxt, window, Path(directory))]
    base, extra = sides
    return {"strategies": STRATEGIES, "window_s": window, "sides": [asdict(side) for side in sides],
            "rss_ratio": extra.rss_mb / base.rss_mb, "uss_ratio": extra.uss_mb / base.uss_mb,
            "cpu_ratio": extra.cpu_s / base.cpu_s if base.cpu_s else None}


def print_venue_memory(result: dict[str, Any]) -> None:
    print(f"an instance with the ccxt extra: {result['strategies']} market makers paper trading on the simulated "
          f"venue, measured over {result['window_s']:g} s")
    print(f"  {'venue':>8} | {'RSS MB':>7} | {'USS MB':>7} | {'PSS MB':>7} | {'CPU s':>6}")
    for side in result["sides"]:
        print(f"  {side['venue']:>8} | {side['rss_mb']:7.1f} | {side['uss_mb']:7.1f} | {side['pss_mb']:7.1f} | "
              f"{side['cpu_s']:6.2f}")
    cpu = f", CPU ×{result['cpu_ratio']:.2f}" if result["cpu_ratio"] else ""
    print(f"  ccxt against native: RSS ×{result['rss_ratio']:.2f}, USS ×{result['uss_ratio']:.2f}{cpu}")


if __name__ == "__main__":
    print_venue_memory(venue_memory_benchmark())
