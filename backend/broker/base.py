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


def port_in_use_error(host: str, port: int, what: str = "the embedded broker") -> Conflict:
    return Conflict("port_in_use",
        f"port {port} on {host} is already in use by another process, so {what} cannot listen there. "
        f"Start it on another port (the Port field on the Broker page, or the setting HIVE_BROKER_PORT), or stop "
        f"that process. If it is an MQTT broker, you can use it as an external broker instead "
        f"(the 'Use the broker already at {host}:{port}' button, or POST /broker/external).",
    )
