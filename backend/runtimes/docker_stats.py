"""Resource use of the docker runtime's containers, from the engine's stats API, sampled off the supervisor's path.

`docker stats`-style figures from two raw stats samples: CPU % from the container's and the system's CPU time
deltas (times the online CPUs), memory as usage minus the inactive page cache, network bytes summed over the
container's interfaces. A host-networked container has no interfaces of its own, so the engine reports no
network figures for it (None here).

Each engine call takes time (a `stream=False` stats call waits a second for its second sample), so one
`StatsSampler` per Docker host asks for one-shot samples of all of this backend's running containers in a
thread of its own, computes the deltas against its previous sample of each, and keeps the latest result;
`DockerRuntime.resources` only reads it.
"""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

import docker

from backend.runtimes.base import Resources

log = logging.getLogger(__name__)

SAMPLE_INTERVAL = 2.0  # s between two samples of every container on a host


def cpu_percent(stats: dict[str, Any], previous: dict[str, Any] | None = None) -> float | None:
    """CPU use in % of one CPU (200 % = two CPUs busy), as `docker stats` computes it.

    Between `previous` (an earlier raw sample) and `stats`; without `previous`, against the engine's own
    `precpu_stats` in `stats` (what a `stream=False` call fills). None when there is no earlier sample."""
    now = stats.get("cpu_stats") or {}
    before = (previous or {}).get("cpu_stats") if previous is not None else stats.get("precpu_stats")
    before = before or {}
    total_now = (now.get("cpu_usage") or {}).get("total_usage")
    total_before = (before.get("cpu_usage") or {}).get("total_usage")
    system_now, system_before = now.get("system_cpu_usage"), before.get("system_cpu_usage")
    if total_now is None or total_before is None or system_now is None or system_before is None:
        return None
    cpu_delta, system_delta = total_now - total_before, system_now - system_before
    if system_delta <= 0 or cpu_delta < 0:
        return None
    cpus = now.get("online_cpus") or len((now.get("cpu_usage") or {}).get("percpu_usage") or []) or 1
    return round(cpu_delta / system_delta * cpus * 100.0, 1)


def memory_bytes(stats: dict[str, Any]) -> int | None:
    """Memory in use without the page cache the kernel may drop (cgroup v1 and v2 spell it differently)."""
    memory = stats.get("memory_stats") or {}
    usage = memory.get("usage")
    if usage is None:
        return None
    detail = memory.get("stats") or {}
    for key in ("total_inactive_file", "inactive_file"):
        cache = detail.get(key)
        if cache is not None and cache < usage:
            return int(usage - cache)
    return int(usage)


def network_bytes(stats: dict[str, Any]) -> tuple[int | None, int | None]:
    """Bytes received and sent over all the container's interfaces; (None, None) without any (host network)."""
    networks = stats.get("networks")
    if not networks:
        return None, None
    return (sum(int(n.get("rx_bytes", 0)) for n in networks.values()),
            sum(int(n.get("tx_bytes", 0)) for n in networks.values()))


def resources_of(stats: dict[str, Any], previous: dict[str, Any] | None) -> Resources:
    rx, tx = network_bytes(stats)
    return Resources(cpu_percent=cpu_percent(stats, previous), memory_bytes=memory_bytes(stats),
                     network_rx_bytes=rx, network_tx_bytes=tx)


class StatsSampler:
    """The latest resource use of every running container of this backend on one Docker host."""

    def __init__(self, host: str, client: Callable[[], docker.DockerClient], labels: list[str],
                 interval: float = SAMPLE_INTERVAL) -> None:
        self.host = host
        self._client = client
        self._labels = labels
        self.interval = interval
        self._raw: dict[str, dict[str, Any]] = {}
        self._latest: dict[str, Resources] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"hive-docker-stats-{host}", daemon=True)
        self._thread.start()

    def latest(self, container_id: str) -> Resources:
        with self._lock:
            return self._latest.get(container_id, Resources())

    def close(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.sample()
            except Exception as error:  # an engine that does not answer now may answer later
                log.debug("no stats from Docker host %s: %s", self.host, error)
            self._stop.wait(self.interval)

    def sample(self) -> None:
        """One round: a one-shot sample of each running container of ours, and its deltas against the last."""
        client = self._client()
        running = client.containers.list(filters={"label": self._labels, "status": "running"})
        seen: set[str] = set()
        for container in running:
            try:
                raw = client.api.stats(container.id, stream=False, one_shot=True)
            except docker.errors.APIError:
                continue  # it ended meanwhile
            seen.add(container.id)
            with self._lock:
                previous = self._raw.get(container.id)
                self._raw[container.id] = raw
                self._latest[container.id] = resources_of(raw, previous)
        with self._lock:
            for gone in set(self._raw) - seen:
                self._raw.pop(gone, None)
                self._latest.pop(gone, None)
