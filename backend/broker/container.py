"""The broker as a container: Debian's Mosquitto (image.py) on the local Docker engine, with a password.

    <data>/broker/container/mosquitto.conf   listener on host:port, no anonymous clients, the ACL, $SYS, no persistence
    <data>/broker/container/passwd           every login (logins.py), hashed; mode 0600
    <data>/broker/container/acl              what each login may do (access.py); mode 0600

The folder is mounted read-only at /etc/hive-broker; the container runs as the files' owner (not root: when
the backend runs as root, the files are handed to the image's user `hive`, uid 10001). Host networking, so
the listener is the host's; the container is named `hive-broker-<backend id>`, carries Hive's labels, and is
found again by them after a backend restart. It is detached from the backend like the embedded broker.
Its CPU % comes from two stats samples (the last one is kept); who is connected, from its log (ContainerLog).
A login added or removed rewrites passwd and acl and sends the container SIGHUP: Mosquitto reads them again
without dropping a connection (and disconnects a client whose login is gone).
"""
from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import docker
import docker.errors
from docker.models.containers import Container

from backend.broker.base import Liveness, ProcessUsage, answers, port_in_use_error
from backend.broker.clients import Line
from backend.broker.image import BROKER_IMAGE
from backend.broker.mosquitto import MOUNT, mosquitto_conf
from backend.broker.private_files import write_private
from backend.docker.labels import NAME_PREFIX, ROLE, label_filter, ours
from backend.errors import HiveError, OperationFailed, Unavailable
from backend.host import port_in_use
from backend.runtimes.docker_stats import cpu_percent, memory_bytes

IMAGE_USER = 10001  # the image's `hive` user: owns the files when the backend runs as root
START_TIMEOUT = 20.0
STOP_TIMEOUT = 5  # s between SIGTERM and SIGKILL on Stop


class ContainerBroker:
    kind = "container"
    pid = None

    def __init__(self, client: Callable[[], docker.DockerClient], backend_id: str, host: str, port: int,
                 folder: Path, sys_interval: int, access: Callable[[], dict[str, str]],
                 container_id: str | None = None, image: str = BROKER_IMAGE) -> None:
        """`client` gives the local engine's client (DockerHosts.client); `access` the password and ACL files'
        texts (BrokerLogins.files)."""
        self._client = client
        self.backend_id = backend_id
        self.host = host
        self.port = port
        self.folder = folder
        self.sys_interval = sys_interval
        self.access = access
        self.container_id = container_id
        self.image = image
        self.name = f"{NAME_PREFIX}broker-{backend_id}"
        self._stats_lock = threading.Lock()
        self._last_stats: tuple[str, dict] | None = None  # (container id, raw stats): the CPU delta's start
        self._cpu: float | None = None  # CPU % between the last two samples

    @property
    def labels(self) -> dict[str, str]:
        return {**ours(self.backend_id), ROLE: "broker"}

    # --- lifecycle -------------------------------------------------------------------------------
    def start(self) -> None:
        client = self._client()
        for leftover in self._ours(client):  # one of an earlier start, left behind: the name and port must be free
            leftover.remove(force=True)
        if port_in_use(self.host, self.port):
            raise port_in_use_error(self.host, self.port, "the broker container")
        self._write_files()
        try:
            container = client.containers.run(
                self.image, name=self.name, detach=True, network_mode="host", labels=self.labels,
                user=_file_owner(), volumes={str(self.folder): {"bind": MOUNT, "mode": "ro"}},
                restart_policy={"Name": "unless-stopped"},
                log_config={"Type": "json-file", "Config": {"max-size": "5m", "max-file": "2"}},
            )
        except docker.errors.ImageNotFound:
            raise Unavailable("broker_image_missing", f"the broker image {self.image} is not on the Docker engine") \
                from None
        except docker.errors.APIError as error:
            raise OperationFailed("broker_failed", f"the broker container could not be created: "
                                                   f"{error.explanation}") from None
        self.container_id = container.id
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            container.reload()
            if container.status in ("exited", "dead"):
                lines = self.log_lines(3)
                self._remove(container)
                raise OperationFailed("broker_failed",
                                      f"the broker container exited at start with code "
                                      f"{container.attrs['State'].get('ExitCode')}"
                                      + (f": {' | '.join(lines)}" if lines else ""))
            if container.status == "running" and answers(_reachable(self.host), self.port, 0.5):
                return
            time.sleep(0.1)
        self.stop()
        raise OperationFailed("broker_failed", f"the broker container did not listen on {self.host}:{self.port} "
                                               f"within {START_TIMEOUT:.0f} s")

    def _write_files(self) -> None:
        """The config, the password file and the ACL, readable by their owner alone from their first byte."""
        owner = IMAGE_USER if os.geteuid() == 0 else None
        write_private(self.folder, {"mosquitto.conf": mosquitto_conf(self.host, self.port, self.sys_interval, acl=True),
                                    **self.access()}, owner)

    def reload_access(self) -> None:
        """Write the logins and ACL again and have the running Mosquitto read them (SIGHUP: no one is dropped
        but the clients whose login is gone)."""
        self._write_files()
        container = self._container()
        if container is None or container.status != "running":
            return
        try:
            container.kill(signal="SIGHUP")
        except docker.errors.APIError as error:
            raise OperationFailed("broker_failed", f"the broker container did not take the new logins: "
                                                   f"{error.explanation}") from None

    def stop(self) -> None:
        """Stop and remove the container (its logins stay, so running bots log in again at the next start)."""
        try:
            for container in self._ours(self._client()):
                self._remove(container)
        except HiveError:
            return  # the engine is unreachable: nothing can be stopped there

    @staticmethod
    def _remove(container: Container) -> None:
        try:
            container.stop(timeout=STOP_TIMEOUT)
            container.remove(force=True)
        except docker.errors.NotFound:
            pass

    # --- finding it again ------------------------------------------------------------------------
    def _ours(self, client: docker.DockerClient) -> list[Container]:
        """This backend's broker containers, by label, whatever their state."""
        try:
            return client.containers.list(all=True, filters={"label": label_filter(self.labels)})
        except docker.errors.APIError as error:
            raise Unavailable("docker_unreachable", f"the Docker engine did not answer: {error}") from None

    def _container(self) -> Container | None:
        try:
            found = self._ours(self._client())
        except HiveError:
            return None
        for container in found:
            if container.id == self.container_id:
                return container
        return found[0] if found else None

    def adopt(self) -> bool:
        """After a backend restart: our labelled broker container is there and running."""
        container = self._container()
        if container is None or container.status != "running":
            return False
        self.container_id = container.id
        return True

    def liveness(self) -> Liveness:
        try:
            containers = self._ours(self._client())
        except HiveError as error:
            return Liveness(False, f"the broker container cannot be checked: {error.detail}")
        container = next((c for c in containers if c.id == self.container_id), containers[0] if containers else None)
        if container is None:
            return Liveness(False, f"the broker container {self.name} is gone")
        short = container.short_id
        if container.status == "running":
            return Liveness(True, f"broker container {short} running")
        state = container.attrs.get("State", {})
        lines = self.log_lines(1)
        words = f"the broker container {short} is {container.status} (exit code {state.get('ExitCode')})"
        return Liveness(False, words + (f": {lines[0]}" if lines else ""))

    def usage(self) -> ProcessUsage:
        """Uptime; memory, and CPU % since the previous call (None at the first): `docker stats`' figures."""
        container = self._container()
        if container is None or container.status != "running":
            return ProcessUsage()
        started = _timestamp(container.attrs.get("State", {}).get("StartedAt", ""))
        uptime = max(0.0, time.time() - started) if started else None
        try:
            stats = container.stats(stream=False, one_shot=True)
        except docker.errors.APIError:
            return ProcessUsage(uptime_s=uptime)
        with self._stats_lock:  # the sampler and the status both ask: the figure is of the latest two samples
            last = self._last_stats
            previous = last[1] if last is not None and last[0] == container.id else None
            cpu = cpu_percent(stats, previous) if previous is not None else None
            if cpu is not None or previous is None:
                self._last_stats, self._cpu = (container.id, stats), cpu
            # else: taken in the same clock tick as the previous one, or before it: the last figure stands
            return ProcessUsage(uptime_s=uptime, cpu_percent=self._cpu, memory_bytes=memory_bytes(stats))

    def log_since(self, after: int | None) -> tuple[str | None, list[tuple[int, str]]]:
        """The container's id and its log lines logged after `after` (ns since the epoch; every line when None),
        oldest first, each with when it was logged (ns)."""
        container = self._container()
        if container is None:
            return None, []
        try:  # `since` is whole seconds here: the line at `after` and those just before come again, and are skipped
            raw = container.logs(timestamps=True, since=max(1, after // 10**9) if after is not None else None)
        except docker.errors.APIError:
            return container.id, []
        lines = []
        for text in raw.decode("utf-8", "replace").splitlines():
            stamp, _, line = text.partition(" ")
            nanos = _nanoseconds(stamp)
            if nanos is not None and (after is None or nanos > after):
                lines.append((nanos, line))
        return container.id, lines

    def log_lines(self, count: int) -> list[str]:
        """The container's last `count` log lines, oldest first."""
        container = self._container()
        if container is None:
            return []
        try:
            text = container.logs(tail=count).decode("utf-8", "replace")
        except docker.errors.APIError:
            return []
        return [line for line in text.splitlines() if line.strip()]

    def record(self) -> dict:
        return {"kind": self.kind, "host": self.host, "port": self.port, "pid": None, "create_time": None,
                "container_id": self.container_id, "image": self.image}


class ContainerLog:
    """The broker container's new log lines since the last read (clients.FileLog's counterpart): another container
    is read afresh."""

    def __init__(self, broker: ContainerBroker) -> None:
        self.broker = broker
        self._container_id: str | None = None
        self._after: int | None = None  # when the last line read was logged (ns)

    def __call__(self) -> tuple[bool, list[Line]]:
        container_id, lines = self.broker.log_since(self._after)  # a newer container's lines all come after
        fresh = container_id != self._container_id and self._container_id is not None
        self._container_id = container_id
        if lines:
            self._after = lines[-1][0]
        return fresh, [(nanos / 1e9, line) for nanos, line in lines]


def _file_owner() -> str:
    """The user the container runs as: the owner of the files it reads (never root)."""
    uid = os.geteuid()
    return f"{IMAGE_USER}:{IMAGE_USER}" if uid == 0 else f"{uid}:{os.getegid()}"


def _reachable(host: str) -> str:
    return "127.0.0.1" if host in ("0.0.0.0", "", "::") else host


def _nanoseconds(text: str) -> int | None:
    """Docker's RFC 3339 time with nanoseconds (`2026-11-30T02:50:32.123456789Z`) as ns since the epoch."""
    head, _, rest = text.rstrip("Z").partition(".")
    try:
        seconds = datetime.fromisoformat(f"{head}+00:00").timestamp()
    except ValueError:
        return None
    fraction = (rest if rest.isdigit() else "")[:9].ljust(9, "0")
    return int(seconds) * 10**9 + int(fraction)


def _timestamp(text: str) -> float | None:
    """Docker's RFC 3339 times have nanoseconds, which fromisoformat does not take: cut to microseconds."""
    if not text or text.startswith("0001-"):
        return None
    head, _, rest = text.partition(".")
    fraction = "".join(ch for ch in rest if ch.isdigit())[:6]
    try:
        return datetime.fromisoformat(f"{head}.{fraction or '0'}+00:00").timestamp()
    except ValueError:
        return None
