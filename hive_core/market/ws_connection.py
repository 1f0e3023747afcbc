"""One WebSocket connection that keeps itself up: the common part of the market stream and the WS API.

`start()` runs a task that connects, hands the connection to the subclass (`_on_open`, then
`_read` until it closes), and on any failure waits a jittered, bounded back-off and connects again,
until `stop()`. Subclasses say what happens on open, per message and on close; nothing else.
"""
from __future__ import annotations

import asyncio
import logging

from websockets.asyncio.client import ClientConnection, connect

from hive_core.market.backoff import Backoff

logger = logging.getLogger("hive.venue")


class ReconnectingWebSocket:
    def __init__(self, url: str, *, name: str, backoff: Backoff, connect_timeout: float) -> None:
        self.url = url
        self.connect_timeout = connect_timeout
        self._name = name
        self._backoff = backoff
        self._connection: ClientConnection | None = None
        self._connected = asyncio.Event()
        self._task: asyncio.Task | None = None
        self._stopping = False
        self.stats: dict[str, int] = {"connects": 0, "reconnects": 0}

    async def start(self) -> None:
        if self._task is None:
            self._stopping = False
            self._task = asyncio.create_task(self._run(), name=self._name)

    async def stop(self) -> None:
        self._stopping = True
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None

    @property
    def connected(self) -> bool:
        return self._connection is not None

    async def wait_connected(self, timeout: float) -> bool:
        try:
            await asyncio.wait_for(self._connected.wait(), timeout)
        except TimeoutError:
            return False
        return True

    async def _run(self) -> None:
        first = True
        while not self._stopping:
            if not first:
                self.stats["reconnects"] += 1
                await asyncio.sleep(self._backoff.next())
            first = False
            try:
                async with connect(self.url, open_timeout=self.connect_timeout, max_size=2**24, compression=None,
                                   ping_interval=20, ping_timeout=20) as connection:
                    self._connection = connection
                    self._connected.set()
                    self.stats["connects"] += 1
                    self._on_open(connection)
                    await self._read(connection)
            except asyncio.CancelledError:
                raise
            except Exception as problem:      # refused, reset, handshake or protocol error: retry
                logger.info("%s connection %s: %s", self._name, self.url, problem or type(problem).__name__)
            finally:
                self._connection = None
                self._connected.clear()
                self._on_close()

    def _on_open(self, connection: ClientConnection) -> None:
        """Called once per connection, before the first message is read."""

    async def _read(self, connection: ClientConnection) -> None:
        raise NotImplementedError

    def _on_close(self) -> None:
        """Called after every connection ends (or fails to open)."""
