"""The broker the backend uses: which one, whether it runs, and its health, for the Broker page.

One broker at a time. The choice and the operator's intent (running / stopped) are kept in the store,
so that a restarted backend finds the embedded broker again (it is detached) or reconnects to the
external one.
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Protocol

from backend.broker.base import BrokerBackend, BrokerStats
from backend.broker.embedded import EmbeddedBroker
from backend.broker.external import ExternalBroker
from backend.domain.broker import BrokerStatus
from backend.errors import Conflict, HiveError
from backend.settings import Settings
from backend.store import BrokerRow, Store
from backend.store.repositories.broker import BrokerRepository

log = logging.getLogger(__name__)
FLEET_CONNECT_WAIT = 5.0


class FleetLink(Protocol):
    """What the broker manager needs of the fleet's MQTT connection: point it at the broker in use."""

    @property
    def connected(self) -> bool: ...

    def connect(self, host: str, port: int, force: bool = False) -> None: ...

    def disconnect(self) -> None: ...

    def wait_connected(self, timeout: float) -> bool: ...


class BrokerManager:
    def __init__(self, settings: Settings, store: Store, fleet: FleetLink, stats: Callable[[], BrokerStats]) -> None:
        """`fleet` is the fleet's connection, `stats` gives the broker's $SYS statistics as the fleet heard them."""
        self.settings = settings
        self.store = store
        self.fleet = fleet
        self._stats = stats
        self._lock = threading.RLock()
        self._backend: BrokerBackend | None = None
        self._desired = "stopped"
        self._reason = "not started yet: press Start Broker"
        self._starting = False

    # --- start-up --------------------------------------------------------------------------------
    def adopt(self) -> None:
        """On backend start: find the broker the store remembers and reconnect the fleet to it."""
        with self._lock, self.store.session() as session:
            row = BrokerRepository(session).get()
            if row is None:
                return
            backend = self._backend_from(row)
            self._backend, self._desired, self._reason = backend, row.desired, row.reason
            if row.desired != "running":
                return
            if backend.adopt():
                log.info("re-adopted the %s broker at %s:%s", row.kind, row.host, row.port)
                self.fleet.connect(self._connect_host(), backend.port)
            else:
                self._desired = row.desired = "stopped"
                self._reason = row.reason = (
                    f"the embedded broker (pid {row.pid}) was no longer running when the backend started; "
                    "press Start Broker"
                )

    def _backend_from(self, row: BrokerRow) -> BrokerBackend:
        if row.kind == "external":
            return ExternalBroker(row.host, row.port)
        return EmbeddedBroker(row.host, row.port, self.settings.data_dir / "broker",
                              self.settings.broker_sys_interval, row.pid, row.create_time)

    # --- what the orchestrator asks --------------------------------------------------------------
    def is_running(self) -> bool:
        backend = self._backend
        return backend is not None and self._desired == "running" and not self._starting and (
            self.fleet.connected or backend.liveness().alive
        )

    def address(self) -> tuple[str, int]:
        backend = self._backend
        if backend is None:
            return self.settings.broker_host, self.settings.broker_port
        return backend.host, backend.port

    def _connect_host(self) -> str:
        host = self.address()[0]
        return "127.0.0.1" if host in ("0.0.0.0", "", "::") else host

    # --- operator actions ------------------------------------------------------------------------
    def start(self, port: int | None = None) -> BrokerStatus:
        port = port or self.settings.broker_port
        with self._lock:
            current = self._backend
            if current is not None and self._desired == "running" and current.liveness().alive:
                if current.kind == "embedded" and current.port == port:
                    return self.status()
                raise Conflict("broker_running",
                               f"the {current.kind} broker at {current.host}:{current.port} is in use; stop it first")
            backend = EmbeddedBroker(self.settings.broker_host, port, self.settings.data_dir / "broker",
                                     self.settings.broker_sys_interval)
            self._starting = True
            try:
                backend.start()
            except HiveError as error:
                if error.code != "port_in_use":
                    self._set(backend, "stopped", error.detail)
                raise
            finally:
                self._starting = False
            self._set(backend, "running", "started by operator")
            self.fleet.connect(self._connect_host(), port, force=True)
        self.fleet.wait_connected(FLEET_CONNECT_WAIT)
        return self.status()

    def stop(self) -> BrokerStatus:
        with self._lock:
            backend = self._backend
            if backend is not None:
                self.fleet.disconnect()
                backend.stop()
                self._set(backend, "stopped", "stopped by operator")
        return self.status()

    def use_external(self, host: str, port: int) -> BrokerStatus:
        with self._lock:
            current = self._backend
            if current is not None and current.kind == "embedded" and self._desired == "running" \
                    and current.liveness().alive:
                raise Conflict("broker_running",
                               f"the embedded broker runs on {current.host}:{current.port}; stop it first, "
                               "then connect to the external one")
            backend = ExternalBroker(host, port)
            backend.start()
            self._set(backend, "running", "external broker chosen by operator")
            self.fleet.connect(host, port, force=True)
        self.fleet.wait_connected(FLEET_CONNECT_WAIT)
        return self.status()

    def _set(self, backend: BrokerBackend, desired: str, reason: str) -> None:
        self._backend, self._desired, self._reason = backend, desired, reason
        record = backend.record()
        with self.store.session() as session:
            row = BrokerRepository(session).get_or_add()
            row.kind, row.host, row.port = record["kind"], record["host"], record["port"]
            row.pid, row.create_time = record["pid"], record["create_time"]
            row.desired, row.reason = desired, reason
            row.started_at = time.time() if desired == "running" else row.started_at

    # --- status ----------------------------------------------------------------------------------
    def status(self) -> BrokerStatus:
        backend = self._backend
        stats = self._stats()
        connected = self.fleet.connected
        if backend is None:
            return BrokerStatus(kind="embedded", state="stopped", host=self.settings.broker_host,
                                port=self.settings.broker_port, reason=self._reason, fleet_connected=connected)
        usage = backend.usage()
        if self._starting:
            state, reason = "starting", f"starting on port {backend.port}"
        elif self._desired != "running":
            state, reason = "stopped", self._reason
        else:
            live = backend.liveness() if not connected else None
            if connected:
                state, reason = "running", self._running_reason(stats.updated_at)
            elif live is not None and live.alive:
                state, reason = "running", f"{live.reason}; the backend's connection to it is not up yet"
            else:
                state, reason = "error", live.reason if live else "unreachable"
        fresh = stats.updated_at is not None and state == "running"
        return BrokerStatus(
            kind=backend.kind, state=state, host=backend.host, port=backend.port, reason=reason, pid=usage.pid,
            uptime_s=usage.uptime_s if usage.uptime_s is not None else (stats.uptime_s if fresh else None),
            clients_connected=stats.clients_connected if fresh else None,
            messages_received=stats.messages_received if fresh else None,
            messages_sent=stats.messages_sent if fresh else None,
            messages_per_s=stats.messages_per_s if fresh else None,
            cpu_percent=usage.cpu_percent, memory_bytes=usage.memory_bytes, fleet_connected=connected,
        )

    def _running_reason(self, stats_at: float | None) -> str:
        if stats_at is None:
            return "running; the backend is connected, broker statistics not received yet"
        return f"running; statistics received {max(0.0, time.time() - stats_at):.0f} s ago"

