"""One WebSocket connection that keeps itself up: the common part of the market stream and the WS API.

`start()` runs a task that connects (`_connect`: the subclass's kind of connection), hands the connection to the
subclass (`_on_open`, then `_read` until it closes), and on any failure waits a jittered, bounded back-off and
connects again, until `stop()`. Subclasses say how to connect, what happens on open, per message and on close;
nothing else.

With a `fallback` URL (the venue itself, behind the host's feed service at `url`): when `url` cannot be reached,
the connection is made to `fallback` at once, and while there `url` is tried every `probe_interval` seconds; once
it answers, the fallback connection is closed and the next one goes to `url` again. `on_fallback` says where it is.
"""
from __future__ import annotations

import asyncio
import logging
from typing import Generic, Protocol, TypeVar

from websockets.asyncio.client import connect, unix_connect

from hive_core.market.backoff import Backoff
from hive_core.market.wire import UNIX_SCHEME, unix_address

logger = logging.getLogger("hive.venue")


def open_websocket(url: str, timeout: float) -> connect:
    """A client connection to `url`: ws:// or wss://, or unix:<socket path><path> (the host feed service)."""
    if url.startswith(UNIX_SCHEME):
        path, resource = unix_address(url)
        return unix_connect(path, f"ws://localhost{resource}", open_timeout=timeout, max_size=2**24,
                            compression=None, ping_interval=20, ping_timeout=20)
    return connect(url, open_timeout=timeout, max_size=2**24, compression=None, ping_interval=20, ping_timeout=20)


class Connection(Protocol):
    """What the reconnect loop needs of a connection: that it closes."""

    async def close(self) -> None: ...


C = TypeVar("C", bound=Connection)


class ReconnectingWebSocket(Generic[C]):
    """See the module docstring; `_connect` opens a connection of the subclass's kind (C)."""

    def __init__(self, url: str, *, name: str, backoff: Backoff, connect_timeout: float,
                 fallback: str | None = None, probe_interval: float = 2.0) -> None:
        self.url = url
        self.fallback = fallback
        self.probe_interval = probe_interval
        self.on_fallback = False
        self.connect_timeout = connect_timeout
        self._name = name
        self._backoff = backoff
        self._connection: C | None = None
        self._connected = asyncio.Event()
        self._task: asyncio.Task | None = None
        self._stopping = False
        self.stats: dict[str, int] = {"connects": 0, "reconnects": 0, "fallbacks": 0}

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
                opened = await self._open()
            except asyncio.CancelledError:
                raise
            except Exception as problem:      # refused, reset, handshake or protocol error: retry
                logger.info("%s connection %s: %s", self._name, self.url, problem or type(problem).__name__)
                self._on_close()
                continue
            probe = asyncio.create_task(self._probe(opened)) if self.on_fallback else None
            try:
                try:
                    self._connection = opened
                    self._connected.set()
                    self.stats["connects"] += 1
                    self._on_open(opened)
                    await self._read(opened)
                finally:
                    await opened.close()
            except asyncio.CancelledError:
                raise
            except Exception as problem:
                logger.info("%s connection %s: %s", self._name, self.url, problem or type(problem).__name__)
            finally:
                if probe is not None:
                    probe.cancel()
                self._connection = None
                self._connected.clear()
                self._on_close()

    async def _connect(self, url: str) -> C:
        raise NotImplementedError

    async def _open(self) -> C:
        """The connection to `url`, or, when it cannot be reached and there is a fallback, to the fallback."""
        try:
            connection = await self._connect(self.url)
        except Exception as problem:
            if self.fallback is None:
                raise
            logger.warning("%s: %s cannot be reached (%s); connecting to %s directly until it can", self._name,
                           self.url, problem or type(problem).__name__, self.fallback)
            connection = await self._connect(self.fallback)
            self.on_fallback = True
            self.stats["fallbacks"] += 1
            return connection
        self.on_fallback = False
        return connection

    async def _probe(self, fallback: C) -> None:
        """While on the fallback: try `url` every probe_interval; once it answers, close the fallback connection (the
        next connection goes to `url`)."""
        while True:
            await asyncio.sleep(self.probe_interval)
            try:
                probe = await self._connect(self.url)
            except Exception:
                continue
            await probe.close()
            logger.info("%s: %s answers again; leaving %s", self._name, self.url, self.fallback)
            self._backoff.reset()
            await fallback.close()
            return

    def _on_open(self, connection: C) -> None:
        """Called once per connection, before the first message is read."""

    async def _read(self, connection: C) -> None:
        raise NotImplementedError

    def _on_close(self) -> None:
        """Called after every connection ends (or fails to open)."""
