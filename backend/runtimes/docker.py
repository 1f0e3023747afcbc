"""The `docker` runtime: each instance is a container `hive-<name>` on one of the Docker hosts, running hive_core.

On a host whose engine sees this machine's files (a unix:// socket: DockerHost.on_this_machine):
    <data>/instances/<name>/            bind-mounted at /instance (config.yml, strategies/), its working dir
    <data>/instances/<name>/credentials.json   mounted read-only over it, only when the instance has one
    <data>/feed/socket/                 the folder of the host's market-data service's socket (feed/manager.py),
                                        mounted read-only at /run/hive-feed while the service is on: the config
                                        names the socket there (venue.feed), which the container's user may reach
                                        (folder 0711, socket 0666), so market data comes through the service
On any other host (tcp://, ssh://), where the backend's folder does not exist:
    volume `hive-<name>`                mounted at /instance, made anew at every start, and filled before the
                                        container starts with a copy of the folder's config, strategies and
                                        secrets (instance_archive.py: owned by the image's user, secrets 0600)
    volume `hive-<name>-journal`        mounted at /instance/journal and kept from start to start (until the
                                        instance is deleted): a restarted bot still serves what its last run
                                        journaled, so the backend can fetch what it missed (docs/protocol.md)
    (no market-data service: its socket is on this machine, so instances there take their own venue connections)

The container runs the image's hive_core (`python -m hive_core run --config /instance/config.yml`) as a
non-root user, under the engine's init (docker-init as PID 1, so SIGTERM reaches hive_core and a stop takes
as long as hive_core's own shutdown), on a read-only root filesystem (tmpfs /tmp), without capabilities or
privilege gains, within its limits (CPUs, memory with no swap beyond it, pids, a rotated json-file log).
Host networking by default, so it meets the broker at the address the backend gave it.

Labels mark it (and its volume) as this backend's (labels.MANAGED, BACKEND, INSTANCE, ROLE=instance); every lookup
checks them, so a container or volume that is not ours is never stopped, adopted or removed. The handle stored
with the instance is the host's name, the container's id and name, and its volume's name on a remote host. An
ended container is kept (with its volume) until the instance starts again or is deleted, so its exit code, OOM
flag and log can still be read.
"""
from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import docker
import docker.errors
import paramiko
from docker.models.containers import Container
from docker.models.volumes import Volume
from docker.types import LogConfig

from backend.docker import labels
from backend.docker.hosts import DockerHosts
from backend.domain.instances import InstanceCreate
from backend.errors import Conflict, InvalidInput, NotFound, Unavailable
from backend.runtimes.base import ProcessState, Resources, exit_words
from backend.runtimes.config_file import CONFIG_NAME, CREDENTIALS_NAME, JOURNAL_DIR
from backend.runtimes.docker_stats import StatsSampler
from backend.runtimes.exit_reason import TAIL_LINES, error_line
from backend.runtimes.instance_archive import instance_archive

log = logging.getLogger(__name__)

CONTAINER_ROOT = Path("/instance")  # where a container sees its instance's folder
FEED_MOUNT = Path("/run/hive-feed")  # where a container on this machine sees the market-data service's socket folder
JOURNAL_SUFFIX = "-journal"  # the kept journal volume of an instance on a remote host: hive-<name>-journal
IMAGE_UID = 10001  # the image's user `hive` (deploy/Dockerfile): the folder is handed to it when we are root
IMAGE_USER = f"{IMAGE_UID}:{IMAGE_UID}"
LOG_FILES = 3  # json-file log: this many files of `log_max_mb` each
RUNNING = ("created", "running", "restarting", "paused")
MIB = 1024 * 1024


def container_name(instance: str) -> str:
    return f"{labels.NAME_PREFIX}{instance}"


def journal_volume_name(instance: str) -> str:
    return f"{container_name(instance)}{JOURNAL_SUFFIX}"


def exit_code_of(code: int | None) -> int | None:
    """A container's exit code as the process runtime reports one: 128+N (the init's way to say 'killed by
    signal N') becomes -N, so both runtimes say 'killed by SIGKILL'."""
    if code is not None and 128 < code <= 128 + 64:
        return 128 - code
    return code


def describe_container_exit(state: dict[str, Any], memory_limit: int | None, line: str) -> str:
    """The end of a container in words: the OOM kill with its limit, else the exit code or signal; then the log
    line that names the error (exit_reason.py)."""
    if state.get("OOMKilled"):
        limit = f" (limit {memory_limit // MIB} MiB)" if memory_limit else ""
        words = f"killed: out of memory{limit}"
    else:
        words = exit_words(exit_code_of(state.get("ExitCode")))
    return f"{words}: {line}" if line else words


class DockerRuntime:
    name = "docker"

    def __init__(self, hosts: DockerHosts, backend_id: str, default_image: str, network: str | None = None,
                 feed_socket: Path | None = None) -> None:
        """`network`: a named Docker network for the containers (a deployment's choice, made outside Hive);
        None is host networking. `feed_socket`: the host's market-data service's socket, whose folder containers on
        this machine are shown; None when the service is off."""
        self.hosts = hosts
        self.backend_id = backend_id
        self.default_image = default_image
        self.network = network
        self.feed_socket = feed_socket
        self._ours = labels.ours(backend_id)
        self._samplers: dict[str, StatsSampler] = {}
        self._lock = threading.Lock()

    # --- reaching an engine ----------------------------------------------------------------------
    @contextmanager
    def _engine(self, host: str) -> Iterator[docker.DockerClient]:
        """The host's client; an engine that does not answer becomes Unavailable naming the host and its URL."""
        try:
            url = self.hosts.get(host).url
        except NotFound as error:
            raise InvalidInput("unknown_host", error.detail) from None
        try:
            yield self.hosts.client(host)
        except docker.errors.APIError:
            raise  # the engine answered: with a refusal
        except (OSError, paramiko.SSHException) as error:  # the SDK's connection errors and timeouts are OSErrors,
            # an ssh:// host's lost connection or refused session SSHExceptions: nothing answered
            raise Unavailable("docker_unreachable",
                              f"Docker host {host!r} ({url}) does not answer: {error}; start its engine, or choose "
                              "another host") from None

    def _container(self, client: docker.DockerClient, handle: dict[str, Any]) -> Container | None:
        """The handle's container when it exists and is ours; None otherwise."""
        try:
            container = client.containers.get(handle["container_id"])
        except docker.errors.NotFound:
            return None
        return container if self._is_ours(container.labels) else None

    def _is_ours(self, found: dict[str, str] | None) -> bool:
        """Labels (a container's or a volume's) that mark this backend's."""
        return all((found or {}).get(key) == value for key, value in self._ours.items())

    # --- before creating -------------------------------------------------------------------------
    def check(self, spec: InstanceCreate) -> InstanceCreate:
        """The host answers and has the image, and the instance's container (and volume) names are free or ours; the
        spec names the image (the default one when it named none), so the instance keeps running the same image after
        a backend upgrade."""
        image = spec.image or self.default_image
        with self._engine(spec.host) as client:
            try:
                self._not_taken(client.containers.get(container_name(spec.name)), spec.name)
            except docker.errors.NotFound:
                pass
            if not self.hosts.get(spec.host).on_this_machine:
                try:
                    self._volume_not_taken(client.volumes.get(container_name(spec.name)), spec.name, spec.host)
                except docker.errors.NotFound:
                    pass
            try:
                client.images.get(image)
            except docker.errors.ImageNotFound:
                raise InvalidInput("image_not_found",
                                   f"image {image!r} is not on Docker host {spec.host!r} "
                                   f"({self.hosts.get(spec.host).url}); build it there (`make image`, or POST "
                                   "/images/build) and create the instance again; nothing is pulled") from None
        return spec.model_copy(update={"image": image})

    def instance_root(self, folder: Path) -> Path:
        return CONTAINER_ROOT

    def reads_live_folder(self, spec: InstanceCreate) -> bool:
        """A host on this machine bind-mounts the folder; a remote one gets a copy made at the start."""
        return self.hosts.get(spec.host).on_this_machine

    def broker_address(self, spec: InstanceCreate, default: tuple[str, int]) -> tuple[str, int]:
        """The host's broker_host (at the broker's port) when it has one: how containers there reach the broker;
        else the backend's own address."""
        broker_host = self.hosts.get(spec.host).broker_host
        return (broker_host, default[1]) if broker_host else default

    def feed_address(self, spec: InstanceCreate, default: str | None) -> str | None:
        """The service's socket in the folder mounted at FEED_MOUNT, on a host of this machine while the service
        runs; a remote host's containers cannot reach a socket here, and take their own connections."""
        if default is None or self.feed_socket is None or not self.hosts.get(spec.host).on_this_machine:
            return None
        return f"unix:{FEED_MOUNT / self.feed_socket.name}"

    # --- start -----------------------------------------------------------------------------------
    def start(self, name: str, instance_dir: Path, config_path: Path,
              spec: InstanceCreate | None = None) -> dict[str, Any]:
        if spec is None:
            raise ValueError("the docker runtime starts an instance from its spec")
        image_name = spec.image or self.default_image
        with self._engine(spec.host) as client:
            remote = not self.hosts.get(spec.host).on_this_machine
            self._remove_leftover(client, name)
            try:
                image = client.images.get(image_name)
            except docker.errors.ImageNotFound:
                raise InvalidInput("image_not_found",
                                   f"image {image_name!r} is no longer on Docker host {spec.host!r}; build it "
                                   "there (`make image`, or POST /images/build)") from None
            image_ready_at = time.time()
            volume = self._fresh_volume(client, name, spec.host) if remote else None
            if remote:
                self._journal_volume(client, name, spec.host)
            user = IMAGE_USER if remote else self._hand_over(instance_dir)
            container = None
            try:
                container = client.containers.create(image_name, **self._options(
                    spec, name, image, instance_dir, user, volume.name if volume is not None else None))
                if volume is not None:  # the tar's owners decide: nothing here can chown files over there
                    container.put_archive(str(CONTAINER_ROOT), instance_archive(instance_dir, IMAGE_UID))
                container.start()
            except docker.errors.APIError:
                if container is not None:
                    container.remove(force=True)
                if volume is not None:
                    volume.remove(force=True)
                raise
            container.reload()
        self._sampler(spec.host)
        log.info("started container %s (%s) of instance %s on Docker host %s%s", container.name,
                 container.short_id, name, spec.host, f" with its files in volume {volume.name}" if volume else "")
        handle = {"host": spec.host, "container_id": container.id, "name": container.name,
                  "pid": container.attrs["State"].get("Pid") or None, "image_id": image.id,
                  "image_version": image.labels.get(labels.VERSION, ""), "image_ready_at": image_ready_at}
        if volume is not None:
            handle["volume"] = volume.name
        return handle

    def _options(self, spec: InstanceCreate, name: str, image: Any, instance_dir: Path, user: str,
                 volume: str | None = None) -> dict[str, Any]:
        """The container's settings; its files are `volume` at /instance when given, else bind mounts of
        `instance_dir` (and of its credentials file, read-only), and of the market-data service's socket folder
        (read-only: connecting needs no write access to it)."""
        limits = spec.limits
        if volume is not None:
            volumes = {volume: {"bind": str(CONTAINER_ROOT), "mode": "rw"},
                       journal_volume_name(name): {"bind": str(CONTAINER_ROOT / JOURNAL_DIR), "mode": "rw"}}
        else:
            volumes = {str(instance_dir): {"bind": str(CONTAINER_ROOT), "mode": "rw"}}
            credentials = instance_dir / CREDENTIALS_NAME
            if credentials.exists():
                volumes[str(credentials)] = {"bind": str(CONTAINER_ROOT / CREDENTIALS_NAME), "mode": "ro"}
            feed_folder = self.feed_socket.parent if self.feed_socket is not None else None
            if feed_folder is not None and feed_folder.is_dir():  # a missing one the engine would make, as root
                volumes[str(feed_folder)] = {"bind": str(FEED_MOUNT), "mode": "ro"}
        options: dict[str, Any] = dict(
            name=container_name(name),
            command=["run", "--config", str(CONTAINER_ROOT / CONFIG_NAME)],
            labels={**self._ours, labels.INSTANCE: name, labels.ROLE: "instance", labels.IMAGE: image.tags[0]
                    if image.tags else image.id, labels.VERSION: image.labels.get(labels.VERSION, "")},
            user=user, working_dir=str(CONTAINER_ROOT), environment={"HOME": "/tmp"},
            volumes=volumes, init=True, read_only=True, tmpfs={"/tmp": "rw,nosuid,nodev,size=64m"},
            cap_drop=["ALL"], security_opt=["no-new-privileges"],
            log_config=LogConfig(type=LogConfig.types.JSON,
                                 config={"max-size": f"{limits.log_max_mb}m", "max-file": str(LOG_FILES)}),
            stdin_open=False, detach=True,
        )
        if self.network is None:
            options["network_mode"] = "host"
        else:
            options["network"] = self.network
        if limits.cpus is not None:
            options["nano_cpus"] = int(limits.cpus * 1e9)
        if limits.memory_mb is not None:
            options["mem_limit"] = options["memswap_limit"] = limits.memory_mb * MIB
        if limits.pids is not None:
            options["pids_limit"] = limits.pids
        return options

    @staticmethod
    def _hand_over(instance_dir: Path) -> str:
        """The container's user, and its folder made that user's: the image's unprivileged user when the backend
        is root (the files are chowned to it), else the backend's own uid:gid (its files are readable as they are)."""
        if os.geteuid() != 0:
            return f"{os.getuid()}:{os.getgid()}"
        for path in [instance_dir, *instance_dir.rglob("*")]:
            os.chown(path, IMAGE_UID, IMAGE_UID, follow_symlinks=False)
        return IMAGE_USER

    def _fresh_volume(self, client: docker.DockerClient, name: str, host: str) -> Volume:
        """The instance's volume, empty: the last run's (its container is gone by now) is removed, so what the
        container sees is this start's files and nothing left from before (an old broker login)."""
        volume_name = container_name(name)
        try:
            old = client.volumes.get(volume_name)
        except docker.errors.NotFound:
            pass
        else:
            self._volume_not_taken(old, name, host)
            old.remove()
        return client.volumes.create(volume_name, labels={**self._ours, labels.INSTANCE: name,
                                                          labels.ROLE: "instance"})

    def _journal_volume(self, client: docker.DockerClient, name: str, host: str) -> Volume:
        """The instance's journal volume: the one its earlier runs wrote (kept), or a new one."""
        volume_name = journal_volume_name(name)
        try:
            volume = client.volumes.get(volume_name)
        except docker.errors.NotFound:
            return client.volumes.create(volume_name, labels={**self._ours, labels.INSTANCE: name,
                                                              labels.ROLE: "journal"})
        self._volume_not_taken(volume, name, host)
        return volume

    def _remove_leftover(self, client: docker.DockerClient, name: str) -> None:
        """The ended container of this instance's last run goes before a new one takes its name; a container of
        that name that is not ours is left alone, and the start refused."""
        try:
            old = client.containers.get(container_name(name))
        except docker.errors.NotFound:
            return
        self._not_taken(old, name)
        old.remove(force=True)

    def _not_taken(self, container: Container, name: str) -> None:
        """A container under the instance's container name must be this instance's."""
        if not self._is_ours(container.labels) or container.labels.get(labels.INSTANCE) != name:
            raise Conflict("container_name_taken",
                           f"a container named {container_name(name)!r} exists and is not this backend's; "
                           "rename or remove it, or give the instance another name")

    def _volume_not_taken(self, volume: Volume, name: str, host: str) -> None:
        """A volume under the instance's volume name must be this instance's: anyone else's is never emptied."""
        found = volume.attrs.get("Labels") or {}
        if not self._is_ours(found) or found.get(labels.INSTANCE) != name:
            raise Conflict("volume_name_taken",
                           f"a volume named {volume.name!r} exists on Docker host {host!r} and is not this backend's; "
                           "rename or remove it, or give the instance another name")

    # --- finding containers ----------------------------------------------------------------------
    def adopt(self, handle: dict[str, Any]) -> bool:
        with self._engine(handle["host"]) as client:
            container = self._container(client, handle)
            if container is None or container.status not in RUNNING:
                return False
        self._sampler(handle["host"])
        return True

    def poll(self, handle: dict[str, Any]) -> ProcessState:
        with self._engine(handle["host"]) as client:
            container = self._container(client, handle)
            if container is None:
                return ProcessState(alive=False, detail=f"its container {handle['name']} is gone")
            state = container.attrs["State"]
            if container.status in RUNNING:
                handle["pid"] = state.get("Pid") or None  # the orchestrator keeps a locator that changed
                return ProcessState(alive=True)
            memory = container.attrs["HostConfig"].get("Memory") or None
            code = exit_code_of(state.get("ExitCode"))
            line = error_line(self._last_lines(container, TAIL_LINES), code)
            return ProcessState(alive=False, exit_code=code, detail=describe_container_exit(state, memory, line))

    def pid(self, handle: dict[str, Any]) -> int | None:
        """The container's main process (the init) as the host sees it, noted at start and on each poll."""
        return handle.get("pid")

    def last_lines(self, handle: dict[str, Any], count: int) -> list[str]:
        with self._engine(handle["host"]) as client:
            container = self._container(client, handle)
            return self._last_lines(container, count) if container is not None else []

    @staticmethod
    def _last_lines(container: Container, count: int) -> list[str]:
        text = container.logs(tail=count * 4).decode(errors="replace")  # some lines are empty
        return [line for line in text.splitlines() if line.strip()][-count:]

    def strays(self, known: set[str]) -> list[str]:
        """Containers of this backend (on every host that answers) whose instance has no row."""
        found = []
        for host in self.hosts.names():
            try:
                with self._engine(host) as client:
                    containers = client.containers.list(all=True, filters={"label": labels.label_filter(
                        {**self._ours, labels.ROLE: "instance"})})
            except Unavailable as error:
                log.warning("cannot look for this backend's containers: %s", error.detail)
                continue
            found += [f"{c.name} ({c.short_id}, {c.status}) on Docker host {host}" for c in containers
                      if c.labels.get(labels.INSTANCE) not in known]
        return found

    # --- stopping and removing -------------------------------------------------------------------
    def terminate(self, handle: dict[str, Any]) -> None:
        """SIGTERM to the init, which hands it to hive_core; the supervisor sends SIGKILL after the stop grace."""
        self._signal(handle, "SIGTERM")

    def kill(self, handle: dict[str, Any]) -> None:
        self._signal(handle, "SIGKILL")

    def _signal(self, handle: dict[str, Any], signal: str) -> None:
        with self._engine(handle["host"]) as client:
            container = self._container(client, handle)
            if container is None:
                return
            try:
                container.kill(signal=signal)
            except docker.errors.APIError as error:
                if error.status_code != 409:  # 409: it is not running (any more)
                    raise

    def remove(self, handle: dict[str, Any]) -> None:
        """The container, and on a remote host its volumes (files and journal), when they are ours."""
        with self._engine(handle["host"]) as client:
            container = self._container(client, handle)
            if container is not None:
                container.remove(force=True)
            if "volume" in handle:
                for volume_name in (handle["volume"], f"{handle['volume']}{JOURNAL_SUFFIX}"):
                    try:
                        volume = client.volumes.get(volume_name)
                    except docker.errors.NotFound:
                        continue
                    if self._is_ours(volume.attrs.get("Labels")):
                        volume.remove()

    # --- resource use ----------------------------------------------------------------------------
    def resources(self, handle: dict[str, Any]) -> Resources:
        """The latest sample of the host's stats thread (never an engine call here)."""
        return self._sampler(handle["host"]).latest(handle["container_id"])

    def _sampler(self, host: str) -> StatsSampler:
        with self._lock:
            sampler = self._samplers.get(host)
            if sampler is None:
                sampler = self._samplers[host] = StatsSampler(
                    host, lambda: self.hosts.client(host),
                    labels.label_filter({**self._ours, labels.ROLE: "instance"}))
            return sampler

    def close(self) -> None:
        with self._lock:
            samplers = list(self._samplers.values())
            self._samplers.clear()
        for sampler in samplers:
            sampler.close()
