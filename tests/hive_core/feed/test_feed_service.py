"""The host's market-data service (hive_core/feed/service.py) against the simulated venue, over real sockets: ten
instances on overlapping streams share one upstream connection and one subscription per stream, one that leaves
unsubscribes only what nobody else uses, books in every instance equal the venue's (after a gap too), and a client
that reads too slowly is dropped and told while the others get everything."""
from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from websockets.asyncio.client import connect, unix_connect
from websockets.exceptions import ConnectionClosed

from hive_core.feed.__main__ import SOCKET_CHECK_S
from hive_core.feed.address import feed_address, upstream_of, upstream_token
from hive_core.feed.service import FeedService
from hive_core.market.venue_client import VenueClient
from hive_core.market.wire import symbol_of, unix_address
from hive_core.sim.server import SimServer
from tests.hive_core.market.conftest import run, started_server
from tests.polling import wait_until_async

pytestmark = pytest.mark.integration
PAIRS = ["BTC-USDT", "ETH-USDT"]


def client_on(feed: str, server: SimServer, pairs: list[str]) -> VenueClient:
    return VenueClient(pairs, fee_rate=0.001, now=time.time, url=server.url, feed=feed)


def in_step(clients: list[VenueClient], server: SimServer) -> bool:
    """Every client's books synced at the venue's current update, with the venue's levels."""
    for client in clients:
        for pair in client.trading_pairs:
            symbol = symbol_of(pair)
            book = client.mux.book(symbol) if client.mux is not None else None
            venue = server.depth_snapshot(symbol, 20)
            if book is None or not book.synced or book.last_update_id != venue["lastUpdateId"] \
                    or book.bids(20) != [(float(p), float(q)) for p, q in venue["bids"]]:
                return False
    return True


async def step_until_in_step(clients: list[VenueClient], server: SimServer, timeout: float = 10.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        server.step()
        try:
            await wait_until_async(lambda: in_step(clients, server), 0.5, message="books in step")
            return
        except AssertionError:
            if loop.time() > deadline:
                raise


def test_ten_instances_share_one_upstream_and_one_subscription_per_stream(tmp_path: Path) -> None:
    async def scenario():
        server = await started_server(autostep=False)
        service = FeedService(socket_path=str(tmp_path / "feed.sock"), linger=60)
        await service.start()
        feed = f"unix:{tmp_path / 'feed.sock'}"
        clients = [client_on(feed, server, PAIRS if i % 2 else PAIRS[:1]) for i in range(10)]
        try:
            starts = [asyncio.create_task(client.start(timeout=10)) for client in clients]
            await wait_until_async(lambda: len(server.subscriptions()) == 4, 10, message="the streams subscribed")
            await step_until_in_step(clients, server)
            assert all(await asyncio.gather(*starts))
            assert server.stream_connections() == 1                    # the service's, for all ten
            assert server.api.requests["exchangeInfo"] == 1              # asked once, for all ten
            assert server.subscriptions() == {"btcusdt@depth@100ms": 1, "btcusdt@trade": 1,
                                              "ethusdt@depth@100ms": 1, "ethusdt@trade": 1}
            [upstream] = service.health()["upstreams"]
            assert upstream["streams"] == {"btcusdt@depth@100ms": 10, "btcusdt@trade": 10,
                                           "ethusdt@depth@100ms": 5, "ethusdt@trade": 5}

            for client in clients:                                         # what a strategy reads: the venue's
                book = client.order_book("BTC-USDT")                       # update id and event time, as sent
                assert book.sequence == server.depth_snapshot("BTCUSDT", 5)["lastUpdateId"]
                assert abs(book.timestamp - time.time()) < 30

            server.inject_gap("BTC-USDT")                                  # the service's book, and then the
            await step_until_in_step(clients, server)                      # instances', resync after a gap
            assert service.health()["upstreams"][0]["resyncs"] >= 1

            leaving = [client for client in clients if "ETH-USDT" in client.trading_pairs]
            await leaving[0].stop()                                        # others still want ETH: it stays
            await asyncio.sleep(0)
            assert "ethusdt@trade" in server.subscriptions()
            for client in leaving[1:]:
                await client.stop()
            await wait_until_async(lambda: "ethusdt@trade" not in server.subscriptions(), 5,
                                   message="ETH unsubscribed upstream once its last instance left")
            assert server.subscriptions() == {"btcusdt@depth@100ms": 1, "btcusdt@trade": 1}
            staying = [client for client in clients if client not in leaving]
            await wait_until_async(lambda: service.health()["clients"] == len(staying), 5,
                                   message="the instances that left no longer counted as its clients")
            assert service.health()["connections"] == len(clients)
            await step_until_in_step(staying, server)
        finally:
            for client in clients:
                await client.stop()
            await service.stop()
            await server.stop()
    run(scenario(), timeout=90)


async def paced_blast(server: SimServer, stream: str, message: str, count: int, rate: int) -> int:
    """Send `count` copies of `message` on `stream` at about `rate` a second (in batches every 10 ms): a rate the
    fast client keeps up with, so that it is the slow one alone that falls behind."""
    batch = max(1, rate // 100)
    loop = asyncio.get_running_loop()
    start, sent = loop.time(), 0
    while sent < count:
        sent += await server.blast(stream, [message] * min(batch, count - sent))
        await asyncio.sleep(max(0.0, start + sent / rate - loop.time()))
    return sent


def test_a_client_that_reads_too_slowly_is_told_while_the_others_get_everything(tmp_path: Path) -> None:
    messages = 12_000    # 2.5 MB: past the 1 MB a client may have unsent
    trade = json.dumps({"e": "trade", "E": 1, "s": "BTCUSDT", "t": 1, "p": "100.00000000", "q": "1.00000000",
                        "T": 1, "m": False, "M": True, "pad": "x" * 150})

    async def scenario():
        server = await started_server(autostep=False)
        socket = tmp_path / "feed.sock"
        service = FeedService(socket_path=str(socket), linger=60)
        await service.start()
        feed = f"unix:{socket}"
        fast = client_on(feed, server, PAIRS[:1])
        heard: list[dict] = []
        uri = "ws://localhost" + feed_address("", server.url, server.url) + "/stream"
        try:
            await fast.start(timeout=5)
            fast.mux.subscribe("btcusdt@trade", lambda _stream, data: heard.append(data))
            slow = await unix_connect(str(socket), uri, max_queue=1)       # reads nothing until told to
            await slow.send(json.dumps({"method": "SUBSCRIBE", "params": ["btcusdt@trade"], "id": 1}))
            await wait_until_async(lambda: service.health()["upstreams"][0]["streams"].get("btcusdt@trade") == 2, 5,
                                   message="both subscribed")
            sent = await paced_blast(server, "btcusdt@trade", trade, messages, rate=6_000)
            await wait_until_async(lambda: sum(1 for data in heard if data.get("pad")) == sent, 30,
                                   message="the fast client got every message")
            assert service.health()["dropped"] > 0                         # the slow one's
            [fast_link] = [c for c in service.clients if c.stats["sent"] >= sent]
            assert fast_link.stats["dropped"] == 0
            told = None
            async with asyncio.timeout(30):                                # it reads again: it is told
                async for raw in slow:
                    message = json.loads(raw)
                    if message.get("data", {}).get("e") == "behind":
                        told = message
                        break
            assert told is not None and told["stream"] == "btcusdt@trade" and told["data"]["dropped"] > 0
            await slow.close()
        finally:
            await fast.stop()
            await service.stop()
            await server.stop()
    run(scenario(), timeout=90)


def start_service(socket: Path) -> subprocess.Popen:
    with open(socket.with_suffix(".log"), "a") as log:
        process = subprocess.Popen([sys.executable, "-m", "hive_core.feed", "--socket", str(socket), "--linger", "60"],
                                   stdout=subprocess.PIPE, stderr=log, text=True)
    assert process.stdout is not None
    line = process.stdout.readline()   # "listening on ...", printed once it listens
    assert line.startswith("listening on unix:"), line
    return process


def test_instances_fall_back_to_the_venue_when_the_service_dies_and_come_back_when_it_returns(tmp_path: Path) -> None:
    socket = tmp_path / "feed.sock"

    async def scenario():
        server = await started_server(step_interval=0.05)
        service = start_service(socket)
        clients = [client_on(f"unix:{socket}", server, PAIRS) for _ in range(3)]
        try:
            assert all(await asyncio.gather(*(client.start(timeout=10) for client in clients)))
            assert server.stream_connections() == 1
            service.kill()
            service.wait(5)
            started = time.monotonic()
            await wait_until_async(lambda: server.stream_connections() == 3 and all(
                client.mux.on_fallback and client.synced("BTC-USDT") and client.synced("ETH-USDT")
                for client in clients), 10, message="every instance on its own connection, books synced")
            fell_back = time.monotonic() - started
            replacement = start_service(socket)
            try:
                await wait_until_async(lambda: server.stream_connections() == 1 and not any(
                    client.mux.on_fallback for client in clients), 15, message="every instance back on the service")
                await wait_until_async(lambda: all(client.synced(pair) for client in clients for pair in PAIRS), 10,
                                       message="books synced through the service again")
            finally:
                replacement.terminate()   # its clients answer its closing handshakes: wait without blocking them
                await wait_until_async(lambda: replacement.poll() is not None, 15, message="the service stopped")
            return fell_back
        finally:
            for client in clients:
                await client.stop()
            if service.poll() is None:
                service.kill()
            await server.stop()
    fell_back = run(scenario(), timeout=90)
    assert fell_back < 10


def test_a_service_whose_socket_is_gone_or_taken_ends_by_itself(tmp_path: Path) -> None:
    """No instance can find a service whose socket was deleted (its data folder removed) or replaced by another
    service's: it ends instead of running on unseen."""
    folder = tmp_path / "feed"
    folder.mkdir()
    first = start_service(folder / "feed.sock")
    second = start_service(folder / "feed.sock")   # takes the path: the first one's socket is gone from it
    try:
        assert first.wait(SOCKET_CHECK_S * 3) == 0
        assert second.poll() is None
        shutil.rmtree(folder)
        assert second.wait(SOCKET_CHECK_S * 3) == 0
    finally:
        for process in (first, second):
            if process.poll() is None:
                process.kill()
                process.wait(5)


def test_over_tcp_on_loopback_with_its_health_and_only_allowed_upstreams(tmp_path: Path) -> None:
    async def scenario():
        server = await started_server(autostep=False)
        service = FeedService(port=0, linger=60)
        await service.start()
        feed = f"ws://127.0.0.1:{service.port}"
        client = client_on(feed, server, PAIRS[:1])
        try:
            start = asyncio.create_task(client.start(timeout=10))
            await step_until_in_step([client], server)
            assert await start and not client.mux.on_fallback
            async with httpx.AsyncClient() as http:
                health = (await http.get(f"{feed.replace('ws', 'http')}/health")).json()
            assert health["clients"] == 1 and health["upstreams"][0]["stream_url"] == server.url
            assert health["upstreams"][0]["streams"] == {"btcusdt@depth@100ms": 1, "btcusdt@trade": 1}
            elsewhere = feed_address(feed, "ws://192.0.2.7:9443", "ws://192.0.2.7:443") + "/stream"
            with pytest.raises(ConnectionClosed) as closed:   # plain ws:// off this host: not an upstream it opens
                async with connect(elsewhere) as refused:
                    await refused.recv()
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008
            assert service.health()["refused"] == 1 and len(service.upstreams) == 1
        finally:
            await client.stop()
            await service.stop()
            await server.stop()
    run(scenario(), timeout=60)


def test_an_upstream_is_named_by_both_its_addresses() -> None:
    token = upstream_token("wss://stream.binance.com:9443", "wss://ws-api.binance.com:443")
    assert upstream_of(token) == ("wss://stream.binance.com:9443", "wss://ws-api.binance.com:443")
    assert upstream_of("not-base64!") is None and upstream_of(upstream_token("http://x", "ws://y")) is None
    assert unix_address(f"unix:/run/u/hive/feed.sock/u/{token}/stream") == ("/run/u/hive/feed.sock",
                                                                            f"/u/{token}/stream")
