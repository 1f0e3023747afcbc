"""The simulated venue on a thread of its own (its own event loop), for a program that is not asyncio: tests and
benchmarks whose instances run as processes. It stands in for Binance at the address the instances are given
(HIVE_VENUE_ENDPOINTS, `venue.stream_url`/`api_url`), checks signatures with the keys it is given, and with `rest`
serves Binance's REST API too (sim/rest.py, the `ccxt` extra), which ccxt's binance calls."""
from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from hive_core.config import SimVenueConfig
from hive_core.sim.auth import SimKeys
from hive_core.sim.server import SimServer

T = TypeVar("T")


class VenueThread:
    """A started SimServer (and its REST face, `rest_url`) and the loop it runs on; read it on that loop."""

    def __init__(self, server: SimServer, loop: asyncio.AbstractEventLoop, rest_url: str | None) -> None:
        self.server = server
        self.loop = loop
        self.rest_url = rest_url

    @property
    def url(self) -> str:
        return self.server.url

    def call(self, read: Callable[[SimServer], T]) -> T:
        """`read(server)`, run on the venue's loop (its state is that loop's alone)."""
        async def on_loop() -> T:
            return read(self.server)
        return asyncio.run_coroutine_threadsafe(on_loop(), self.loop).result(timeout=10)

    def order_ids(self) -> list[str]:
        """The client order ids of every order the venue took."""
        return self.call(lambda server: [order.client_order_id for order in server.exchange._orders.values()])

    def endpoints(self, venue: str) -> dict[str, dict[str, str]]:
        """HIVE_VENUE_ENDPOINTS's value that sends `venue`'s instances here."""
        return {venue: {"stream_url": self.url, "api_url": self.url}}


@contextmanager
def venue_thread(keys: SimKeys | None = None, *, rest: bool = False, **config: object) -> Iterator[VenueThread]:
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="sim-venue", daemon=True)
    thread.start()
    settings = {"trading_pairs": ["BTC-USDT"], "initial_prices": {"BTC-USDT": 100.0}, "seed": 11,
                "step_interval": 0.1, **config}
    server = SimServer(SimVenueConfig.model_validate(settings), keys=keys)
    asyncio.run_coroutine_threadsafe(server.start(), loop).result(timeout=10)
    face = None
    if rest:
        from hive_core.sim.rest import SimRestServer  # the ccxt extra (aiohttp)
        face = SimRestServer(server)
        asyncio.run_coroutine_threadsafe(face.start(), loop).result(timeout=10)
    try:
        yield VenueThread(server, loop, face.url if face is not None else None)
    finally:
        if face is not None:
            asyncio.run_coroutine_threadsafe(face.stop(), loop).result(timeout=10)
        asyncio.run_coroutine_threadsafe(server.stop(), loop).result(timeout=10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()
