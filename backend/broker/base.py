"""One interface over the brokers the backend can use (embedded amqtt, a Mosquitto container, external)."""
from __future__ import annotations

import socket
from dataclasses import dataclass
from typing import Protocol

from backend.errors import Conflict


@dataclass
class BrokerStats:
    """The broker's own statistics, as last heard on its `$SYS/broker/...` topics."""

    clients_connected: int | None = None
    messages_received: int | None = None
    messages_sent: int | None = None
    uptime_s: float | None = None
    messages_per_s: float | None = None
    updated_at: float | None = None
    _previous: tuple[float, int] | None = None


@dataclass(frozen=True)
class Liveness:
    alive: bool
    reason: str = ""


@dataclass(frozen=True)
class ProcessUsage:
    pid: int | None = None
    uptime_s: float | None = None
    cpu_percent: float | None = None
    memory_bytes: int | None = None


class BrokerBackend(Protocol):
    kind: str
    host: str
    port: int

    def start(self) -> None:
        """Bring the broker up (embedded) or check that it answers (external); raise a HiveError if not."""

    def stop(self) -> None: ...

    def reload_access(self) -> None:
        """The logins or the ACL changed: make the running broker enforce the new ones without a restart."""

    def adopt(self) -> bool:
        """After a backend restart: is the broker the store remembers still there (and ours)?"""

    def liveness(self) -> Liveness: ...

    def usage(self) -> ProcessUsage:
        """Process facts where the backend owns the process; empty otherwise."""

    def record(self) -> dict:
        """What the store keeps to find this broker again after a backend restart."""

    def log_lines(self, count: int) -> list[str]:
        """The broker's last `count` log lines, oldest first (none for an external broker)."""


def answers(host: str, port: int, timeout: float = 1.0) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


ANONYMOUS_CHECK_CLIENT = b"hive-anonymous-check"


def accepts_anonymous(host: str, port: int, timeout: float = 2.0) -> bool | None:
    """Whether the broker accepts an MQTT CONNECT without a login (then any process that reaches it can read and
    command every bot); None when it did not answer within `timeout`. A bare MQTT 3.1.1 CONNECT, then DISCONNECT."""
    variable = b"\x00\x04MQTT\x04\x02\x00\x0a"  # protocol MQTT 3.1.1, clean session, keepalive 10 s
    payload = len(ANONYMOUS_CHECK_CLIENT).to_bytes(2, "big") + ANONYMOUS_CHECK_CLIENT
    connect = bytes([0x10, len(variable) + len(payload)]) + variable + payload
    try:
        with socket.create_connection((host, port), timeout=timeout) as connection:
            connection.settimeout(timeout)
            connection.sendall(connect)
            answer = b""
            while len(answer) < 4:
                chunk = connection.recv(4 - len(answer))
                if not chunk:
                    return False  # closed without a CONNACK: refused
                answer += chunk
            accepted = answer[0] == 0x20 and answer[3] == 0
            if accepted:
                connection.sendall(b"\xe0\x00")
            return accepted
    except OSError:
        return None


def port_in_use_error(host: str, port: int, what: str = "the embedded broker") -> Conflict:
    return Conflict("port_in_use",
        f"port {port} on {host} is already in use by another process, so {what} cannot listen there. "
        f"Start it on another port (the Port field on the Broker page, or the setting HIVE_BROKER_PORT), or stop "
        f"that process. If it is an MQTT broker, you can use it as an external broker instead "
        f"(the 'Use the broker already at {host}:{port}' button, or POST /broker/external).",
    )
