"""Order manager benchmarks (run by `python -m benchmarks`, or alone: `python -m benchmarks.orders`).

(a) latency: `OrderManager.submit` -> frame written on a real local WebSocket. The venue connection
    is hive_core.market.venue_api.VenueApi; the server only reads. Limits never hold the orders back,
    so this measures the path, not the pacing.
(b) fairness: 10 strategies flooding at their quota + 1 light strategy (0.5 orders/s), equal
    weights, Binance's published limits, in virtual time: Jain's index of what the 10 got, and the
    light strategy's worst queue delay next to its own quota's spacing (1 / orders_per_second).
"""
from __future__ import annotations

import asyncio
import json
import time


async def _order_latency(orders: int) -> dict:
    from websockets.asyncio.server import serve

    from hive_core.config import RateLimitRule, StrategyQuota
    from hive_core.market.venue_api import VenueApi
    from hive_core.orders import rate_limit, requests
    from hive_core.orders.manager import OrderManager
    from hive_core.orders.transport import VenueApiTransport

    received = 0

    async def reader(connection) -> None:
        nonlocal received
        async for _frame in connection:
            received += 1

    async with serve(reader, "127.0.0.1", 0, compression=None, max_size=2**20) as server:
        port = server.sockets[0].getsockname()[1]
        api = VenueApi(f"ws://127.0.0.1:{port}", request_timeout=120.0)
        await api.start()
        if not await api.wait_connected(5.0):
            raise RuntimeError("bench: could not connect to the local WebSocket server")
        unlimited = [RateLimitRule(limit_type="REQUEST_WEIGHT", interval_s=60, limit=100_000_000),
                     RateLimitRule(limit_type="ORDERS", interval_s=10, limit=100_000_000)]
        manager = OrderManager(VenueApiTransport(api), unlimited, name="bench")
        manager.add_strategy("bench", quota=StrategyQuota(orders_per_second=1e7, weight_per_minute=1e9))
        for seq in range(1, orders + 1):
            manager.submit("bench", requests.place_limit(f"bench-{seq:07d}", "BTC-USDT", "BUY", 0.001, 100.0))
            if seq % 16 == 0:
                await asyncio.sleep(0)          # let the loop run (and the socket drain), as between ticks
        deadline = time.monotonic() + 20
        while received < orders and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        figures = manager.metrics()
        await api.stop()
    latency = figures["submit_to_write_us"]
    return {"orders": orders, "received": received, "p50_us": latency["p50"], "p99_us": latency["p99"],
            "max_us": latency["max"], "target_p99_us": 1000.0,
            "rate_limiter": "compiled" if rate_limit.COMPILED else "interpreted"}


def order_latency(orders: int = 20_000) -> dict:
    return asyncio.run(_order_latency(orders))


def order_fairness(seconds: float = 300.0, floods: int = 10) -> dict:
    from hive_core.config import SimVenueConfig, StrategyQuota
    from hive_core.orders import requests
    from hive_core.orders.manager import OrderManager
    from hive_core.orders.timers import VirtualTimers

    class Sink:
        def __init__(self) -> None:
            self.sent = 0

        def send(self, method, params, on_reply) -> None:
            self.sent += 1
            on_reply({"status": 200, "result": {}})

    timers = VirtualTimers(0.0)
    quota = StrategyQuota()                          # the default: 5 orders/s, weight 1
    manager = OrderManager(Sink(), SimVenueConfig().rate_limits, clock=timers.now, timers=timers, name="bench")
    names = [f"flood{i}" for i in range(floods)]
    for name in [*names, "light"]:
        manager.add_strategy(name, quota=quota)
    seq = 0
    started = time.perf_counter()
    for second in range(int(seconds)):
        for name in names:
            for _ in range(int(quota.orders_per_second)):
                seq += 1
                manager.submit(name, requests.place_limit(f"{name}-{seq:07d}", "BTC-USDT", "BUY", 0.001, 100.0))
        if second % 2 == 0:
            seq += 1
            manager.submit("light", requests.place_limit(f"light-{seq:07d}", "BTC-USDT", "BUY", 0.001, 100.0))
        timers.advance(1.0)
    elapsed = time.perf_counter() - started
    figures = manager.metrics()["strategies"]
    counts = [figures[name]["sent"] for name in names]
    squares = sum(count * count for count in counts)
    jain = sum(counts) ** 2 / (len(counts) * squares) if squares else 1.0
    light = figures["light"]
    return {"virtual_seconds": seconds, "floods": floods, "flood_sent": counts, "jain_index": jain,
            "light_sent": light["sent"], "light_max_delay_ms": light["queue_delay_ms"]["max"],
            "light_p99_delay_ms": light["queue_delay_ms"]["p99"],
            "light_quota_spacing_ms": 1000.0 / quota.orders_per_second,
            "flood_p99_delay_ms": max(figures[name]["queue_delay_ms"]["p99"] for name in names),
            "submits_per_second_wall": seq / elapsed if elapsed > 0 else 0.0}


def order_benchmarks(orders: int = 20_000, seconds: float = 300.0) -> dict:
    return {"latency": order_latency(orders), "fairness": order_fairness(seconds)}


def print_order_benchmarks(results: dict) -> None:
    latency, fairness = results["latency"], results["fairness"]
    print(f"order manager: submit -> frame on a local WebSocket, {latency['orders']:,} orders under quota "
          f"(rate limiter {latency['rate_limiter']}; target p99 < 1000 us)")
    print(f"{'p50 us':>9} {'p99 us':>9} {'max us':>9} {'received':>9}")
    print(f"{latency['p50_us']:>9.1f} {latency['p99_us']:>9.1f} {latency['max_us']:>9.1f} {latency['received']:>9,}")
    print(f"order manager: {fairness['floods']} flooding strategies + 1 light (0.5/s), equal weights, "
          f"Binance limits, {fairness['virtual_seconds']:g} s virtual")
    print(f"{'jain(10)':>9} {'light max ms':>13} {'light quota ms':>15} {'flood p99 ms':>13} {'submits/s':>10}")
    print(f"{fairness['jain_index']:>9.4f} {fairness['light_max_delay_ms']:>13.1f} "
          f"{fairness['light_quota_spacing_ms']:>15.1f} {fairness['flood_p99_delay_ms']:>13.0f} "
          f"{fairness['submits_per_second_wall']:>10,.0f}")


if __name__ == "__main__":
    figures = order_benchmarks()
    print_order_benchmarks(figures)
    print(json.dumps(figures, indent=2))
