"""The order manager against the real simulated venue over WebSocket (hive_core.sim.server + venue_api).

The venue enforces its published limits per IP (fixed windows, 429 on excess, 418 bans for
requests sent during a Retry-After), so pacing and back-off are exercised for real.
"""
from __future__ import annotations

import asyncio

import pytest

from hive_core.config import SimVenueConfig
from hive_core.market.venue_api import VenueApi
from hive_core.orders import requests
from hive_core.orders.manager import OrderManager
from hive_core.orders.requests import owner_of
from hive_core.orders.transport import VenueApiTransport
from hive_core.sim.server import SimServer
from tests.hive_core.orders.fakes import BIG_QUOTA, rules
from tests.polling import wait_until_async

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]


async def _venue(server_rules) -> tuple[SimServer, VenueApi, list[dict]]:
    server = SimServer(SimVenueConfig(seed=2, volatility=0.0, rate_limits=server_rules), port=0)
    await server.start()
    api = VenueApi(server.url)
    await api.start()
    assert await api.wait_connected(5.0)
    events: list[dict] = []
    api.on_user_event(events.append)
    assert (await api.subscribe_user_data()).ok
    return server, api, events


async def _close(server: SimServer, api: VenueApi) -> None:
    await api.stop()
    await server.stop()


def _resting_buy(strategy_id: str, seq: int, replies: list) -> requests.OrderRequest:
    return requests.place_limit(f"{strategy_id}-{seq:06d}", "BTC-USDT", "BUY", 0.001, 50.0 + seq * 0.01,
                                on_reply=lambda request, reply: replies.append((request, reply)))


def test_orders_over_the_ws_api_are_paced_under_the_venue_limits_with_no_429_or_418():
    venue_rules = rules(("REQUEST_WEIGHT", 1, 60), ("ORDERS", 1, 20))

    async def scenario():
        server, api, events = await _venue(venue_rules)
        try:
            manager = OrderManager(VenueApiTransport(api), venue_rules, name="sim")
            for name in ("alpha", "beta", "gamma"):
                manager.add_strategy(name, quota=BIG_QUOTA)
            replies: list = []
            for seq in range(1, 21):                      # 60 orders at once: 3x the venue's 20/s
                for name in ("alpha", "beta", "gamma"):
                    manager.submit(name, _resting_buy(name, seq, replies))
            await wait_until_async(lambda: len(replies) == 60, 20.0,
                                   message=lambda: f"60 replies; the manager's figures: {manager.metrics()}")
            await wait_until_async(lambda: len([e for e in events if e.get("x") == "NEW"]) == 60, 5.0)
            return manager.metrics(), replies, [e for e in events if e.get("x") == "NEW"], dict(server.limits.stats)
        finally:
            await _close(server, api)

    figures, replies, reports, venue_stats = asyncio.run(scenario())
    assert all(reply.ok for _request, reply in replies), [reply for _r, reply in replies if not reply.ok][:3]
    assert figures["http_429"] == 0 and figures["http_418"] == 0
    assert venue_stats["rejected_429"] == 0 and venue_stats["rejected_418"] == 0
    # Every execution report is attributed to its strategy by the client order id prefix.
    owners = [owner_of(report["c"]) for report in reports]
    assert {name: owners.count(name) for name in ("alpha", "beta", "gamma")} == {"alpha": 20, "beta": 20, "gamma": 20}
    for name in ("alpha", "beta", "gamma"):
        assert figures["strategies"][name]["acked"] == 20


def test_venue_429_is_honoured_then_the_orders_go_through_without_a_ban():
    """The venue allows 5 orders/s; the manager was configured for 50/s and learns it the hard way."""
    venue_rules = rules(("REQUEST_WEIGHT", 60, 6000), ("ORDERS", 1, 5))
    believed = rules(("REQUEST_WEIGHT", 60, 6000), ("ORDERS", 1, 50))

    async def scenario():
        server, api, _events = await _venue(venue_rules)
        try:
            manager = OrderManager(VenueApiTransport(api), believed, name="sim")
            manager.add_strategy("a", quota=BIG_QUOTA)
            manager.add_strategy("b", quota=BIG_QUOTA)
            replies: list = []
            for seq in range(1, 8):
                manager.submit("a", _resting_buy("a", seq, replies))
                manager.submit("b", _resting_buy("b", seq, replies))
            await wait_until_async(lambda: len(replies) == 14, 20.0,
                                   message=lambda: f"14 replies; the manager's figures: {manager.metrics()}")
            return manager.metrics(), replies, dict(server.limits.stats)
        finally:
            await _close(server, api)

    figures, replies, venue_stats = asyncio.run(scenario())
    assert all(reply.ok for _request, reply in replies), [reply for _r, reply in replies if not reply.ok][:3]
    assert figures["http_429"] >= 1 and venue_stats["rejected_429"] == figures["http_429"]
    assert figures["paused_s"] > 0
    assert figures["http_418"] == 0 and venue_stats["rejected_418"] == 0
    assert figures["strategies"]["a"]["retried"] + figures["strategies"]["b"]["retried"] == figures["http_429"]


def test_orders_within_the_venues_burst_are_written_at_once_without_waiting_for_the_limiter():
    """Under quota, each submit is written to the socket in the call that made it: no limiter timer is armed and no
    lane is throttled. (How long that takes, submit to frame, is `make bench`'s: p99 < 1 ms there, on a quiet machine;
    a timed assertion here would fail whenever the machine is busy.)"""
    venue_rules = rules(("REQUEST_WEIGHT", 60, 6000), ("ORDERS", 10, 100))

    async def scenario():
        server, api, _events = await _venue(venue_rules)
        try:
            manager = OrderManager(VenueApiTransport(api), venue_rules, name="sim")
            manager.add_strategy("a", quota=BIG_QUOTA)
            replies: list = []
            for seq in range(1, 16):                  # within the venue's burst: every one is written at once
                manager.submit("a", _resting_buy("a", seq, replies))
                await asyncio.sleep(0.01)
            await wait_until_async(lambda: len(replies) == 15, 10.0)
            return manager.metrics()
        finally:
            await _close(server, api)

    figures = asyncio.run(scenario())
    assert figures["submit_to_write_us"]["n"] == 15 and figures["sent"] == 15
    assert figures["timers_armed"] == 0 and figures["queued"] == 0
    assert figures["strategies"]["a"]["throttled_s"] == 0
