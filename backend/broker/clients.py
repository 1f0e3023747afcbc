"""Who is connected to the broker, followed in its log: Mosquitto's connection messages (the container runs with
`connection_messages true`) and the same lines the embedded broker writes (amqtt_clients.py):

    New client connected from 127.0.0.1:37201 as alpha (p2, c1, k60, u'hive-backend').
    Client alpha disconnected.  /  Client beta closed its connection.  /  Socket error on client gamma, disconnecting.

The log is read from where the last read ended (a byte offset in the embedded broker's file, a time for the
container's log), never again from its start: 2,000 bots connecting are 2,000 lines read once. A broker that starts
again (its start line, a truncated or replaced file, another container) empties the set. At most MAX_CLIENTS are
kept: beyond, new clients are counted, not listed.

The clients that left (and have not connected again) are noted too, with when the broker logged it, for the fleet's
state derivation to take (`ClientFollower.left`): a bot's client leaving is a sign that it is gone, well before its
heartbeats are missed. At most MAX_CLIENTS departures wait to be taken; beyond, the oldest are dropped.
"""
from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

MAX_CLIENTS = 10_000
MAX_READ = 4 * 2**20  # bytes of the embedded broker's log read per look; the rest at the next one
MAX_FIELD = 256  # characters kept of a client id or a username

_CONNECTED = re.compile(r"New client connected from (?P<address>\S+) as (?P<client>.+?) "
                        r"\(p\d+, c\d+, k\d+(?:, u'(?P<username>[^']*)')?\)\.$")
_DISCONNECTED = re.compile(
    r"(?:Client (?P<client>.+) (?:disconnected(?:\.|, not authorised\.| due to .+\.|: .+\.)|closed its connection\."
    r"|has exceeded timeout, disconnecting\.|been disconnected by administrative action\.)"
    r"|Socket error on client (?P<socket>.+), disconnecting\.|Bad socket read/write on client (?P<bad>.+): .+)$")
# a broker (re)starting: nobody is connected to it yet
_STARTED = re.compile(r"=== hive: broker start on |mosquitto version \S+ starting$")
_LOGGING_TIME = "%Y-%m-%d %H:%M:%S,%f"  # the embedded broker's `%(asctime)s`, local time

Line = tuple[float, str]  # (when it was logged, epoch seconds; the line)


@dataclass(frozen=True)
class Connected:
    client_id: str
    username: str | None
    address: str
    since: float


class ConnectedClients:
    """The connected set, fed with log lines in order."""

    def __init__(self, limit: int = MAX_CLIENTS) -> None:
        self.limit = limit
        self.clients: dict[str, Connected] = {}
        self.untracked = 0  # connections beyond `limit` since the broker started
        self.left: dict[str, float] = {}  # client id -> when it left, until taken (and while it has not come back)

    def reset(self) -> None:
        self.clients.clear()
        self.left.clear()
        self.untracked = 0

    def feed(self, lines: Iterable[Line]) -> None:
        for at, line in lines:
            line = line.rstrip()
            if (found := _CONNECTED.search(line)) is not None:
                client = found["client"][:MAX_FIELD]
                self.left.pop(client, None)
                if client in self.clients or len(self.clients) < self.limit:
                    username = found["username"]
                    self.clients[client] = Connected(client, username[:MAX_FIELD] if username else None,
                                                     found["address"][:MAX_FIELD], at)
                else:
                    self.untracked += 1
            elif (found := _DISCONNECTED.search(line)) is not None:
                client = (found["client"] or found["socket"] or found["bad"])[:MAX_FIELD]
                self.clients.pop(client, None)
                self.left.pop(client, None)  # re-inserted: the dict stays in the order they left
                self.left[client] = at
                if len(self.left) > self.limit:
                    del self.left[next(iter(self.left))]
            elif _STARTED.search(line):
                self.reset()


class ClientFollower:
    """A ConnectedClients kept up to date from a log source; `read` gives (the source started afresh, new lines)."""

    def __init__(self, source: Callable[[], tuple[bool, list[Line]]], limit: int = MAX_CLIENTS) -> None:
        self.source = source
        self.known = ConnectedClients(limit)
        self._lock = threading.Lock()

    def connected(self) -> tuple[list[Connected], int]:
        """The clients connected now, by client id, and how many connected beyond the limit."""
        with self._lock:
            self._read()
            return sorted(self.known.clients.values(), key=lambda c: c.client_id), self.known.untracked

    def left(self) -> list[tuple[str, float]]:
        """The clients that left since the last call and are not connected again: (client id, when it left)."""
        with self._lock:
            self._read()
            departures, self.known.left = list(self.known.left.items()), {}
            return departures

    def _read(self) -> None:
        fresh, lines = self.source()
        if fresh:
            self.known.reset()
        self.known.feed(lines)


class FileLog:
    """The new lines of a log file since the last read; a replaced or truncated file is read afresh."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._inode: int | None = None
        self._offset = 0
        self._partial = b""  # the end of a line not written yet

    def __call__(self) -> tuple[bool, list[Line]]:
        try:
            status = self.path.stat()
        except FileNotFoundError:
            fresh, self._inode = self._inode is not None, None
            return fresh, []
        fresh = False
        if status.st_ino != self._inode or status.st_size < self._offset:
            fresh = self._inode is not None
            self._inode, self._offset, self._partial = status.st_ino, 0, b""
        if status.st_size == self._offset:
            return fresh, []
        with open(self.path, "rb") as handle:
            handle.seek(self._offset)
            chunk = handle.read(MAX_READ)
        self._offset += len(chunk)
        *complete, self._partial = (self._partial + chunk).split(b"\n")
        now = time.time()
        return fresh, [(_logged_at(text, now), text) for text in (line.decode("utf-8", "replace") for line in complete)]


def _logged_at(line: str, default: float) -> float:
    """The time at the start of an embedded broker's log line (`%(asctime)s`, local time), else `default`."""
    try:
        return datetime.strptime(line[:23], _LOGGING_TIME).timestamp()
    except ValueError:
        return default

