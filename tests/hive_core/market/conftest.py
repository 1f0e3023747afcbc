"""Helpers for the venue tests: run a coroutine with a bounded wait, a started sim venue, a raw client."""
from __future__ import annotations

import asyncio
import json
from typing import Any

from websockets.asyncio.client import ClientConnection, connect

from hive_core.config import SimVenueConfig
from hive_core.sim.server import SimServer
from tests.polling import wait_until_async


def run(coro, timeout: float = 30.0) -> Any:
    """asyncio.run with a hard bound, so a hung socket fails the test instead of the session."""
    return asyncio.run(asyncio.wait_for(coro, timeout))


def venue_config(**overrides: Any) -> SimVenueConfig:
    settings = {"trading_pairs": ["BTC-USDT", "ETH-USDT"], "initial_prices": {"BTC-USDT": 100.0, "ETH-USDT": 50.0},
                "seed": 7, "step_interval": 0.05, **overrides}
    return SimVenueConfig(**settings)


async def started_server(**overrides: Any) -> SimServer:
    options = {key: overrides.pop(key) for key in ("autostep", "ban_seconds", "keys", "time_source")
               if key in overrides}
    server = SimServer(venue_config(**overrides), **options)
    await server.start()
    return server


class RawClient:
    """A bare WebSocket client that keeps every message it gets."""

    def __init__(self, connection: ClientConnection) -> None:
        self.connection = connection
        self.messages: list[dict] = []
        self._task = asyncio.create_task(self._read())

    @classmethod
    async def open(cls, url: str) -> RawClient:
        return cls(await connect(url, open_timeout=5))

    async def _read(self) -> None:
        try:
            async for raw in self.connection:
                self.messages.append(json.loads(raw))
        except Exception:
            pass

    async def send(self, payload: dict) -> None:
        await self.connection.send(json.dumps(payload))

    async def reply(self, request_id: Any, timeout: float = 5.0) -> dict:
        await wait_until_async(lambda: any(m.get("id") == request_id for m in self.messages), timeout,
                               message=f"reply {request_id}")
        return next(m for m in self.messages if m.get("id") == request_id)

    async def call(self, request_id: Any, method: str, params: Any = None) -> dict:
        payload = {"id": request_id, "method": method}
        if params is not None:
            payload["params"] = params
        await self.send(payload)
        return await self.reply(request_id)

    def data(self, stream: str) -> list[dict]:
        return [m["data"] for m in self.messages if m.get("stream") == stream]

    async def close(self) -> None:
        await self.connection.close()
        self._task.cancel()
