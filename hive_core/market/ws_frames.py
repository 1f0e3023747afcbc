"""WebSocket frames (RFC 6455, section 5.2) as a client reads them off a market stream: the scan of received bytes.

`scan(data, start, max_size)` finds the frames complete in `data` from `start` and returns them as
`(first byte, frame start, payload start, frame end)` tuples, the offset where the next (incomplete) frame begins,
and None, or the FrameError of a frame that breaks the rules (the frames before it are good). It checks what a
client must check of a server's frame: unmasked, no reserved bits (no extension is ever negotiated), a known opcode,
control frames whole and at most 125 bytes, nothing bigger than `max_size`; the FrameError has the close code to
send.

A market stream carries tens of thousands of small frames a second, so this is a hot path written in Cython's
pure-Python mode: compiled by setup.py where a C compiler exists, the same file runs as Python where not.
"""
from __future__ import annotations

import cython

COMPILED: bool = cython.compiled

CONTINUATION: int = 0x0
TEXT: int = 0x1
BINARY: int = 0x2
CLOSE: int = 0x8
PING: int = 0x9
PONG: int = 0xA
FIN: int = 0x80
PROTOCOL_ERROR: int = 1002
TOO_BIG: int = 1009


class FrameError(Exception):
    """A frame the server must not send: `code` is the close code that says why (1002, or 1009 for too big)."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


@cython.ccall
@cython.locals(size=cython.Py_ssize_t, position=cython.Py_ssize_t, header=cython.Py_ssize_t, end=cython.Py_ssize_t,
               first=cython.int, second=cython.int, opcode=cython.int, index=cython.int, length=cython.ulonglong)
def scan(data: bytes, start: cython.Py_ssize_t, max_size: cython.Py_ssize_t) -> tuple:
    """([(first byte, frame start, payload start, frame end), ...], where the next frame starts, FrameError or None);
    see the module."""
    frames: list = []
    problem: object = None
    size = len(data)
    position = start
    while size - position >= 2:
        first = data[position]
        second = data[position + 1]
        if second & 0x80:
            problem = FrameError(PROTOCOL_ERROR, "a server's frame must not be masked")
            break
        if first & 0x70:
            problem = FrameError(PROTOCOL_ERROR, "reserved bits set, but no extension was negotiated")
            break
        opcode = first & 0x0F
        if 2 < opcode < 8 or opcode > 10:      # literals: module constants are Python objects when compiled
            problem = FrameError(PROTOCOL_ERROR, f"unknown opcode {opcode}")
            break
        length = second & 0x7F
        header = 2
        if length == 126:
            if size - position < 4:
                break
            length = (data[position + 2] << 8) | data[position + 3]
            header = 4
        elif length == 127:
            if size - position < 10:
                break
            length = 0
            for index in range(2, 10):
                length = (length << 8) | data[position + index]
            header = 10
        if opcode >= 8 and (length > 125 or not first & 0x80):
            problem = FrameError(PROTOCOL_ERROR, "a control frame must be whole and at most 125 bytes")
            break
        if length > max_size:
            problem = FrameError(TOO_BIG, f"a frame of {length} bytes, over the limit of {max_size}")
            break
        end = position + header + cython.cast(cython.Py_ssize_t, length)
        if end > size:
            break
        frames.append((first, position, position + header, end))
        position = end
    return frames, position, problem


def server_frame(payload: bytes, opcode: int = TEXT) -> bytes:
    """One whole, unmasked frame of `payload`: what a server sends (the feed service re-frames a message the venue
    sent in fragments)."""
    length = len(payload)
    if length < 126:
        header = bytes((FIN | opcode, length))
    elif length < 65536:
        header = bytes((FIN | opcode, 126)) + length.to_bytes(2, "big")
    else:
        header = bytes((FIN | opcode, 127)) + length.to_bytes(8, "big")
    return header + payload
