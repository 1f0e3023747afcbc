"""Benchmark: market-data fan-out from ONE venue connection to many strategy subscribers.

Two measurements, both with `subscribers` callbacks on one stream of one Multiplexer:
- `socket`: the embedded SimServer writes `messages` bookTicker messages on a real 127.0.0.1 WebSocket
  as fast as flow control allows; timed from the first write until every subscriber has every message
  (parse + dispatch + socket reads);
- `dispatch`: the same messages handed straight to the multiplexer (no socket): the fan-out cost alone,
  for bookTicker and for depth diffs (10 levels a side, applied to the local book before fan-out).
"""
from __future__ import annotations

import asyncio
import json
import time

from hive_core.config import SimVenueConfig
from hive_core.market import local_book
from hive_core.market.multiplexer import Multiplexer
from hive_core.sim.server import SimServer


def _tickers(count: int) -> list[str]:
    return [json.dumps({"u": i + 1, "s": "BTCUSDT", "b": f"{100 + i % 7:.8f}", "B": "1.00000000",
                        "a": f"{101 + i % 7:.8f}", "A": "2.00000000"}, separators=(",", ":")) for i in range(count)]


def _depth_frames(count: int) -> list[str]:
    frames = []
    for i in range(count):
        levels = [[f"{100 - j * 0.01 - (i % 3) * 0.001:.8f}", f"{1 + (i + j) % 5:.8f}"] for j in range(10)]
        asks = [[f"{101 + j * 0.01 + (i % 3) * 0.001:.8f}", f"{1 + (i + j) % 4:.8f}"] for j in range(10)]
        data = {"e": "depthUpdate", "E": i, "s": "BTCUSDT", "U": i + 1, "u": i + 1, "b": levels, "a": asks}
        frames.append(json.dumps({"stream": "btcusdt@depth", "data": data}, separators=(",", ":")))
    return frames


async def _socket_run(subscribers: int, messages: int) -> dict:
    server = SimServer(SimVenueConfig(trading_pairs=["BTC-USDT"], seed=1), autostep=False)
    await server.start()
    mux = Multiplexer(server.url)
    await mux.start()
    counts = [0] * subscribers
    done = asyncio.Event()

    def make(index: int):
        def callback(_stream: str, _data: dict) -> None:
            counts[index] += 1
            if index == subscribers - 1 and counts[index] == messages:
                done.set()
        return callback

    try:
        for index in range(subscribers):
            mux.subscribe("btcusdt@bookTicker", make(index))
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 10
        while server.subscriptions().get("btcusdt@bookTicker") != 1:
            if loop.time() > deadline:
                raise RuntimeError("subscription did not reach the venue")
            await asyncio.sleep(0.005)
        payload = _tickers(messages)
        started = time.perf_counter()
        await server.blast("btcusdt@bookTicker", payload)
        await asyncio.wait_for(done.wait(), 120)
        elapsed = time.perf_counter() - started
    finally:
        await mux.stop()
        await server.stop()
    assert all(count == messages for count in counts)
    return {"messages": messages, "subscribers": subscribers, "seconds": elapsed,
            "messages_per_second": messages / elapsed, "deliveries_per_second": messages * subscribers / elapsed}


def _dispatch_run(subscribers: int, frames: list[str]) -> dict:
    async def build() -> Multiplexer:
        return Multiplexer("ws://127.0.0.1:9")
    mux = asyncio.run(build())
    stream = json.loads(frames[0])["stream"]
    hits = [0]

    def callback(_stream: str, _data: dict) -> None:
        hits[0] += 1

    for _ in range(subscribers):
        mux._subscribers.setdefault(stream, []).append(_Sub(callback))
    if stream.endswith("@depth"):
        book = mux._books["BTCUSDT"] = local_book.LocalBook("BTCUSDT")
        book.apply_snapshot(0, [], [])
    started = time.perf_counter()
    on_message = mux._on_message
    for frame in frames:
        on_message(frame)
    elapsed = time.perf_counter() - started
    assert hits[0] == len(frames) * subscribers
    return {"messages": len(frames), "subscribers": subscribers, "seconds": elapsed,
            "messages_per_second": len(frames) / elapsed,
            "deliveries_per_second": len(frames) * subscribers / elapsed}


class _Sub:
    __slots__ = ("callback", "active", "stream")

    def __init__(self, callback) -> None:
        self.callback = callback
        self.active = True


def fanout_benchmark(subscribers: int = 100, messages: int = 20_000) -> dict:
    """{'socket': ..., 'dispatch_ticker': ..., 'dispatch_depth': ..., 'local_book': 'compiled'|'interpreted'}."""
    socket = asyncio.run(_socket_run(subscribers, messages))
    ticker_frames = [f'{{"stream":"btcusdt@bookTicker","data":{data}}}' for data in _tickers(messages)]
    return {"socket": socket, "dispatch_ticker": _dispatch_run(subscribers, ticker_frames),
            "dispatch_depth": _dispatch_run(subscribers, _depth_frames(messages)),
            "local_book": "compiled" if local_book.COMPILED else "interpreted"}


def print_fanout(result: dict) -> None:
    first = result["socket"]
    print(f"fan-out: one venue connection -> {first['subscribers']} subscribers, {first['messages']:,} messages "
          f"(local book {result['local_book']})")
    print(f"{'path':<28} {'seconds':>9} {'messages/s':>12} {'deliveries/s':>14}")
    for name, label in (("socket", "socket (ws, bookTicker)"), ("dispatch_ticker", "dispatch only, bookTicker"),
                        ("dispatch_depth", "dispatch only, depth+book")):
        row = result[name]
        print(f"{label:<28} {row['seconds']:>9.3f} {row['messages_per_second']:>12,.0f} "
              f"{row['deliveries_per_second']:>14,.0f}")


if __name__ == "__main__":
    print_fanout(fanout_benchmark())
