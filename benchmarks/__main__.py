"""Hive's benchmarks in one run: every table printed, every figure saved as JSON under bench-results/.

`python -m benchmarks` (or `make bench`) runs:

- clock_scheduler: the clock + scheduler hot path, compiled (Cython) against interpreted;
- scale: a realtime Runtime with 1,000 strategies at 1 s and 100 at 100 ms, publishing P/performance to a broker
  and scraped by Prometheus every second (tick lag p50/p99/max, starvation, memory);
- fanout: market-data fan-out from one venue connection to 100 subscribers;
- orders: the order manager's submit-to-socket latency and its fairness between strategies;
- signing: the cost of signing an order (HMAC, Ed25519) and order.place to its answer, unsigned against signed,
  on the simulated venue that checks the signatures;
- venue_memory: an instance paper trading through the native binance venue against the same through ccxt (the
  ccxt extra's memory and CPU);
- feed: the host's market-data service: 10 instances on their own venue connections against the same through one
  service (the venue's connections and subscriptions, memory, CPU), the latency it adds, its highest fan-out rate to
  10 clients, and its framing (WebSocket on a Unix socket, on TCP, and newline-delimited JSON for comparison);
- density: one process with N strategies against N processes with one;
- containers: the same with every instance in a container, when a Docker engine answers (DOCKER_HOST) and
  has the instance image (`make image`);
- dashboard: the Instances page's fleet table built and rendered at 20 and 200 instances;
- fleet: 100, 1,000 and 2,000 simulated bots (one MQTT connection each) against a Mosquitto and a backend
  process: time until listed, backend CPU and memory, the listing, the command round trip, a vanished bot.

`--quick` (or HIVE_BENCH_QUICK=1) shortens them, for a smoke run. `python -m benchmarks.report` measures
the cost of the periodic reports on its own.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import hive_core
from benchmarks.clock_scheduler import best_of, load_source, print_clock_scheduler
from benchmarks.containers import container_benchmarks
from benchmarks.dashboard import dashboard_benchmark, print_dashboard
from benchmarks.density import format_density, run_density
from benchmarks.fanout import fanout_benchmark, print_fanout
from benchmarks.feed import FANOUT_RATES, feed_benchmark, print_feed, rates_of
from benchmarks.feed import INSTANCES as FEED_INSTANCES
from benchmarks.fleet import FULL_RUN, QUICK_RUN, QUICK_SIZES, SIZES, fleet_benchmark, print_fleet
from benchmarks.orders import order_benchmarks, print_order_benchmarks
from benchmarks.scale import print_scale, scale_benchmark
from benchmarks.signing import print_signing, signing_benchmark
from benchmarks.venue_memory import print_venue_memory, venue_memory_benchmark
from hive_core import clock as clock_module
from hive_core import scheduler as scheduler_module


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    parser.add_argument("--strategies", type=int, default=1000)
    parser.add_argument("--ticks", type=int, default=300_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path("bench-results"))
    parser.add_argument("--quick", action="store_true", default=os.environ.get("HIVE_BENCH_QUICK", "") not in ("", "0"),
                        help="short runs (scale: 10 s per scenario; 50,000 ticks, 1 repeat)")
    parser.add_argument("--scale-seconds", type=float, default=None, help="seconds per scale scenario (default 60)")
    parser.add_argument("--skip-scale", action="store_true", help="only compiled vs interpreted")
    parser.add_argument("--density-n", default=None, help="comma-separated strategy counts for the density "
                                                           "benchmark (default 1,10,100; '' skips it)")
    parser.add_argument("--density-seconds", type=float, default=None, help="measuring window per side (default 20)")
    parser.add_argument("--venue-seconds", type=float, default=None,
                        help="measuring window of each venue_memory side (default 10; 3 with --quick)")
    parser.add_argument("--feed-instances", type=int, default=None,
                        help="instances per side of the feed benchmark's sharing part (default 10; 0 skips that part)")
    parser.add_argument("--feed-seconds", type=float, default=None,
                        help="the feed benchmark's measuring window, its paced runs a fifth of it (default 10; 3 with "
                             "--quick; 0 skips the feed benchmark)")
    parser.add_argument("--feed-rates", default=None, help="comma-separated message rates the feed benchmark's fan-out "
                                                           "climbs (default 1000,2000,5000,...,80000)")
    parser.add_argument("--fleet-n", default=None, help="comma-separated fleet sizes for the fleet benchmark "
                                                        "(default 100,1000,2000; '' skips it)")
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
    print_clock_scheduler(title, results, ratio)

    scale = [] if args.skip_scale else scale_benchmark(scale_seconds)
    if scale:
        print()
        print_scale(scale)

    fanout = fanout_benchmark(100, 5_000 if args.quick else 20_000)
    print()
    print_fanout(fanout)

    orders = order_benchmarks(5_000 if args.quick else 20_000, 60.0 if args.quick else 300.0)
    print()
    print_order_benchmarks(orders)

    signing = signing_benchmark(200 if args.quick else 2000, 5 if args.quick else 21)
    print()
    print_signing(signing)

    venue_memory = venue_memory_benchmark(args.venue_seconds or (3.0 if args.quick else 10.0))
    print()
    print_venue_memory(venue_memory)

    feed_seconds = args.feed_seconds if args.feed_seconds is not None else (3.0 if args.quick else 10.0)
    feed = None
    if feed_seconds > 0:
        feed = feed_benchmark(args.feed_instances if args.feed_instances is not None else FEED_INSTANCES, feed_seconds,
                              rates_of(args.feed_rates) if args.feed_rates else FANOUT_RATES)
        print()
        print_feed(feed)

    density_n = args.density_n if args.density_n is not None else ("1,10" if args.quick else "1,10,100")
    density_ns = tuple(int(n) for n in density_n.split(",") if n.strip())
    density = []
    if density_ns:
        density = run_density(density_ns, args.density_seconds or (5.0 if args.quick else 20.0))
        print()
        print("density: one process with N strategies vs N processes with one (same strategy, shared venue and broker)")
        print(format_density(density))

    # before the dashboard's: its AppTest runs a script of its own as __main__, which the fleet's process (spawned)
    # would then run again
    fleet_n = args.fleet_n if args.fleet_n is not None else ",".join(map(str, QUICK_SIZES if args.quick else SIZES))
    fleet_sizes = tuple(int(n) for n in fleet_n.split(",") if n.strip())
    fleet = None
    if fleet_sizes:
        fleet = fleet_benchmark(fleet_sizes, **(QUICK_RUN if args.quick else FULL_RUN)._asdict())
        print()
        print_fleet(fleet)

    dashboard = dashboard_benchmark(repeats=2 if args.quick else 5)
    print()
    print_dashboard(dashboard)

    window = args.density_seconds or (5.0 if args.quick else 20.0)
    containers = container_benchmarks(density_ns[-1:], window)  # the largest N only: containers are slow to start
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    record = {"benchmark": "clock_scheduler", "title": title, "strategies": args.strategies, "ticks": args.ticks,
              "repeats": args.repeats, "results": results, "speedup": ratio, "speedup_target": 3.0,
              "scale": scale, "fanout": fanout, "orders": orders, "signing": signing, "venue_memory": venue_memory,
              "feed": feed, "density": density,
              "containers": containers,
              "dashboard": dashboard, "fleet": fleet,
              "compiled": compiled,
              "hive_core": hive_core.__version__,
              "python": platform.python_version(), "machine": platform.machine(), "at": stamp}
    path = args.out / f"clock_scheduler-{stamp}.json"
    path.write_text(json.dumps(record, indent=2))
    print(f"saved {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
