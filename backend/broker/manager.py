"""The broker the backend uses: which one, whether it runs, and its health, for the Broker page.

One broker at a time: the embedded one (amqtt), a Mosquitto container, or an external one. The choice and
the operator's intent (running / stopped) are kept in the store, so that a restarted backend finds the
embedded broker or the container again (both are detached) or reconnects to the external one. A broker
that needs a login (the container always; an external one when the operator gives one) has it stored
encrypted under the credentials key; the backend's connection logs in with it, and instances get theirs
in a file of their own (never in their config, never in an API answer).
"""
from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from typing import Literal, Protocol

from backend.broker.base import BrokerBackend, BrokerStats
from backend.broker.container import ContainerBroker
from backend.broker.embedded import EmbeddedBroker
from backend.broker.external import ExternalBroker
from backend.broker.image import BROKER_IMAGE, build_broker_image, image_present
from backend.broker.mosquitto import Login
from backend.docker.hosts import LOCAL, DockerHosts
from backend.docker.labels import backend_id
from backend.domain.broker import BrokerHealth, BrokerLog, BrokerStatus
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

    @property
    def last_error(self) -> str: ...

    def connect(self, host: str, port: int, force: bool = False, login: tuple[str, str] | None = None) -> None: ...

    def disconnect(self) -> None: ...

    def wait_connected(self, timeout: float) -> bool: ...


class Sealer(Protocol):
    """The credential store's encryption (its key), for the broker's logins."""

    def seal_text(self, text: str) -> str: ...

    def open_text(self, ciphertext: str, what: str) -> str: ...


class BrokerManager:
    def __init__(self, settings: Settings, store: Store, fleet: FleetLink, stats: Callable[[], BrokerStats],
                 docker: DockerHosts, sealer: Sealer) -> None:
        """`fleet` is the fleet's connection, `stats` gives the broker's $SYS statistics as the fleet heard them,
        `docker` the engines (the container runs on the local one), `sealer` encrypts the broker's logins."""
        self.settings = settings
        self.store = store
        self.fleet = fleet
        self._stats = stats
        self.docker = docker
        self.sealer = sealer
        self.backend_id = backend_id(settings.data_dir)
        self.image = BROKER_IMAGE  # the broker container's image, built from the checkout when missing
        self._lock = threading.RLock()
        self._backend: BrokerBackend | None = None
        self._desired = "stopped"
        self._reason = "not started yet: press Start Broker"
        self._starting = False
        self._building: ContainerBroker | None = None  # a container waiting for its image to be built
        self._progress = ""
        self._backend_login: Login | None = None  # how the backend logs in to the broker in use
        self._instance_login: Login | None = None  # how instances log in to it

    # --- start-up --------------------------------------------------------------------------------
    def adopt(self) -> None:
        """On backend start: find the broker the store remembers and reconnect the fleet to it."""
        with self._lock, self.store.session() as session:
            row = BrokerRepository(session).get()
            if row is None:
                return
            try:
                backend = self._backend_from(row)
            except HiveError as error:  # its login cannot be read: the backend starts all the same
                log.error("cannot use the %s broker the store remembers: %s", row.kind, error.detail)
                self._desired = row.desired = "stopped"
                self._reason = row.reason = f"{error.detail}; then press Start Broker"
                return
            self._backend, self._desired, self._reason = backend, row.desired, row.reason
            if row.desired != "running":
                return
            if backend.adopt():
                log.info("re-adopted the %s broker at %s:%s", row.kind, row.host, row.port)
                if isinstance(backend, ContainerBroker):
                    row.container_id = backend.container_id
                self._connect_fleet(backend.port)
            else:
                self._desired = row.desired = "stopped"
                gone = f"the embedded broker (pid {row.pid})" if row.kind == "embedded" else \
                    f"the broker container {(row.container_id or '')[:12]}"
                self._reason = row.reason = (
                    f"{gone} was no longer running when the backend started; press Start Broker"
                )

    def _backend_from(self, row: BrokerRow) -> BrokerBackend:
        """The broker a stored row describes, with its logins (decrypted) in use."""
        if row.kind == "external":
            self._use_logins(self._external_login(row))
            return ExternalBroker(row.host, row.port)
        if row.kind == "container":
            logins = self._container_logins(row)
            self._use_logins(*logins)
            return self._container(row.port, logins, row.container_id, row.image)
        self._use_logins(None)
        return EmbeddedBroker(row.host, row.port, self.settings.data_dir / "broker",
                              self.settings.broker_sys_interval, row.pid, row.create_time)

    def _container(self, port: int, logins: tuple[Login, Login] | None, container_id: str | None = None,
                   image: str | None = None) -> ContainerBroker:
        return ContainerBroker(lambda: self.docker.client(LOCAL), self.backend_id, self.settings.broker_host, port,
                               self.settings.data_dir / "broker" / "container", self.settings.broker_sys_interval,
                               logins, container_id, image or self.image)

    # --- logins ----------------------------------------------------------------------------------
    def _container_logins(self, row: BrokerRow | None) -> tuple[Login, Login]:
        """The container's (backend, instances) logins: the stored ones, else new ones (stored by `_set`)."""
        if row is not None and row.container_login:
            data = json.loads(self.sealer.open_text(row.container_login, "broker container's logins"))
            return Login(**data["backend"]), Login(**data["instances"])
        return Login.generate("backend"), Login.generate("instances")

    def _external_login(self, row: BrokerRow) -> Login | None:
        if not row.external_login:
            return None
        return Login(**json.loads(self.sealer.open_text(row.external_login, "external broker's login")))

    def _use_logins(self, backend: Login | None, instances: Login | None = None) -> None:
        """The logins of the broker in use: the backend's, and the instances' (the same one when not given)."""
        self._backend_login, self._instance_login = backend, instances or backend

    def instance_login(self) -> tuple[str, str] | None:
        """The (username, password) instances log in with to the broker in use; None when it needs none."""
        login = self._instance_login
        return (login.username, login.password) if login is not None else None

    def _connect_fleet(self, port: int, force: bool = False) -> None:
        login = self._backend_login
        self.fleet.connect(self._connect_host(), port, force=force,
                           login=(login.username, login.password) if login is not None else None)

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
    def start(self, port: int | None = None, kind: Literal["embedded", "container"] = "embedded") -> BrokerStatus:
        """Start the embedded broker or the broker container. A container whose image is missing waits for
        it to be built (in the background; the status says how far) and then starts."""
        port = port or self.settings.broker_port
        with self._lock:
            if self._building is not None:
                raise Conflict("broker_starting", f"the broker image is being built ({self._progress}); "
                                                  "the broker container starts when it is done")
            current = self._backend
            if current is not None and self._desired == "running" and current.liveness().alive:
                if current.kind == kind and current.port == port:
                    return self.status()
                raise Conflict("broker_running",
                               f"the {current.kind} broker at {current.host}:{current.port} is in use; stop it first")
            if kind == "embedded":
                self._launch(EmbeddedBroker(self.settings.broker_host, port, self.settings.data_dir / "broker",
                                            self.settings.broker_sys_interval), None)
            else:
                with self.store.session() as session:
                    logins = self._container_logins(BrokerRepository(session).get())
                backend = self._container(port, logins)
                if not image_present(self.docker.client(LOCAL), backend.image):
                    self._build_then_launch(backend)
                    return self.status()
                self._launch(backend, logins)
        self.fleet.wait_connected(FLEET_CONNECT_WAIT)
        return self.status()

    def _launch(self, backend: EmbeddedBroker | ContainerBroker, logins: tuple[Login, Login] | None) -> None:
        """Start it, remember it (with its logins, encrypted) and point the fleet's connection at it."""
        self._starting = True
        try:
            backend.start()
        except HiveError as error:
            if error.code != "port_in_use":
                self._set(backend, "stopped", error.detail)
            raise
        finally:
            self._starting = False
        self._use_logins(*(logins or (None,)))
        self._set(backend, "running", "started by operator", container_logins=logins)
        self._connect_fleet(backend.port, force=True)

    def _build_then_launch(self, backend: ContainerBroker) -> None:
        self._building, self._progress = backend, f"building the broker image {backend.image}"
        log.info("the broker image %s is missing: building it", backend.image)

        def progress(step: str) -> None:
            self._progress = f"building the broker image {backend.image} (once): {step}"

        def run() -> None:
            try:
                build_broker_image(self.docker.get(LOCAL).url, progress, backend.image)
                with self._lock:
                    if self._building is backend:  # not called off by a Stop meanwhile
                        self._launch(backend, backend.logins)
            except HiveError as error:
                log.warning("the broker container did not start: %s", error.detail)
                with self._lock:
                    if self._building is backend:
                        self._set(backend, "stopped", error.detail)
            finally:
                with self._lock:
                    if self._building is backend:
                        self._building = None

        threading.Thread(target=run, name="hive-broker-image", daemon=True).start()

    def stop(self) -> BrokerStatus:
        with self._lock:
            building, self._building = self._building, None
            backend = self._backend
            if building is not None:
                self._reason = "stopped by operator while the broker image was being built"
                self._desired = "stopped"
            elif backend is not None:
                self.fleet.disconnect()
                backend.stop()
                self._set(backend, "stopped", "stopped by operator")
        return self.status()

    def use_configured_external(self) -> None:
        """HIVE_BROKER_EXTERNAL: the broker of the settings (with their login) is the one, from the start."""
        host, port = self.settings.broker_host, self.settings.broker_port
        current = self._backend
        if current is not None and current.kind == "external" and (current.host, current.port) == (host, port) \
                and self._desired == "running" and self.settings.broker_username is None:
            return  # already in use, and no login to bring up to date
        password = self.settings.broker_password.get_secret_value() if self.settings.broker_password else None
        status = self.use_external(host, port, self.settings.broker_username, password)
        log.info("using the external broker of the settings at %s:%s: %s", host, port, status.reason)

    def use_external(self, host: str, port: int, username: str | None = None,
                     password: str | None = None) -> BrokerStatus:
        """Connect to a broker someone else runs; `username`/`password` when it needs a login (kept encrypted)."""
        with self._lock:
            current = self._backend
            if self._building is not None:
                raise Conflict("broker_starting", "the broker container is waiting for its image to be built; "
                                                  "stop it first, then connect to the external one")
            if current is not None and current.kind != "external" and self._desired == "running" \
                    and current.liveness().alive:
                raise Conflict("broker_running",
                               f"the {current.kind} broker runs on {current.host}:{current.port}; stop it first, "
                               "then connect to the external one")
            backend = ExternalBroker(host, port)
            backend.start()
            login = Login(username, password or "") if username else None
            self._use_logins(login)
            self._set(backend, "running", "external broker chosen by operator", external_login=login)
            self._connect_fleet(port, force=True)
        self.fleet.wait_connected(FLEET_CONNECT_WAIT)
        return self.status()

    def _set(self, backend: BrokerBackend, desired: str, reason: str,
             container_logins: tuple[Login, Login] | None = None, external_login: Login | None = None) -> None:
        """Remember the broker and the operator's intent; logins given are stored encrypted (an external
        broker's replaces the one before; the container's stay across its restarts)."""
        self._backend, self._desired, self._reason = backend, desired, reason
        record = backend.record()
        with self.store.session() as session:
            row = BrokerRepository(session).get_or_add()
            row.kind, row.host, row.port = record["kind"], record["host"], record["port"]
            row.pid, row.create_time = record["pid"], record["create_time"]
            row.container_id, row.image = record.get("container_id"), record.get("image")
            row.desired, row.reason = desired, reason
            row.started_at = time.time() if desired == "running" else row.started_at
            if container_logins is not None and not row.container_login:
                backend_login, instances = container_logins
                row.container_login = self.sealer.seal_text(json.dumps({
                    "backend": {"username": backend_login.username, "password": backend_login.password},
                    "instances": {"username": instances.username, "password": instances.password}}))
            if record["kind"] == "external" and desired == "running":
                row.external_login = self.sealer.seal_text(json.dumps(
                    {"username": external_login.username, "password": external_login.password})) \
                    if external_login is not None else None

    def log(self, lines: int) -> BrokerLog:
        """The last `lines` lines of the broker's log (the container's, or the embedded broker's file)."""
        backend = self._backend
        if backend is None:
            return BrokerLog(kind="embedded", lines=[], note="no broker has been started yet")
        if backend.kind == "external":
            return BrokerLog(kind="external", lines=[],
                             note="the external broker runs elsewhere: its log is where it runs")
        return BrokerLog(kind=backend.kind, lines=backend.log_lines(lines))

    # --- status ----------------------------------------------------------------------------------
    def status(self) -> BrokerStatus:
        backend = self._backend
        stats = self._stats()
        connected = self.fleet.connected
        building = self._building
        if building is not None:
            return BrokerStatus(kind="container", state="starting", host=building.host, port=building.port,
                                reason=self._progress, image=building.image, health="starting",
                                login_required=True, fleet_connected=connected)
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
                refused = f" ({self.fleet.last_error})" if self.fleet.last_error else ""
                state, reason = "running", f"{live.reason}; the backend's connection to it is not up yet{refused}"
            else:
                state, reason = "error", live.reason if live else "unreachable"
        fresh = stats.updated_at is not None and state == "running"
        container = backend if isinstance(backend, ContainerBroker) else None
        return BrokerStatus(
            kind=backend.kind, state=state, host=backend.host, port=backend.port, reason=reason, pid=usage.pid,
            container_id=container.container_id if container else None, image=container.image if container else None,
            health=_health(state, connected), login_required=self._backend_login is not None,
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



def _health(state: str, connected: bool) -> BrokerHealth | None:
    """Healthy: running with the backend's connection up; unhealthy: running without it, or in error."""
    if state == "stopped":
        return None
    if state == "starting":
        return "starting"
    return "healthy" if state == "running" and connected else "unhealthy"
