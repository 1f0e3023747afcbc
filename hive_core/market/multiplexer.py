"""One market-data WebSocket connection per venue endpoint, shared by every strategy of the instance.

Interface::

    mux = Multiplexer("ws://127.0.0.1:9400", fetch_snapshot=api.depth_snapshot)   # /stream is appended
    await mux.start()                                    # connects in the background, reconnects for ever
    sub = mux.subscribe("btcusdt@depth@100ms", callback) # callback(stream: str, data: dict)
    mux.book("BTCUSDT")                                  # the LocalBook kept for a subscribed depth stream
    await mux.wait_synced(["BTCUSDT"], timeout=5.0)
    sub.close()                                          # (or mux.unsubscribe(sub))
    await mux.stop()

- Subscriptions are reference-counted in one structure (`stream -> subscriber list`): SUBSCRIBE goes
  on the wire when a stream's first subscriber appears, UNSUBSCRIBE when its last one leaves. Changes
  made within one loop iteration are coalesced into at most one SUBSCRIBE and one UNSUBSCRIBE.
- Fan-out: each message is parsed once and its `data` dict handed to every subscriber of its stream
  (do not mutate it). Callbacks run synchronously on the event loop and must be cheap (update a
  field, append to a queue); a callback that raises is counted and logged, and the others still run.
  Messages are handled as the socket's bytes are read (stream_socket.py), one read (at most 256 KiB)
  at a time, so a burst never starves other tasks.
- Depth streams (`<symbol>@depth[@speed]`): the multiplexer keeps a LocalBook per symbol. A diff whose
  `U` is not the previous `u` + 1 is a sequence gap: the book is rebuilt from a `depth` snapshot
  fetched through `fetch_snapshot` (the WS API connection) plus the buffered diffs, per Binance's
  procedure. Depth subscribers are called after the book applied a diff, and once more with
  `{"e": "snapshot", "s": <symbol>, "lastUpdateId": ...}` after each (re)sync.
- Reconnect: exponential, bounded, jittered back-off; on reconnect the current subscription set is
  sent again and every book resyncs.
- Counters for metrics in `stats`: messages, reconnects, gaps, resyncs (after a gap), snapshots (all
  loads), stale (duplicate/old diffs dropped), callback_errors, subscribes/unsubscribes sent.
"""
from __future__ import annotations

import asyncio
import itertools
import json
import logging
from collections.abc import Awaitable, Callable, Iterable

from hive_core.market.backoff import Backoff
from hive_core.market.local_book import APPLIED, BUFFERED, GAP, STALE, LocalBook
from hive_core.market.stream_socket import StreamSocket, open_stream
from hive_core.market.wire import STREAM_PATH
from hive_core.market.ws_connection import ReconnectingWebSocket
from hive_core.market.ws_frames import BINARY, server_frame

logger = logging.getLogger("hive.venue.mux")
StreamCallback = Callable[[str, dict], None]
RawListener = Callable[[str, bytes], None]
STREAM_FIELD = '{"stream":"'  # how a combined-stream message starts (Binance's, and the simulated venue's)
BEHIND = "behind"  # the feed service's notice of a stream's messages it dropped for a client: {"e", "dropped"}
SnapshotFetcher = Callable[[str, int], Awaitable[dict | None]]
MAX_STREAMS_PER_MESSAGE = 200
SNAPSHOT_LIMIT = 1000
SNAPSHOT_ATTEMPTS = 20


class Subscription:
    """A handle returned by `subscribe`; `close()` withdraws it (idempotent)."""

    __slots__ = ("stream", "callback", "_mux", "active")

    def __init__(self, mux: Multiplexer, stream: str, callback: StreamCallback) -> None:
        self._mux = mux
        self.stream = stream
        self.callback = callback
        self.active = True

    def close(self) -> None:
        self._mux.unsubscribe(self)


class Multiplexer(ReconnectingWebSocket[StreamSocket]):
    """See the module docstring."""

    def __init__(self, url: str, *, fetch_snapshot: SnapshotFetcher | None = None, backoff: Backoff | None = None,
                 connect_timeout: float = 5.0, snapshot_limit: int = SNAPSHOT_LIMIT, fallback: str | None = None,
                 on_raw: RawListener | None = None) -> None:
        """`fallback`: the venue's own address when `url` is the host's feed service (ws_connection.py);
        `on_raw(stream, frame)`: every message as received, as a server's whole frame (the venue's own bytes when it
        sent one), once accepted (a depth diff once its book applied it); with it, messages of other streams than
        depth go to `on_raw` alone, unparsed (the feed service forwards them as they came)."""
        super().__init__(_stream_url(url), name="market-mux", backoff=backoff or Backoff(0.05, 5.0),
                         connect_timeout=connect_timeout, fallback=_stream_url(fallback) if fallback else None)
        self.on_raw = on_raw
        self.fetch_snapshot = fetch_snapshot
        self.snapshot_limit = snapshot_limit
        self._subscribers: dict[str, list[Subscription]] = {}    # THE reference counts: stream -> subscribers
        self._on_wire: set[str] = set()                         # streams the venue has been asked for
        self._books: dict[str, LocalBook] = {}                  # symbol -> book (while a depth stream is wanted)
        self._syncing: set[str] = set()                         # symbols with a snapshot fetch running
        self._gapped: set[str] = set()                          # symbols whose next sync is a resync after a gap
        self._flush_scheduled = False
        self._control_ids = itertools.count(1)
        self._tasks: set[asyncio.Task] = set()
        self.stats.update({"messages": 0, "gaps": 0, "resyncs": 0, "snapshots": 0, "stale": 0, "callback_errors": 0,
                           "subscribes_sent": 0, "unsubscribes_sent": 0, "control_errors": 0, "behind": 0,
                           "malformed": 0})

    # ---- lifecycle ----------------------------------------------------------------------------

    async def stop(self) -> None:
        """Stop the connection task and any snapshot fetches still running."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await super().stop()
        for task in tasks:
            try:
                await task
            except asyncio.CancelledError:
                pass
        self._tasks.clear()

    async def wait_synced(self, symbols: Iterable[str], timeout: float) -> bool:
        """True once the books of these symbols are synced (False after `timeout` seconds)."""
        wanted = [symbol.upper() for symbol in symbols]
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            if all(symbol in self._books and self._books[symbol].synced for symbol in wanted):
                return True
            if loop.time() >= deadline:
                return False
            await asyncio.sleep(0.01)

    # ---- subscriptions ------------------------------------------------------------------------

    def subscribe(self, stream: str, callback: StreamCallback) -> Subscription:
        """Add a subscriber; the stream is subscribed on the venue only for its first subscriber."""
        subscription = Subscription(self, stream, callback)
        subscribers = self._subscribers.get(stream)
        if subscribers is None:
            subscribers = self._subscribers[stream] = []
            symbol, kind = _split(stream)
            if kind == "depth" and symbol not in self._books:
                self._books[symbol] = LocalBook(symbol)
            self._schedule_flush()
        subscribers.append(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        """Remove a subscriber; the stream is unsubscribed on the venue when its last one leaves."""
        if not subscription.active:
            return
        subscription.active = False
        stream = subscription.stream
        subscribers = self._subscribers.get(stream)
        if subscribers is None:
            return
        try:
            subscribers.remove(subscription)
        except ValueError:
            return
        if not subscribers:
            del self._subscribers[stream]
            symbol, kind = _split(stream)
            if kind == "depth" and not any(_split(other) == (symbol, "depth") for other in self._subscribers):
                self._books.pop(symbol, None)
            self._schedule_flush()

    def refcount(self, stream: str) -> int:
        return len(self._subscribers.get(stream, ()))

    def streams(self) -> dict[str, int]:
        """Stream -> number of subscribers."""
        return {stream: len(subscribers) for stream, subscribers in self._subscribers.items()}

    def books(self) -> dict[str, LocalBook]:
        """Symbol -> the book kept for it (while a depth stream of it is wanted)."""
        return dict(self._books)

    def book(self, symbol: str) -> LocalBook | None:
        return self._books.get(symbol.upper())

    def _schedule_flush(self) -> None:
        if self._flush_scheduled or self._connection is None:
            return
        self._flush_scheduled = True
        asyncio.get_running_loop().call_soon(self._flush)

    def _flush(self) -> None:
        """Bring the venue's subscription set in line with the wanted one (one message per direction)."""
        self._flush_scheduled = False
        connection = self._connection
        if connection is None:
            return
        wanted = self._subscribers.keys()
        adds = sorted(stream for stream in wanted if stream not in self._on_wire)
        removes = sorted(stream for stream in self._on_wire if stream not in wanted)
        for method, streams in (("UNSUBSCRIBE", removes), ("SUBSCRIBE", adds)):
            for start in range(0, len(streams), MAX_STREAMS_PER_MESSAGE):
                chunk = streams[start:start + MAX_STREAMS_PER_MESSAGE]
                frame = json.dumps({"method": method, "params": chunk, "id": next(self._control_ids)})
                if not connection.send_text(frame):
                    return            # the connection is going away; the reconnect resubscribes
                if method == "SUBSCRIBE":
                    self._on_wire.update(chunk)
                    self.stats["subscribes_sent"] += 1
                else:
                    self._on_wire.difference_update(chunk)
                    self.stats["unsubscribes_sent"] += 1

    # ---- connection ---------------------------------------------------------------------------

    async def _connect(self, url: str) -> StreamSocket:
        return await open_stream(url, self._on_message, self.connect_timeout, keep_frames=self.on_raw is not None)

    def _on_open(self, connection: StreamSocket) -> None:
        self._on_wire.clear()
        for book in self._books.values():
            book.reset()               # diffs missed while away: every book resyncs
        self._flush_scheduled = False
        self._flush()

    async def _read(self, connection: StreamSocket) -> None:
        """The socket hands each message to _on_message as it reads it; this waits for the first and the end."""
        if await connection.heard:
            self._backoff.reset()
        await connection.wait_closed()

    # ---- messages -----------------------------------------------------------------------------

    def _on_message(self, raw: str | bytes, frame: bytes | None = None) -> None:
        """One message; `frame`: its whole frame as received, when `on_raw` wants it."""
        self.stats["messages"] += 1
        if self.on_raw is not None and isinstance(raw, str) and raw.startswith(STREAM_FIELD):
            stream = raw[len(STREAM_FIELD):raw.find('"', len(STREAM_FIELD))]
            if "@depth" not in stream:   # nothing is kept of it here: handed on as received, unparsed
                self.on_raw(stream, frame or _whole_frame(raw))
                return
        try:
            message = json.loads(raw)
            stream = message.get("stream")
        except (ValueError, AttributeError):
            logger.warning("market stream sent something unexpected: %.200r", raw)
            return
        if stream is None:
            if message.get("error") is not None:
                self.stats["control_errors"] += 1
                logger.warning("market stream control request failed: %s", message["error"])
            return
        data = message.get("data")
        if not isinstance(data, dict):
            return
        event = data.get("e")
        if event == "depthUpdate":
            try:
                applied = self._apply_depth(data)
            except (KeyError, ValueError, TypeError, IndexError):   # not a diff as Binance documents it
                self._malformed(raw, data.get("s"))
                return
            if not applied:
                return
        elif event == BEHIND:
            self._fell_behind(stream, data.get("dropped"))
            return
        if self.on_raw is not None:
            self.on_raw(stream, frame or _whole_frame(raw))
        subscribers = self._subscribers.get(stream)
        if subscribers:
            self._fan_out(subscribers, stream, data)

    def _fan_out(self, subscribers: list[Subscription], stream: str, data: dict) -> None:
        for subscription in tuple(subscribers):
            try:
                subscription.callback(stream, data)
            except Exception:
                self.stats["callback_errors"] += 1
                if self.stats["callback_errors"] <= 10 or self.stats["callback_errors"] % 1000 == 0:
                    logger.exception("subscriber of %s failed (error #%d)", stream, self.stats["callback_errors"])

    def _apply_depth(self, data: dict) -> bool:
        """Apply a diff to its book; True when subscribers should hear about it."""
        symbol = data.get("s", "")
        book = self._books.get(symbol)
        if book is None:
            return True
        result = book.apply_diff(int(data["U"]), int(data["u"]), data.get("b") or [], data.get("a") or [])
        if result == APPLIED or result == BUFFERED:   # a buffered diff's time: the book's once it syncs (the
            book.event_time = data.get("E", 0) / 1000.0   # snapshot itself carries none on Binance)
        if result == APPLIED:
            return True
        if result == STALE:
            self.stats["stale"] += 1
        elif result == GAP:
            self.stats["gaps"] += 1
            self._gapped.add(symbol)
            logger.info("sequence gap on %s (expected U=%d, got U=%s); resyncing", symbol,
                        book.last_update_id + 1, data.get("U"))
            self._start_sync(symbol)
        elif result == BUFFERED:
            self._start_sync(symbol)
        return False

    def _fell_behind(self, stream: str, dropped: object) -> None:
        """The feed service dropped messages of `stream` for us (we read too slowly): a depth stream's book resyncs
        from a snapshot at once; the trades dropped are gone."""
        self.stats["behind"] += 1
        logger.warning("the feed service dropped %s messages of %s for this instance (it read too slowly)%s",
                       dropped, stream, "; resyncing its book" if _split(stream)[1] == "depth" else "")
        symbol, kind = _split(stream)
        if kind == "depth":
            self._resync(symbol)

    def _malformed(self, raw: str | bytes, symbol: object) -> None:
        """A depth update not as Binance documents it: dropped, and its book, which may have taken part of it,
        rebuilt from a snapshot."""
        self.stats["malformed"] += 1
        if self.stats["malformed"] <= 10 or self.stats["malformed"] % 1000 == 0:
            logger.warning("market stream sent a malformed depth update (#%d); resyncing its book: %.200r",
                           self.stats["malformed"], raw)
        if isinstance(symbol, str):
            self._resync(symbol)

    def _resync(self, symbol: str) -> None:
        """Drop a book's levels and rebuild it from a snapshot now (its diffs are buffered meanwhile)."""
        book = self._books.get(symbol)
        if book is not None:
            book.reset()
            self._gapped.add(symbol)
            self._start_sync(symbol)

    def _start_sync(self, symbol: str) -> None:
        if symbol in self._syncing or self.fetch_snapshot is None:
            return
        self._syncing.add(symbol)
        task = asyncio.get_running_loop().create_task(self._sync(symbol, self.fetch_snapshot), name=f"resync-{symbol}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _sync(self, symbol: str, fetch_snapshot: SnapshotFetcher) -> None:
        """Snapshot + buffered diffs -> a synced book (retried while the snapshot does not line up)."""
        try:
            for attempt in range(SNAPSHOT_ATTEMPTS):
                snapshot = await fetch_snapshot(symbol, self.snapshot_limit)
                book = self._books.get(symbol)
                if book is None:
                    return                          # unsubscribed meanwhile
                if book.synced:
                    return
                if snapshot is not None:
                    result = book.apply_snapshot(int(snapshot["lastUpdateId"]), snapshot.get("bids") or [],
                                                 snapshot.get("asks") or [])
                    if result == APPLIED:
                        stamp = snapshot.get("E")      # the feed service's snapshots say how new they are
                        if isinstance(stamp, int | float) and stamp / 1000.0 > book.event_time:
                            book.event_time = stamp / 1000.0
                        self.stats["snapshots"] += 1
                        if symbol in self._gapped:
                            self._gapped.discard(symbol)
                            self.stats["resyncs"] += 1
                        self._notify_synced(book)
                        return
                await asyncio.sleep(min(0.05 * (attempt + 1), 1.0))
            logger.warning("could not sync the book of %s after %d snapshots", symbol, SNAPSHOT_ATTEMPTS)
        finally:
            self._syncing.discard(symbol)

    def _notify_synced(self, book: LocalBook) -> None:
        data = {"e": "snapshot", "s": book.symbol, "lastUpdateId": book.last_update_id}
        prefix = book.symbol.lower() + "@depth"
        for stream, subscribers in list(self._subscribers.items()):
            if stream.startswith(prefix):
                self._fan_out(subscribers, stream, data)


def _whole_frame(raw: str | bytes) -> bytes:
    """A message that came in fragments, as one frame of its kind."""
    return server_frame(raw.encode()) if isinstance(raw, str) else server_frame(raw, BINARY)


def _stream_url(base: str) -> str:
    base = base.rstrip("/")
    return base if base.endswith(STREAM_PATH) else base + STREAM_PATH


def _split(stream: str) -> tuple[str, str]:
    symbol, _, kind = stream.partition("@")
    return symbol.upper(), kind.partition("@")[0]
