"""The venue's public wire format (Binance spot's): symbol names, streams, numbers, rate-limit fields.

Shared by the simulated venue (server side) and hive_core's clients (multiplexer, WS API
connection) so that both spell things one way:

- trading pair `BTC-USDT` <-> symbol `BTCUSDT` <-> stream prefix `btcusdt`;
- streams `<symbol>@depth`, `<symbol>@depth@100ms`, `<symbol>@trade`, `<symbol>@bookTicker`;
- prices and quantities are decimal strings ("65000.10000000");
- a rate limit is `{"rateLimitType", "interval": SECOND|MINUTE|HOUR|DAY, "intervalNum", "limit"}`.
"""
from __future__ import annotations

from websockets.asyncio.connection import Connection
from websockets.protocol import State

DEPTH = "depth"
TRADE = "trade"
BOOK_TICKER = "bookTicker"
STREAM_PATH = "/stream"
API_PATH = "/ws-api/v3"
# A connection whose unsent output grows past this is a slow consumer; the venue disconnects it.
MAX_WRITE_BUFFER = 8 * 1024 * 1024


UNIX_SCHEME = "unix:"   # a WebSocket endpoint on a Unix domain socket: unix:<socket path>[/<upstream>]<path>
UPSTREAM_MARK = "/u/"   # the host feed service's paths: /u/<upstream token>/stream, /u/<upstream token>/ws-api/v3


def unix_address(url: str) -> tuple[str, str]:
    """'unix:/run/hive/feed.sock/u/abc/stream' -> ('/run/hive/feed.sock', '/u/abc/stream'): the socket's path and the
    WebSocket path on it (what follows the socket: the feed service's upstream part and /stream or /ws-api/v3)."""
    rest = url.removeprefix(UNIX_SCHEME)
    cut = rest.rfind(UPSTREAM_MARK)
    if cut < 0:
        for suffix in (STREAM_PATH, API_PATH):
            if rest.endswith(suffix):
                return rest[:-len(suffix)], suffix
        return rest, "/"
    return rest[:cut], rest[cut:]


def symbol_of(trading_pair: str) -> str:
    """'BTC-USDT' -> 'BTCUSDT'."""
    return trading_pair.replace("-", "").upper()


def stream_name(trading_pair: str, kind: str) -> str:
    """stream_name('BTC-USDT', 'depth@100ms') -> 'btcusdt@depth@100ms'."""
    return f"{symbol_of(trading_pair).lower()}@{kind}"


def parse_stream(stream: str) -> tuple[str, str]:
    """'btcusdt@depth@100ms' -> ('BTCUSDT', 'depth'); the update speed suffix is dropped."""
    symbol, _, kind = stream.partition("@")
    return symbol.upper(), kind.partition("@")[0]


def fmt(value: float) -> str:
    """A price or quantity as Binance writes it: fixed 8 decimals."""
    return f"{value:.8f}"


def interval_fields(seconds: float) -> tuple[str, float | int]:
    """60 -> ('MINUTE', 1); 86400 -> ('DAY', 1); 10 -> ('SECOND', 10); 0.5 -> ('SECOND', 0.5)."""
    for name, unit in (("DAY", 86_400), ("HOUR", 3_600), ("MINUTE", 60)):
        if seconds >= unit and seconds % unit == 0:
            return name, int(seconds // unit)
    return "SECOND", int(seconds) if float(seconds).is_integer() else seconds


def interval_seconds(interval: str, interval_num: float) -> float:
    return {"SECOND": 1, "MINUTE": 60, "HOUR": 3_600, "DAY": 86_400}[interval] * float(interval_num)


def write_now(connection: Connection, text: str) -> bool:
    """Write one text frame to the socket right now, without awaiting; False when not possible.

    Does what `Connection.send()` does before its flow-control wait: hand the frame to the
    protocol and the bytes to the transport. It fails (False) when the connection is not open,
    a fragmented send is in progress, or the transport already holds MAX_WRITE_BUFFER unsent
    bytes; callers then fall back to `await connection.send()` or treat the peer as slow.
    """
    if connection.protocol.state is not State.OPEN or connection.fragmented_send_waiter is not None:
        return False
    transport = connection.transport
    if transport is None or transport.is_closing() or transport.get_write_buffer_size() > MAX_WRITE_BUFFER:
        return False
    connection.protocol.send_text(text.encode())
    connection.send_data()
    return True
