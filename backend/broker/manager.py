"""The broker the backend uses: which one, whether it runs, and its health, for the Broker page.

One broker at a time: the embedded one (amqtt), a Mosquitto container, or an external one. The choice and
the operator's intent (running / stopped) are kept in the store, so that a restarted backend finds the
embedded broker or the container again (both are detached) or reconnects to the external one.

Logins (logins.py): the embedded broker and the container refuse clients without one; the backend logs in
as `hive-backend` (an external broker: with the login the operator gave, if any), each instance with its own,
confined by the ACL to its own topics (access.py), handed to it in a file of its own (never in its config,
never in an API answer). A login made or removed rewrites the broker's files and the broker reads them again
live (`sync_access`): no broker restart, no bot dropped. For an external broker the same files are written
for the operator to install (`access_setup`).

Who is connected is read from the broker's log (clients.py; an external broker's log is not ours: the bots the
backend hears on it are listed instead), and the broker's figures are sampled every few seconds (`sample`,
metrics.py) for the Broker page's chart.
"""
from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from typing import Literal, Protocol

from backend.broker.base import BrokerBackend, BrokerStats, accepts_anonymous
from backend.broker.clients import ClientFollower, Connected, FileLog
from backend.broker.container import ContainerBroker, ContainerLog
from backend.broker.embedded import EmbeddedBroker
from backend.broker.external import ExternalBroker
from backend.broker.image import BROKER_IMAGE, build_broker_image, image_present
from backend.broker.logins import HIVE_ACTOR, BrokerLogins, Sealer, audit
from backend.broker.metrics import BrokerMetrics
from backend.broker.mosquitto import Login
from backend.broker.private_files import write_private
from backend.docker.hosts import LOCAL, DockerHosts
from backend.docker.labels import backend_id
from backend.domain.broker import (
    BrokerAccessSetup,
    BrokerClient,
    BrokerClients,
    BrokerHealth,
    BrokerLog,
    BrokerLoginCreate,
    BrokerLoginCreated,
    BrokerLoginOut,
    BrokerMetricsPoint,
    BrokerStatus,
)
from backend.errors import Conflict, HiveError
from backend.settings import Settings
from backend.store import BrokerRow, Store
from backend.store.repositories.broker import BrokerRepository

log = logging.getLogger(__name__)
FLEET_CONNECT_WAIT = 5.0
ANONYMOUS_RECHECK = 60.0  # s between two anonymous-CONNECT checks of the broker in use
HeardBots = Callable[[], list[tuple[str, float | None, float | None]]]  # (bot, first heard, last heard)


class FleetLink(Protocol):
    """What the broker manager needs of the fleet's MQTT connection: point it at the broker in use."""

    @property
    def connected(self) -> bool: ...

    @property
    def last_error(self) -> str: ...

    def connect(self, host: str, port: int, force: bool = False, login: tuple[str, str] | None = None) -> None: ...

    def disconnect(self) -> None: ...

    def wait_connected(self, timeout: float) -> bool: ...


class BrokerManager:
    def __init__(self, settings: Settings, store: Store, fleet: FleetLink, stats: Callable[[], BrokerStats],
                 docker: DockerHosts, sealer: Sealer, heard: HeardBots = list) -> None:
        """`fleet` is the fleet's connection, `stats` gives the broker's $SYS statistics as the fleet heard them,
        `docker` the engines (the container runs on the local one), `sealer` encrypts the broker's logins, `heard`
        the bots the fleet heard (who is on an external broker)."""
        self.settings = settings
        self.store = store
        self.fleet = fleet
        self._stats = stats
        self.docker = docker
        self.sealer = sealer
        self.logins = BrokerLogins(store, sealer, settings.namespace())
        self.access_dir = settings.data_dir / "broker" / "access"  # the files every broker kind reads
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
        self._anonymous: tuple[float, tuple[str, int], bool | None] | None = None  # (checked at, where, accepted)
        self._heard = heard
        self._followers: dict[str, ClientFollower] = {}  # broker kind -> who is connected, from its log
        self.metrics = BrokerMetrics(settings.broker_metrics_interval)

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
                self._sync_access_logged()
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
            self._backend_login = self._external_login(row)
            return ExternalBroker(row.host, row.port)
        self._backend_login = self.logins.backend()
        if row.kind == "container":
            return self._container(row.port, row.container_id, row.image)
        return self._embedded(row.port, row.pid, row.create_time)

    def _embedded(self, port: int, pid: int | None = None, create_time: float | None = None) -> EmbeddedBroker:
        return EmbeddedBroker(self.settings.broker_host, port, self.settings.data_dir / "broker", self._access_files,
                              self.settings.broker_sys_interval, pid, create_time)

    def _container(self, port: int, container_id: str | None = None, image: str | None = None) -> ContainerBroker:
        return ContainerBroker(lambda: self.docker.client(LOCAL), self.backend_id, self.settings.broker_host, port,
                               self.settings.data_dir / "broker" / "container", self.settings.broker_sys_interval,
                               self._access_files, container_id, image or self.image)

    # --- logins ----------------------------------------------------------------------------------
    def _external_login(self, row: BrokerRow) -> Login | None:
        if not row.external_login:
            return None
        return Login(**json.loads(self.sealer.open_text(row.external_login, "external broker's login")))

    def _access_files(self) -> dict[str, str]:
        """The password and ACL files' texts: every login, and the login the backend uses on an external broker."""
        login = self._backend_login
        return self.logins.files(login if isinstance(self._backend, ExternalBroker) else None)

    def sync_access(self) -> None:
        """Write the logins and ACL (<data>/broker/access) and have the broker in use enforce them now, live."""
        with self._lock:
            write_private(self.access_dir, self._access_files())
            backend = self._backend
            if backend is not None and self._desired == "running" and not isinstance(backend, EmbeddedBroker):
                backend.reload_access()  # the embedded broker reads access_dir itself

    def _sync_access_logged(self) -> None:
        try:
            self.sync_access()
        except (HiveError, OSError) as error:
            log.error("the broker's logins could not be brought up to date: %s",
                      error.detail if isinstance(error, HiveError) else error)

    def instance_login(self, name: str) -> tuple[str, str]:
        """The (username, password) instance `name` logs in with: its own (made, and given to the broker in use
        live, the first time)."""
        login, made = self.logins.instance(name)
        if made:
            self._sync_access_logged()
        return login.username, login.password

    def create_login(self, spec: BrokerLoginCreate, actor: str) -> BrokerLoginCreated:
        """An extra login (a bot's, or a controller's), enforced by the broker in use at once."""
        created = self.logins.create(spec, actor)
        self._sync_access_logged()
        return created

    def revoke_login(self, username: str, actor: str) -> None:
        """Remove an extra login; the broker in use refuses it from now on."""
        self.logins.revoke(username, actor)
        self._sync_access_logged()

    def forget_instance(self, name: str) -> None:
        """Instance `name` is deleted: its login goes, and the broker in use refuses it from now on."""
        if self.logins.forget_instance(name):
            self._sync_access_logged()

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
    def start(self, port: int | None = None, kind: Literal["embedded", "container"] = "embedded",
              actor: str = HIVE_ACTOR) -> BrokerStatus:
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
            self._audit(actor, "start_requested", f"{kind} broker on port {port}")
            if kind == "embedded":
                self._launch(self._embedded(port))
            else:
                backend = self._container(port)
                if not image_present(self.docker.client(LOCAL), backend.image):
                    self._build_then_launch(backend)
                    return self.status()
                self._launch(backend)
        self.fleet.wait_connected(FLEET_CONNECT_WAIT)
        return self.status()

    def _launch(self, backend: EmbeddedBroker | ContainerBroker) -> None:
        """Start it with every login and the ACL, remember it and point the fleet's connection at it."""
        self._starting = True
        try:
            self._backend_login = self.logins.backend()
            self._backend = backend  # before its start: its files name the backend's login
            backend.start()
        except HiveError as error:
            if error.code != "port_in_use":
                self._set(backend, "stopped", error.detail)
            raise
        finally:
            self._starting = False
        self._set(backend, "running", "started by operator")
        write_private(self.access_dir, self._access_files())
        self._anonymous = None
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
                        self._launch(backend)
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

    def stop(self, actor: str = HIVE_ACTOR) -> BrokerStatus:
        with self._lock:
            self._audit(actor, "stop_requested", "")
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
                     password: str | None = None, actor: str = HIVE_ACTOR) -> BrokerStatus:
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
            self._audit(actor, "external_chosen", f"{host}:{port}" + (f" as {username}" if username else ""))
            login = Login(username, password or "") if username else None
            self._backend_login = login
            self._set(backend, "running", "external broker chosen by operator", external_login=login)
            self._anonymous = None
            self._sync_access_logged()
            self._connect_fleet(port, force=True)
        self.fleet.wait_connected(FLEET_CONNECT_WAIT)
        return self.status()

    def _set(self, backend: BrokerBackend, desired: str, reason: str, external_login: Login | None = None) -> None:
        """Remember the broker and the operator's intent; an external broker's login is stored encrypted (it
        replaces the one before)."""
        self._backend, self._desired, self._reason = backend, desired, reason
        record = backend.record()
        with self.store.session() as session:
            row = BrokerRepository(session).get_or_add()
            row.kind, row.host, row.port = record["kind"], record["host"], record["port"]
            row.pid, row.create_time = record["pid"], record["create_time"]
            row.container_id, row.image = record.get("container_id"), record.get("image")
            row.desired, row.reason = desired, reason
            row.started_at = time.time() if desired == "running" else row.started_at
            if record["kind"] == "external" and desired == "running":
                row.external_login = self.sealer.seal_text(json.dumps(
                    {"username": external_login.username, "password": external_login.password})) \
                    if external_login is not None else None

    def _audit(self, actor: str, outcome: str, detail: str) -> None:
        with self.store.session() as session:
            audit(session, actor, outcome, detail)

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
        anonymous = self._accepts_anonymous(backend) if state == "running" else None
        if anonymous:
            reason += ("; WARNING: it accepts clients without a login, so any process that reaches it can read "
                       "and command every bot" + (": install Hive's logins and ACL (GET /broker/access)"
                                                  if backend.kind == "external" else ": stop and start it again"))
        return BrokerStatus(
            kind=backend.kind, state=state, host=backend.host, port=backend.port, reason=reason, pid=usage.pid,
            container_id=container.container_id if container else None, image=container.image if container else None,
            health=_health(state, connected), login_required=self._backend_login is not None,
            anonymous_allowed=anonymous,
            uptime_s=usage.uptime_s if usage.uptime_s is not None else (stats.uptime_s if fresh else None),
            clients_connected=stats.clients_connected if fresh else None,
            messages_received=stats.messages_received if fresh else None,
            messages_sent=stats.messages_sent if fresh else None,
            messages_per_s=stats.messages_per_s if fresh else None,
            cpu_percent=usage.cpu_percent, memory_bytes=usage.memory_bytes, fleet_connected=connected,
        )

    def _accepts_anonymous(self, backend: BrokerBackend) -> bool | None:
        """Whether the broker in use takes a CONNECT without a login; checked at most every ANONYMOUS_RECHECK s."""
        where = (self._connect_host(), backend.port)
        known = self._anonymous
        if known is not None and known[1] == where and time.monotonic() - known[0] < ANONYMOUS_RECHECK \
                and known[2] is not None:
            return known[2]
        accepted = accepts_anonymous(*where)
        self._anonymous = (time.monotonic(), where, accepted)
        if accepted:
            log.warning("the %s broker at %s:%s accepts clients without a login", backend.kind, *where)
        return accepted

    def access_setup(self) -> BrokerAccessSetup:
        """How to have an external broker enforce Hive's logins and ACL: the files (kept up to date here), the
        mosquitto.conf lines, the steps; and whether the broker in use takes anonymous clients."""
        if not (self.access_dir / "acl").exists():
            self.sync_access()
        backend = self._backend
        running = backend is not None and self._desired == "running"
        passwd, acl = self.access_dir / "passwd", self.access_dir / "acl"
        login = self._backend_login
        steps = [
            f"copy {passwd} and {acl} to the broker's machine (they are 0600: keep them readable by the broker "
            "alone), e.g. to /etc/mosquitto/hive/",
            "in mosquitto.conf, on the listener Hive uses, set the lines below (paths where you copied the files)",
            "reload the broker: `kill -HUP <mosquitto pid>` (or `systemctl reload mosquitto`); no client is dropped "
            "but the ones without a valid login",
            "copy the files again after each instance created or deleted and each broker login made or revoked "
            "on the Broker page, then reload (the files here are always up to date)",
            "EMQX: import the same users (built-in database authentication, PBKDF2 SHA512, 1000 iterations) and ACL "
            "rules as docs/protocol.md (Broker logins and ACL) lists them, and set allow_anonymous = false",
        ]
        if isinstance(backend, ExternalBroker) and login is None:
            steps.append("the backend connects without a login now: once the broker requires one, give the "
                         "backend a controller login (made on this page) in 'Use an external broker'")
        return BrokerAccessSetup(
            password_file=str(passwd), acl_file=str(acl),
            mosquitto_lines=["allow_anonymous false", "password_file /etc/mosquitto/hive/passwd",
                             "acl_file /etc/mosquitto/hive/acl"],
            steps=steps, anonymous_allowed=self._accepts_anonymous(backend) if running and backend else None)

    # --- who is connected, and the figures over time ----------------------------------------------
    def clients(self, limit: int) -> BrokerClients:
        """The clients connected to the broker in use (at most `limit` of them, by client id), each with the part
        of Hive or the bot its login is."""
        backend = self._backend
        if backend is None or self._desired != "running":
            return BrokerClients(kind=backend.kind if backend else "embedded", source="none", total=0, clients=[],
                                 note="no broker runs")
        if backend.kind == "external":
            heard = self._heard()
            return BrokerClients(
                kind="external", source="heard", total=len(heard),
                clients=[BrokerClient(bot=bot, who=f"bot {bot}", since=first, last_heard=last)
                         for bot, first, last in heard[:limit]],
                note="an external broker tells nobody who is connected to it: these are the bots the backend has "
                     "heard on it since it connected (its own connection included in the broker's client count)")
        connected, untracked = self._follower(backend).connected()
        logins = {login.username: login for login in self.logins.all()}
        return BrokerClients(kind=backend.kind, source="broker_log", total=len(connected), untracked=untracked,
                             clients=[_client(item, logins.get(item.username or "")) for item in connected[:limit]])

    def left_clients(self) -> list[tuple[str, float]]:
        """The clients that left the broker in use since the last call and are not back, (client id, when), as its
        log says; none for an external broker, which has no log to follow (there a bot's Last Will is the sign)."""
        backend = self._backend
        if backend is None or self._desired != "running" or self._starting or backend.kind == "external":
            return []
        return self._follower(backend).left()

    def _follower(self, backend: BrokerBackend) -> ClientFollower:
        follower = self._followers.get(backend.kind)
        if follower is None:
            source = ContainerLog(backend) if isinstance(backend, ContainerBroker) else \
                FileLog(backend.log_file) if isinstance(backend, EmbeddedBroker) else None
            if source is None:
                raise TypeError(f"no log to follow for a {backend.kind} broker")
            follower = self._followers[backend.kind] = ClientFollower(source)
        return follower

    def sample(self) -> None:
        """One point of the broker's figures, while a broker runs (the backend's sampler calls it every few s)."""
        backend = self._backend
        if backend is None or self._desired != "running" or self._starting:
            return
        stats, usage, now = self._stats(), backend.usage(), time.time()
        fresh = stats.updated_at is not None and now - stats.updated_at < 3 * self.settings.broker_sys_interval + 5
        self.metrics.add(BrokerMetricsPoint(
            ts=now, messages_per_s=stats.messages_per_s if fresh else None,
            clients_connected=stats.clients_connected if fresh else None, cpu_percent=usage.cpu_percent,
            memory_bytes=usage.memory_bytes))

    def _running_reason(self, stats_at: float | None) -> str:
        if stats_at is None:
            return "running; the backend is connected, broker statistics not received yet"
        return f"running; statistics received {max(0.0, time.time() - stats_at):.0f} s ago"


def _client(connected: Connected, login: BrokerLoginOut | None) -> BrokerClient:
    """A connected client with what its login says it is."""
    if login is None:
        who = "a login Hive does not know" if connected.username else "a client without a login"
    elif login.role == "backend":
        who = "the backend"
    elif login.role == "controller":
        who = f"controller {login.username}"
    else:
        who = f"{login.role} {login.scope}"
    return BrokerClient(client_id=connected.client_id, username=connected.username,
                        role=login.role if login else None, bot=login.scope if login else None, who=who,
                        address=connected.address, since=connected.since)


def _health(state: str, connected: bool) -> BrokerHealth | None:
    """Healthy: running with the backend's connection up; unhealthy: running without it, or in error."""
    if state == "stopped":
        return None
    if state == "starting":
        return "starting"
    return "healthy" if state == "running" and connected else "unhealthy"
