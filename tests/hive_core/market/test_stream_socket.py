"""The market stream's WebSocket client (hive_core/market/stream_socket.py, frames in ws_frames.py) against real
servers over real sockets: the websockets library's server for what a well-behaved server does (messages whole and in
fragments, pings, the closing handshake, a refused upgrade), and a raw asyncio server that writes crafted bytes for
what a server must not do (each answered with the close code that says why)."""
from __future__ import annotations

import asyncio
import base64
import hashlib
import os
from collections.abc import Awaitable, Callable

import pytest
from websockets.asyncio.server import ServerConnection, serve
from websockets.http11 import Request, Response

from hive_core.market.stream_socket import ACCEPT_GUID, HandshakeError, open_stream
from hive_core.market.ws_frames import FrameError, scan, server_frame
from tests.hive_core.market.conftest import run
from tests.polling import wait_until_async

Heard = list[tuple[str | bytes, bytes | None]]


def test_scan_finds_whole_frames_and_leaves_a_partial_one() -> None:
    small, medium, large = server_frame(b"a" * 5), server_frame(b"b" * 300), server_frame(b"c" * 70_000)
    data = small + medium + large + large[:7]
    frames, position, problem = scan(data, 0, 2**20)
    assert [(first, end - payload) for first, _start, payload, end in frames] == [(0x81, 5), (0x81, 300),
                                                                                 (0x81, 70_000)]
    assert [data[start:end] for _first, start, _payload, end in frames] == [small, medium, large]
    assert position == len(small + medium + large) and problem is None
    assert scan(large[:3], 0, 2**20) == ([], 0, None)     # the 16/64-bit length itself not whole yet


@pytest.mark.parametrize(("data", "code"), [
    (bytes((0x81, 0x85)) + bytes(4) + b"hello", 1002),    # masked
    (bytes((0xC1, 0x01)) + b"x", 1002),                    # a reserved bit
    (bytes((0x83, 0x01)) + b"x", 1002),                    # opcode 3
    (bytes((0x09, 0x01)) + b"x", 1002),                    # a ping in fragments
    (bytes((0x89, 126, 0, 126)) + b"x" * 126, 1002),       # a ping over 125 bytes
    (bytes((0x81, 127)) + (2**40).to_bytes(8, "big"), 1009),
])
def test_scan_refuses_what_a_server_must_not_send(data: bytes, code: int) -> None:
    good = server_frame(b"fine")
    frames, position, problem = scan(good + data, 0, 2**20)
    assert [(start, end) for _first, start, _payload, end in frames] == [(0, len(good))]   # the one before it
    assert position == len(good) and isinstance(problem, FrameError) and problem.code == code


async def _open_on(handler: Callable[[ServerConnection], Awaitable[None]], heard: Heard, **options):
    server = await serve(handler, "127.0.0.1", 0, compression=None, **options)
    port = next(iter(server.sockets)).getsockname()[1]
    socket = await open_stream(f"ws://127.0.0.1:{port}/stream", lambda message, frame: heard.append((message, frame)),
                               5.0, keep_frames=True)
    return server, socket


def test_messages_whole_and_in_fragments_arrive_in_order_with_their_frames() -> None:
    heard: Heard = []
    got: list[str] = []

    async def handler(connection: ServerConnection) -> None:
        got.append(await connection.recv())                    # what the client sends arrives (masked, decoded)
        await connection.send('{"stream":"a@trade","data":{}}')
        await connection.send(["{\"stream\":", "\"b@trade\",", "\"data\":{}}"])    # three frames
        await connection.send(b"\x00\x01binary")
        await connection.send("é" * 40_000)                  # 80,000 bytes: a 64-bit length
        await connection.send("x" * 3_000_000)               # read in many pieces, gathered
        await connection.wait_closed()

    async def scenario() -> None:
        server, socket = await _open_on(handler, heard)
        async with server, socket:
            assert socket.send_text('{"method":"SUBSCRIBE","params":["a@trade"],"id":1}')
            await wait_until_async(lambda: len(heard) == 5, 5, message="five messages")
        assert got == ['{"method":"SUBSCRIBE","params":["a@trade"],"id":1}']
        assert heard[0] == ('{"stream":"a@trade","data":{}}', server_frame(b'{"stream":"a@trade","data":{}}'))
        assert heard[1] == ('{"stream":"b@trade","data":{}}', None)      # reassembled: no frame of its own
        assert heard[2] == (b"\x00\x01binary", server_frame(b"\x00\x01binary", 0x2))
        assert heard[3][0] == "é" * 40_000
        assert heard[4][0] == "x" * 3_000_000 and heard[4][1] == server_frame(b"x" * 3_000_000)
        assert socket.close_code == 1000                                 # we closed; the server agreed
    run(scenario())


def test_pings_are_answered_and_the_server_s_close_is_seen() -> None:
    heard: Heard = []
    pong: list[float] = []

    async def handler(connection: ServerConnection) -> None:
        pong.append(await asyncio.wait_for(await connection.ping(), 5))   # the client answered
        await connection.close(4001, "going away for a test")

    async def scenario() -> None:
        server, socket = await _open_on(handler, heard, ping_interval=None)
        async with server:
            await asyncio.wait_for(socket.wait_closed(), 10)
        assert pong and socket.close_code == 4001 and socket.close_reason == "going away for a test"
        assert not socket.open
    run(scenario())


def test_a_server_that_never_answers_a_ping_is_dropped() -> None:
    written: list[bytes] = []

    async def scenario() -> None:
        server, port = await _raw_server(_accept, written)      # it answers nothing after the handshake
        async with server:
            socket = await open_stream(f"ws://127.0.0.1:{port}/", lambda m, f: None, 5.0, ping_interval=0.2,
                                       ping_timeout=0.3)
            await asyncio.wait_for(socket.wait_closed(), 5)
        assert written and written[0][0] == 0x89          # what it got was a ping
    run(scenario())


def test_a_refused_upgrade_is_a_handshake_error_that_says_what_came() -> None:
    def refuse(_connection: ServerConnection, _request: Request) -> Response:
        return _connection.respond(403, "no streams for you\n")

    async def scenario() -> None:
        server = await serve(lambda connection: connection.wait_closed(), "127.0.0.1", 0, process_request=refuse)
        port = next(iter(server.sockets)).getsockname()[1]
        async with server:
            with pytest.raises(HandshakeError, match="403"):
                await open_stream(f"ws://127.0.0.1:{port}/stream", lambda m, f: None, 5.0)
    run(scenario())


async def _raw_server(answer: Callable[[bytes], bytes], written: list[bytes]) -> tuple[asyncio.Server, int]:
    """A TCP server that answers the handshake with `answer(key)` and records what the client writes after it,
    until the client's close frame."""
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        key = next(line.split(b":", 1)[1].strip() for line in head.split(b"\r\n")
                   if line.lower().startswith(b"sec-websocket-key:"))
        writer.write(answer(key))
        try:
            while chunk := await asyncio.wait_for(reader.read(4096), 5):
                written.append(chunk)
                if chunk[0] == 0x88:
                    break
        except (TimeoutError, ConnectionError):
            pass
        writer.close()
    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


def _accept(key: bytes, extra: str = "") -> bytes:
    accept = base64.b64encode(hashlib.sha1(key + ACCEPT_GUID).digest()).decode()
    return (f"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Accept: {accept}\r\n{extra}\r\n").encode()


def _close_code(written: list[bytes]) -> int:
    """The code of the client's close frame (masked: the payload is XOR the 4-byte key)."""
    data = b"".join(written)
    assert data[0] == 0x88, data[:2]
    mask, payload = data[2:6], data[6:6 + (data[1] & 0x7F)]
    return int.from_bytes(bytes(byte ^ mask[index % 4] for index, byte in enumerate(payload[:2])), "big")


@pytest.mark.parametrize(("after_handshake", "code"), [
    (bytes((0x81, 0x82)) + bytes(4) + b"hi", 1002),        # a masked frame
    (server_frame(b"\xff\xfe not utf-8"), 1007),
    (bytes((0x81, 127)) + (2**30).to_bytes(8, "big"), 1009),
])
def test_a_server_that_breaks_the_protocol_is_closed_with_the_code_that_says_how(after_handshake: bytes,
                                                                                 code: int) -> None:
    written: list[bytes] = []
    heard: Heard = []

    async def scenario() -> None:
        server, port = await _raw_server(lambda key: _accept(key) + server_frame(b"fine") + after_handshake,
                                         written)
        async with server:
            socket = await open_stream(f"ws://127.0.0.1:{port}/", lambda m, f: heard.append((m, f)), 5.0)
            await asyncio.wait_for(socket.wait_closed(), 10)
        assert socket.close_code == code
        assert [message for message, _frame in heard] == ["fine"]
        await wait_until_async(lambda: bool(written), 5, message="the client's close frame")
        assert _close_code(written) == code
    run(scenario())


@pytest.mark.parametrize(("answer", "words"), [
    (lambda key: _accept(os.urandom(16)), "Sec-WebSocket-Accept"),
    (lambda key: _accept(key, "Sec-WebSocket-Extensions: permessage-deflate\r\n"), "extension"),
    (lambda key: b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", "200"),
])
def test_an_answer_that_does_not_open_a_websocket_is_refused(answer: Callable[[bytes], bytes], words: str) -> None:
    async def scenario() -> None:
        server, port = await _raw_server(answer, [])
        async with server:
            with pytest.raises(HandshakeError, match=words):
                await open_stream(f"ws://127.0.0.1:{port}/", lambda m, f: None, 5.0)
    run(scenario())


async def _connect_proxy(asked: list[bytes], refuse: bool = False) -> tuple[asyncio.Server, int]:
    """An HTTP proxy that opens CONNECT tunnels (or refuses them with 403), recording each request's head."""
    async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while chunk := await reader.read(65536):
                writer.write(chunk)
                await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        asked.append(head)
        if refuse:
            writer.write(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
            writer.close()
            return
        target = head.split(b" ")[1].decode()
        host, _, port = target.rpartition(":")
        upstream_reader, upstream_writer = await asyncio.open_connection(host, int(port))
        writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
        await asyncio.gather(pipe(reader, upstream_writer), pipe(upstream_reader, writer))
    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


def test_a_proxy_named_in_the_environment_carries_the_stream_or_its_refusal_says_so(monkeypatch) -> None:
    asked: list[bytes] = []
    heard: Heard = []
    for name in ("no_proxy", "NO_PROXY", "all_proxy", "ALL_PROXY", "https_proxy", "HTTPS_PROXY"):
        monkeypatch.delenv(name, raising=False)

    async def handler(connection: ServerConnection) -> None:
        await connection.send('{"stream":"a@trade","data":{}}')
        await connection.wait_closed()

    async def scenario() -> None:
        server = await serve(handler, "127.0.0.1", 0, compression=None)
        port = next(iter(server.sockets)).getsockname()[1]
        proxy, proxy_port = await _connect_proxy(asked)
        refusing, refusing_port = await _connect_proxy(asked, refuse=True)
        async with server, proxy, refusing:
            monkeypatch.setenv("http_proxy", f"http://user:secret@127.0.0.1:{proxy_port}")
            socket = await open_stream(f"ws://127.0.0.1:{port}/stream", lambda m, f: heard.append((m, f)), 5.0)
            await wait_until_async(lambda: bool(heard), 5, message="the message, through the tunnel")
            await socket.close()
            assert asked[0].startswith(f"CONNECT 127.0.0.1:{port} HTTP/1.1".encode())
            assert b"Proxy-Authorization: Basic " + base64.b64encode(b"user:secret") in asked[0]

            monkeypatch.setenv("http_proxy", f"http://127.0.0.1:{refusing_port}")
            with pytest.raises(ConnectionError, match="refused the tunnel to 127.0.0.1.*403"):
                await open_stream(f"ws://127.0.0.1:{port}/stream", lambda m, f: None, 5.0)
            monkeypatch.setenv("no_proxy", "127.0.0.1")                   # and no proxy where it says not to
            socket = await open_stream(f"ws://127.0.0.1:{port}/stream", lambda m, f: heard.append((m, f)), 5.0)
            await wait_until_async(lambda: len(heard) == 2, 5, message="the message, directly")
            await socket.close()
            assert len(asked) == 2
    run(scenario())
