"""A client WebSocket for market streams: each message goes to a callback as soon as its bytes are read.

A venue's market stream (and the host feed service's) is one-way traffic of tens of thousands of small messages a
second. A general WebSocket connection queues each message for an `await recv()`, which costs more than the
message's own handling; the feed service spent about half its CPU there. Here `data_received` scans the bytes
(`ws_frames.scan`, compiled) and calls `on_message(message, frame)` for each message, in order, with the frame's
own bytes when `keep_frames` is set: the feed service forwards a venue's frame to its clients as it came.

It speaks what a market stream needs of RFC 6455: the opening handshake (no extension, no subprotocol), text and
binary messages (fragmented ones too), ping and pong, keepalive pings, and the closing handshake; a server that
breaks the protocol gets the close code that says how (1002, 1007 for a text message that is not UTF-8, 1009 for
one too big). A proxy named in the environment (`https_proxy`, `no_proxy`, ...) is used as the `websockets`
library uses it, when it is an http:// one (a CONNECT tunnel).
Requests that wait for answers (the WS API) stay on the `websockets` library.

    socket = await open_stream("wss://stream.binance.com:9443/stream", on_message, timeout=5.0)
    socket.send_text('{"method": "SUBSCRIBE", "params": ["btcusdt@trade"], "id": 1}')
    await socket.wait_closed()
"""
from __future__ import annotations

import asyncio
import base64
import hashlib
import logging
import os
import ssl
import urllib.request
from collections.abc import Callable
from types import TracebackType
from urllib.parse import unquote, urlsplit

from hive_core.market.wire import MAX_WRITE_BUFFER, UNIX_SCHEME, unix_address
from hive_core.market.ws_frames import BINARY, CLOSE, CONTINUATION, FIN, PING, PONG, TEXT, scan

logger = logging.getLogger("hive.venue")
MessageCallback = Callable[[str | bytes, bytes | None], None]
MAX_SIZE = 2**24           # bytes of one message, as the venue's connections allowed before
PING_INTERVAL = 20.0       # seconds between keepalive pings ...
PING_TIMEOUT = 20.0        # ... and how long a pong may take before the connection counts as dead
CLOSE_TIMEOUT = 2.0        # how long the closing handshake may take before the socket is dropped
MAX_HEAD = 16 * 1024       # bytes of the handshake's answer
GATHER_FROM = 256 * 1024   # a frame bigger than this is gathered in pieces (a read brings at most 256 KiB)
ACCEPT_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"   # RFC 6455, section 1.3
NORMAL, GOING_AWAY, INVALID_DATA, NO_STATUS = 1000, 1001, 1007, 1005


class HandshakeError(ConnectionError):
    """The server did not open a WebSocket (another status, a wrong accept key, an extension not asked for)."""


async def open_stream(url: str, on_message: MessageCallback, timeout: float, *, keep_frames: bool = False,
                      max_size: int = MAX_SIZE, ping_interval: float = PING_INTERVAL,
                      ping_timeout: float = PING_TIMEOUT) -> StreamSocket:
    """An open connection to `url` (ws://, wss://, or unix:<socket path><path>, the host's feed service), within
    `timeout` seconds; raises OSError, HandshakeError or TimeoutError."""
    loop = asyncio.get_running_loop()
    socket = StreamSocket(on_message, keep_frames=keep_frames, max_size=max_size, ping_interval=ping_interval,
                          ping_timeout=ping_timeout)

    async def connect() -> None:
        if url.startswith(UNIX_SCHEME):
            path, resource = unix_address(url)
            await loop.create_unix_connection(lambda: socket, path)
            socket.request(resource, "localhost")
        else:
            parts = urlsplit(url)
            if parts.scheme not in ("ws", "wss") or not parts.hostname:
                raise ValueError(f"{url!r} is not a ws://, wss:// or unix: address")
            secure = parts.scheme == "wss"
            default_port = 443 if secure else 80
            port = parts.port or default_port
            proxy = proxy_for(parts.hostname, port, secure)
            if proxy is not None:
                await _through_proxy(socket, proxy, parts.hostname, port, secure)
            else:
                await loop.create_connection(lambda: socket, parts.hostname, port,
                                             ssl=ssl.create_default_context() if secure else None,
                                             server_hostname=parts.hostname if secure else None)
            host = parts.hostname if port == default_port else f"{parts.hostname}:{port}"
            socket.request((parts.path or "/") + (f"?{parts.query}" if parts.query else ""), host)
        await socket.opened

    try:
        await asyncio.wait_for(connect(), timeout)
    except BaseException:
        if not socket.opened.done():
            socket.opened.cancel()     # nobody waits for it any more
        socket.abort()
        raise
    return socket


def proxy_for(host: str, port: int, secure: bool) -> str | None:
    """The proxy the environment names for a WebSocket to host:port (no_proxy honoured), in the order the
    `websockets` library takes them, so that the stream and the WS API connection go the same way."""
    if urllib.request.proxy_bypass(f"{host}:{port}"):
        return None
    proxies = urllib.request.getproxies()
    for scheme in ("wss", "socks", "https") if secure else ("ws", "socks", "https", "http"):
        if proxies.get(scheme):
            return proxies[scheme]
    return None


async def _through_proxy(socket: StreamSocket, proxy: str, host: str, port: int, secure: bool) -> None:
    """Connect `socket` to host:port through an HTTP proxy's tunnel (CONNECT), TLS inside it for wss://."""
    address = urlsplit(proxy)
    if address.scheme != "http" or not address.hostname:
        raise ConnectionError(f"the market stream goes through http:// proxies only, not {proxy}: set no_proxy to "
                              f"{host} to connect directly")
    loop = asyncio.get_running_loop()
    transport, answer = await loop.create_connection(_TunnelAnswer, address.hostname, address.port or 80)
    login = ""
    if address.username:
        token = base64.b64encode(f"{unquote(address.username)}:{unquote(address.password or '')}".encode()).decode()
        login = f"Proxy-Authorization: Basic {token}\r\n"
    transport.write(f"CONNECT {host}:{port} HTTP/1.1\r\nHost: {host}:{port}\r\n{login}\r\n".encode())
    try:
        status = await answer.status
    except ConnectionError as problem:
        transport.close()
        raise ConnectionError(f"the proxy {address.hostname} did not answer the tunnel to {host}:{port}") from problem
    except BaseException:       # the open's time is up
        transport.close()
        raise
    if status.split(" ", 2)[1:2] != ["200"]:
        transport.close()
        raise ConnectionError(f"the proxy {address.hostname} refused the tunnel to {host}:{port}: {status}")
    if secure:
        tls = await loop.start_tls(transport, socket, ssl.create_default_context(), server_hostname=host)
        assert tls is not None
        transport = tls
    else:
        transport.set_protocol(socket)
    socket.connection_made(transport)


class _TunnelAnswer(asyncio.Protocol):
    """The proxy's answer to CONNECT: `status`, its status line (the tunnel is silent until the handshake is sent)."""

    def __init__(self) -> None:
        self.status: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._head = b""

    def data_received(self, data: bytes) -> None:
        self._head += data
        if b"\r\n\r\n" in self._head and not self.status.done():
            self.status.set_result(self._head.split(b"\r\n", 1)[0].decode("latin-1"))
        elif len(self._head) > MAX_HEAD and not self.status.done():
            self.status.set_exception(ConnectionError("an answer longer than 16 KiB"))

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.status.done():
            self.status.set_exception(ConnectionError("the proxy closed the connection"))


class StreamSocket(asyncio.Protocol):
    """See the module docstring. Used as `async with socket:` it is closed on the way out."""

    def __init__(self, on_message: MessageCallback, *, keep_frames: bool, max_size: int, ping_interval: float,
                 ping_timeout: float) -> None:
        loop = asyncio.get_running_loop()
        self.on_message = on_message
        self.keep_frames = keep_frames
        self.max_size = max_size
        self.ping_interval, self.ping_timeout = ping_interval, ping_timeout
        self.opened: asyncio.Future[None] = loop.create_future()
        self.heard: asyncio.Future[bool] = loop.create_future()    # True at the first message, False if none came
        self._closed: asyncio.Future[None] = loop.create_future()
        self.close_code: int | None = None
        self.close_reason = ""
        self._transport: asyncio.Transport | None = None
        self._key = ""
        self._open = False          # the handshake is done and no close frame was sent or received
        self._buffer = b""          # bytes of a frame not yet whole (or of the handshake's answer)
        self._gathering: list[bytes] = []   # ... or the pieces of a big one, `_wanted` bytes once whole
        self._gathered = self._wanted = 0
        self._fragments: list[bytes] | None = None
        self._fragment_opcode = TEXT
        self._fragment_size = 0
        self._reading = True        # False once the connection failed or the server's close frame came
        self._ping_timer: asyncio.TimerHandle | None = None
        self._pong_due: asyncio.TimerHandle | None = None
        self._close_timer: asyncio.TimerHandle | None = None
        self._ping_payload = b""

    # ---- connection ------------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport

    def request(self, resource: str, host: str) -> None:
        """Send the opening handshake for `resource` on `host`."""
        assert self._transport is not None
        self._key = base64.b64encode(os.urandom(16)).decode()
        self._transport.write((f"GET {resource} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\n"
                               f"Connection: Upgrade\r\nSec-WebSocket-Key: {self._key}\r\n"
                               "Sec-WebSocket-Version: 13\r\nUser-Agent: hive_core\r\n\r\n").encode())

    def connection_lost(self, exc: Exception | None) -> None:
        self._open = self._reading = False
        for timer in (self._ping_timer, self._pong_due, self._close_timer):
            if timer is not None:
                timer.cancel()
        if not self.opened.done():
            self.opened.set_exception(ConnectionError(f"the connection closed during the handshake ({exc})"
                                                      if exc else "the connection closed during the handshake"))
        if not self.heard.done():
            self.heard.set_result(False)
        if not self._closed.done():
            self._closed.set_result(None)

    @property
    def open(self) -> bool:
        return self._open

    async def wait_closed(self) -> None:
        await asyncio.shield(self._closed)

    async def close(self, code: int = NORMAL, reason: str = "") -> None:
        """The closing handshake: a close frame, then the server's, within CLOSE_TIMEOUT (else the socket is
        dropped)."""
        if self._transport is None or self._closed.done():
            return
        if self._open:
            self._send_close(code, reason)
        try:
            await asyncio.wait_for(asyncio.shield(self._closed), CLOSE_TIMEOUT)
        except TimeoutError:
            self.abort()

    def abort(self) -> None:
        if self._transport is not None:
            self._transport.abort()

    async def __aenter__(self) -> StreamSocket:
        return self

    async def __aexit__(self, kind: type[BaseException] | None, error: BaseException | None,
                        traceback: TracebackType | None) -> None:
        await self.close(GOING_AWAY if error is not None else NORMAL)

    # ---- sending ---------------------------------------------------------------------------------

    def send_text(self, text: str) -> bool:
        """Write one text message now; False when the connection is not open or its output is backed up."""
        if not self._open or self._transport is None or self._transport.get_write_buffer_size() > MAX_WRITE_BUFFER:
            return False
        self._send(TEXT, text.encode())
        return True

    def _send(self, opcode: int, payload: bytes) -> None:
        """A client's frame: whole and masked (RFC 6455, section 5.3)."""
        assert self._transport is not None
        length = len(payload)
        if length < 126:
            header = bytes((FIN | opcode, 0x80 | length))
        elif length < 65536:
            header = bytes((FIN | opcode, 0x80 | 126)) + length.to_bytes(2, "big")
        else:
            header = bytes((FIN | opcode, 0x80 | 127)) + length.to_bytes(8, "big")
        mask = os.urandom(4)
        self._transport.write(header + mask + _masked(payload, mask))

    def _send_close(self, code: int, reason: str) -> None:
        self._open = False
        self._send(CLOSE, code.to_bytes(2, "big") + reason.encode()[:123])
        if self._close_timer is None:
            self._close_timer = asyncio.get_running_loop().call_later(CLOSE_TIMEOUT, self.abort)

    def _fail(self, code: int, reason: str) -> None:
        """The server broke the protocol: say why, and close."""
        logger.warning("market stream: closing the connection (%d): %s", code, reason)
        self.close_code, self.close_reason = code, reason
        self._reading = False
        if self._open:
            self._send_close(code, reason)
        elif self._transport is not None:
            self._transport.close()

    # ---- keepalive -------------------------------------------------------------------------------

    def _schedule_ping(self) -> None:
        if self.ping_interval > 0:
            self._ping_timer = asyncio.get_running_loop().call_later(self.ping_interval, self._ping)

    def _ping(self) -> None:
        if not self._open:
            return
        self._ping_payload = os.urandom(4)
        self._send(PING, self._ping_payload)
        if self._pong_due is None:
            self._pong_due = asyncio.get_running_loop().call_later(self.ping_timeout, self._no_pong)
        self._schedule_ping()

    def _no_pong(self) -> None:
        logger.warning("market stream: no pong within %g s; dropping the connection", self.ping_timeout)
        self.abort()

    # ---- receiving -------------------------------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        if self._gathering:     # a big frame's pieces: joined once, when it is whole
            self._gathering.append(data)
            self._gathered += len(data)
            if self._gathered < self._wanted:
                return
            data = b"".join(self._gathering)
            self._gathering = []
        elif self._buffer:
            data = self._buffer + data
            self._buffer = b""
        if not self.opened.done():
            data = self._answer(data)
            if not data:
                return
        if not self._reading:
            return
        frames, position, problem = scan(data, 0, self.max_size)
        if position < len(data) and problem is None:
            rest = data[position:]
            wanted = _frame_size(rest)
            if wanted > GATHER_FROM:    # gathered in pieces: not copied again at every read
                self._gathering, self._gathered, self._wanted = [rest], len(rest), wanted
            else:
                self._buffer = rest
        keep = self.keep_frames
        for first, start, payload_start, end in frames:
            if first == FIN | TEXT and self._fragments is None:      # the market stream's every message
                try:
                    message = data[payload_start:end].decode()
                except UnicodeDecodeError:
                    self._fail(INVALID_DATA, "a text message that is not UTF-8")
                    return
                self.on_message(message, data[start:end] if keep else None)
            elif not self._other(first, data[payload_start:end], data[start:end]):
                return
        if frames and not self.heard.done():
            self.heard.set_result(True)
        if problem is not None:
            self._fail(problem.code, problem.reason)

    def _answer(self, data: bytes) -> bytes:
        """The handshake's answer, once whole: what follows it, or b"" (not whole yet, or refused)."""
        head, found, rest = data.partition(b"\r\n\r\n")
        if not found:
            if len(data) > MAX_HEAD:
                self._refuse("an answer to the handshake longer than 16 KiB")
            else:
                self._buffer = data
            return b""
        lines = head.decode("latin-1").split("\r\n")
        status = lines[0]
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        accept = base64.b64encode(hashlib.sha1(self._key.encode() + ACCEPT_GUID).digest()).decode()
        if status.split(" ", 2)[1:2] != ["101"]:
            self._refuse(f"the server answered {status!r}, not 101 Switching Protocols")
        elif headers.get("upgrade", "").lower() != "websocket" or \
                "upgrade" not in headers.get("connection", "").lower():
            self._refuse("the server's answer does not upgrade the connection to a WebSocket")
        elif headers.get("sec-websocket-accept") != accept:
            self._refuse("the server's Sec-WebSocket-Accept does not match the key sent")
        elif headers.get("sec-websocket-extensions"):
            self._refuse(f"the server chose an extension that was not offered: {headers['sec-websocket-extensions']}")
        else:
            self._open = True
            self.opened.set_result(None)
            self._schedule_ping()
            return rest
        return b""

    def _refuse(self, reason: str) -> None:
        self._reading = False
        self.opened.set_exception(HandshakeError(reason))
        if self._transport is not None:
            self._transport.close()

    def _other(self, first: int, payload: bytes, frame: bytes) -> bool:
        """A frame other than a whole text message; False when the connection is failing."""
        opcode = first & 0x0F
        if opcode == PING:
            if self._open:
                self._send(PONG, payload)
            return True
        if opcode == PONG:
            if payload == self._ping_payload and self._pong_due is not None:
                self._pong_due.cancel()
                self._pong_due = None
            return True
        if opcode == CLOSE:
            self._closing(payload)
            return False
        if opcode == CONTINUATION:
            if self._fragments is None:
                self._fail(1002, "a continuation frame with no message begun")
                return False
            self._fragments.append(payload)
        elif self._fragments is not None:
            self._fail(1002, "a new message before the fragmented one ended")
            return False
        elif first & FIN:    # a whole binary message
            self.on_message(payload, frame if self.keep_frames else None)
            return True
        else:
            self._fragments, self._fragment_opcode, self._fragment_size = [payload], opcode, 0
        self._fragment_size += len(payload)
        if self._fragment_size > self.max_size:
            self._fail(1009, f"a fragmented message over the limit of {self.max_size} bytes")
            return False
        if first & FIN:
            whole = b"".join(self._fragments)
            self._fragments = None
            if self._fragment_opcode == BINARY:
                self.on_message(whole, None)
                return True
            try:
                text = whole.decode()
            except UnicodeDecodeError:
                self._fail(INVALID_DATA, "a text message that is not UTF-8")
                return False
            self.on_message(text, None)
        return True

    def _closing(self, payload: bytes) -> None:
        """The server's close frame: answer it (when it was not ours being answered), then end the connection."""
        self._reading = False
        if self.close_code is None:
            self.close_code = int.from_bytes(payload[:2], "big") if len(payload) >= 2 else NO_STATUS
            self.close_reason = payload[2:].decode(errors="replace")
        if self._open:
            self._send_close(NORMAL, "")
        if self._transport is not None:
            self._transport.close()


def _frame_size(data: bytes) -> int:
    """The whole size of the frame `data` begins with, from its header; 0 while the header itself is not whole."""
    if len(data) < 2:
        return 0
    length = data[1] & 0x7F
    if length < 126:
        return 2 + length
    header = 4 if length == 126 else 10
    return header + int.from_bytes(data[2:header], "big") if len(data) >= header else 0


def _masked(payload: bytes, mask: bytes) -> bytes:
    """`payload` XOR the repeated 4-byte `mask` (a client's frames are masked: RFC 6455, section 5.3)."""
    length = len(payload)
    if not length:
        return b""
    repeated = (mask * (length // 4 + 1))[:length]
    return (int.from_bytes(payload, "big") ^ int.from_bytes(repeated, "big")).to_bytes(length, "big")
