"""The multiplexer: reference-counted subscriptions, fan-out, reconnect + resubscribe, gap -> resync."""
from __future__ import annotations

import json

import pytest

from hive_core.market.backoff import Backoff
from hive_core.market.multiplexer import Multiplexer
from hive_core.market.venue_api import VenueApi
from tests.polling import wait_until_async

from .conftest import run, started_server

pytestmark = pytest.mark.integration


def wire_requests(server, method: str) -> list[list[str]]:
    return [request["params"] for request in server.received if request["method"] == method]


def test_two_subscribers_one_subscribe_and_unsubscribe_only_when_the_last_leaves():
    async def scenario():
        server = await started_server()
        mux = Multiplexer(server.url)
        await mux.start()
        try:
            assert await mux.wait_connected(5)
            first = mux.subscribe("btcusdt@trade", lambda stream, data: None)
            second = mux.subscribe("btcusdt@trade", lambda stream, data: None)
            await wait_until_async(lambda: server.subscriptions().get("btcusdt@trade") == 1, 5,
                                   message="server-side subscription")
            assert wire_requests(server, "SUBSCRIBE") == [["btcusdt@trade"]]
            assert mux.refcount("btcusdt@trade") == 2

            first.close()
            first.close()                     # idempotent
            marker = mux.subscribe("ethusdt@trade", lambda stream, data: None)   # on the wire after any UNSUBSCRIBE
            await wait_until_async(lambda: wire_requests(server, "SUBSCRIBE")[-1] == ["ethusdt@trade"], 5,
                                   message="the marker's SUBSCRIBE")
            assert wire_requests(server, "UNSUBSCRIBE") == []
            assert server.subscriptions().get("btcusdt@trade") == 1

            second.close()
            await wait_until_async(lambda: wire_requests(server, "UNSUBSCRIBE") == [["btcusdt@trade"]], 5,
                                   message="UNSUBSCRIBE")
            await wait_until_async(lambda: "btcusdt@trade" not in server.subscriptions(), 5,
                                   message="server drops the stream")
            assert mux.refcount("btcusdt@trade") == 0

            late = mux.subscribe("btcusdt@trade", lambda stream, data: None)     # first again -> SUBSCRIBE again
            await wait_until_async(lambda: wire_requests(server, "SUBSCRIBE")[-1] == ["btcusdt@trade"], 5,
                                   message="second SUBSCRIBE of btcusdt@trade")
            assert len(wire_requests(server, "SUBSCRIBE")) == 3
            late.close()
            marker.close()
        finally:
            await mux.stop()
            await server.stop()
    run(scenario())


def test_subscriptions_made_in_one_loop_turn_go_out_as_one_message():
    async def scenario():
        server = await started_server()
        mux = Multiplexer(server.url)
        await mux.start()
        try:
            assert await mux.wait_connected(5)
            for stream in ("btcusdt@trade", "ethusdt@trade", "btcusdt@bookTicker"):
                for _ in range(3):
                    mux.subscribe(stream, lambda stream, data: None)
            await wait_until_async(lambda: len(server.received) >= 1, 5, message="SUBSCRIBE")
            mux.subscribe("ethusdt@bookTicker", lambda stream, data: None)      # a later turn: a message of its own
            await wait_until_async(lambda: len(server.received) >= 2, 5, message="the later SUBSCRIBE")
            assert wire_requests(server, "SUBSCRIBE") == [["btcusdt@bookTicker", "btcusdt@trade", "ethusdt@trade"],
                                                          ["ethusdt@bookTicker"]]
        finally:
            await mux.stop()
            await server.stop()
    run(scenario())


def test_every_message_fans_out_to_100_subscribers_and_a_failing_one_hurts_nobody():
    async def scenario():
        server = await started_server()
        mux = Multiplexer(server.url)
        await mux.start()
        counts = [0] * 100

        def make(index: int):
            def callback(stream: str, data: dict) -> None:
                counts[index] += 1
            return callback

        def broken(stream: str, data: dict) -> None:
            raise RuntimeError("subscriber bug")
        try:
            for index in range(100):
                mux.subscribe("btcusdt@bookTicker", make(index))
            mux.subscribe("btcusdt@bookTicker", broken)
            await wait_until_async(lambda: min(counts) >= 5, 5, message="5 messages at every subscriber")
            received = mux.stats["messages"]
            assert len(wire_requests(server, "SUBSCRIBE")) == 1
            assert server.stats["stream_connections"] == 1
            assert max(counts) - min(counts) <= 1
            assert mux.stats["callback_errors"] >= 5
            assert received >= min(counts)
        finally:
            await mux.stop()
            await server.stop()
    run(scenario())


def test_reconnects_after_a_drop_resubscribes_and_data_flows_again():
    async def scenario():
        server = await started_server()
        api = VenueApi(server.url)
        await api.start()
        mux = Multiplexer(server.url, fetch_snapshot=api.depth_snapshot, backoff=Backoff(0.05, 0.5))
        await mux.start()
        seen: list[dict] = []
        try:
            mux.subscribe("btcusdt@depth@100ms", lambda stream, data: seen.append(data))
            mux.subscribe("ethusdt@trade", lambda stream, data: None)
            assert await mux.wait_synced(["BTCUSDT"], 5)
            dropped = await server.drop_connections()
            assert dropped >= 2                   # the stream and the API connection
            await wait_until_async(lambda: mux.stats["reconnects"] >= 1 and mux.connected, 5, message="reconnect")
            await wait_until_async(lambda: len(wire_requests(server, "SUBSCRIBE")) == 2, 5, message="resubscription")
            assert sorted(wire_requests(server, "SUBSCRIBE")[1]) == ["btcusdt@depth@100ms", "ethusdt@trade"]
            before = len(seen)
            await wait_until_async(lambda: mux.book("BTCUSDT").synced and len(seen) > before + 3, 5,
                                   message="data after reconnect")
            await wait_until_async(lambda: _books_equal(mux, server), 5, message="book equal to the venue's")
            assert api.stats["reconnects"] >= 1
        finally:
            await mux.stop()
            await api.stop()
            await server.stop()
    run(scenario())


def _books_equal(mux: Multiplexer, server) -> bool:
    book = mux.book("BTCUSDT")
    snapshot = server.depth_snapshot("BTCUSDT", 100)
    if not book.synced or book.last_update_id != snapshot["lastUpdateId"]:
        return False
    return (book.bids(100) == [(float(p), float(q)) for p, q in snapshot["bids"]]
            and book.asks(100) == [(float(p), float(q)) for p, q in snapshot["asks"]])


def test_a_sequence_gap_triggers_a_resync_and_the_book_is_right_afterwards():
    async def scenario():
        server = await started_server(autostep=False)
        api = VenueApi(server.url)
        await api.start()
        mux = Multiplexer(server.url, fetch_snapshot=api.depth_snapshot)
        await mux.start()
        try:
            mux.subscribe("btcusdt@depth", lambda stream, data: None)
            await wait_until_async(lambda: server.subscriptions().get("btcusdt@depth") == 1, 5, message="subscription")
            server.step()
            assert await mux.wait_synced(["BTCUSDT"], 5)
            for _ in range(3):
                server.step()
            await wait_until_async(lambda: _books_equal(mux, server), 5, message="book in step")
            assert mux.stats["gaps"] == 0

            server.inject_gap("BTC-USDT")
            server.step()                         # withheld: the client misses real changes
            server.step()                         # U jumps: gap
            await wait_until_async(lambda: mux.stats["gaps"] == 1, 5, message="gap detected")
            await wait_until_async(lambda: mux.stats["resyncs"] == 1, 5, message="resync")
            server.step()
            await wait_until_async(lambda: _books_equal(mux, server), 5,
                                   message="book equal to the venue's after the resync")
            assert server.stats["withheld"] == 1
        finally:
            await mux.stop()
            await api.stop()
            await server.stop()
    run(scenario())


def test_a_malformed_depth_update_is_dropped_and_its_book_rebuilt_without_a_reconnect():
    async def scenario():
        server = await started_server(autostep=False)
        api = VenueApi(server.url)
        await api.start()
        mux = Multiplexer(server.url, fetch_snapshot=api.depth_snapshot)
        await mux.start()
        try:
            mux.subscribe("btcusdt@depth", lambda stream, data: None)
            await wait_until_async(lambda: server.subscriptions().get("btcusdt@depth") == 1, 5, message="subscription")
            server.step()
            assert await mux.wait_synced(["BTCUSDT"], 5)
            book = mux.book("BTCUSDT")
            assert book is not None
            next_id = book.last_update_id + 1
            bad = json.dumps({"e": "depthUpdate", "E": 1, "s": "BTCUSDT", "U": next_id, "u": next_id,
                              "b": [["1.0", "2.0"], ["not a price"]], "a": []})   # its first level would be taken
            await server.blast("btcusdt@depth", [bad])
            await wait_until_async(lambda: mux.stats["malformed"] == 1, 5, message="the malformed update seen")
            await wait_until_async(lambda: mux.stats["resyncs"] == 1, 5, message="its book rebuilt")
            server.step()
            await wait_until_async(lambda: _books_equal(mux, server), 5, message="the book equal to the venue's")
            assert mux.stats["reconnects"] == 0
        finally:
            await mux.stop()
            await api.stop()
            await server.stop()
    run(scenario())
