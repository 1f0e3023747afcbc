"""Density benchmark: one hive instance with N strategies against N hive instances with one strategy each.

Both sides run the same shipped strategy against one shared standalone simulated venue and one MQTT
broker (neither is measured), one side after the other in the same run. Once every instance of a side
has said "online" over MQTT, the side is measured over the same window: total memory (USS and PSS),
CPU seconds spent in the window, and open network connections. A connection counts when its far end
is another process: paho-mqtt's internal wake-up socket pair (both ends in the same process) does not.

An instance is a local process here; benchmarks/containers.py launches the same sides as containers
through a `Launcher` of its own.
"""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

import paho.mqtt.client as mqtt
import psutil
import yaml

from hive_core.remote.nodelay import nodelay

STRATEGY = "market_maker"
READY_TIMEOUT_S = 300.0
STOP_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class SideFigures:
    n: int
    layout: str              # "1 process" or "N processes" (or containers)
    processes: int           # instances started
    uss_mb: float
    pss_mb: float
    cpu_s: float
    sockets: int


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for_port(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout} s")


def _stop(processes: list[subprocess.Popen]) -> None:
    for process in processes:
        if process.poll() is None:
            process.terminate()
    deadline = time.monotonic() + STOP_TIMEOUT_S
    for process in processes:
        try:
            process.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


@contextmanager
def mqtt_broker(workdir: Path) -> Iterator[int]:
    """An amqtt broker (its own process) on a free port of 127.0.0.1: its port."""
    broker_port = _free_port()
    broker_config = workdir / "broker.yml"
    broker_config.write_text(yaml.safe_dump({
        "listeners": {"default": {"type": "tcp", "bind": f"127.0.0.1:{broker_port}"}},
        "plugins": {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}},
    }))
    broker = subprocess.Popen([sys.executable, "-m", "amqtt.scripts.broker_script", "-c", str(broker_config)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_for_port(broker_port)
        yield broker_port
    finally:
        _stop([broker])


@contextmanager
def _infrastructure(workdir: Path) -> Iterator[tuple[int, int]]:
    """A standalone venue and an MQTT broker on free ports: (venue port, broker port)."""
    venue_port = _free_port()
    quiet: dict[str, Any] = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    venue = subprocess.Popen([sys.executable, "-m", "hive_core.sim.server", "--host", "127.0.0.1",
                              "--port", str(venue_port), "--pairs", "BTC-USDT"], **quiet)
    try:
        with mqtt_broker(workdir) as broker_port:
            _wait_for_port(venue_port)
            yield venue_port, broker_port
    finally:
        _stop([venue])


def _instance_config(instance_id: str, strategy_ids: list[str], venue_port: int, broker_port: int) -> dict:
    return {
        "instance_id": instance_id,
        "strategies": [
            {"id": sid, "strategy": STRATEGY, "interval": 1.0,
             "params": {"spread_bps": 10 + index % 40}} for index, sid in enumerate(strategy_ids)
        ],
        "venue": {"kind": "sim", "url": f"ws://127.0.0.1:{venue_port}", "trading_pairs": ["BTC-USDT"]},
        "mqtt_bridge": {"mqtt_host": "127.0.0.1", "mqtt_port": broker_port},
    }


class _OnlineCounter:
    """Counts the distinct instances that announced `online` on the broker."""

    def __init__(self, broker_port: int) -> None:
        self.online: set[str] = set()
        self._changed = threading.Condition()
        self._client = nodelay(mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"bench-{os.getpid()}"))
        self._client.on_message = self._on_message
        self._client.connect("127.0.0.1", broker_port)
        self._client.subscribe("hbot/+/status_updates", qos=0)
        self._client.loop_start()

    def _on_message(self, _client, _userdata, message) -> None:
        try:
            payload = json.loads(message.payload)
        except ValueError:
            return
        if payload.get("type") == "availability" and payload.get("msg") == "online":
            with self._changed:
                self.online.add(message.topic.split("/")[1])
                self._changed.notify_all()

    def wait_for(self, instance_ids: set[str], launcher: Launcher, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        with self._changed:
            while not instance_ids <= self.online:
                crashed = launcher.ended()
                if crashed:
                    raise RuntimeError(f"{len(crashed)} hive instance(s) exited during start-up, e.g. {crashed[0]}")
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    missing = len(instance_ids - self.online)
                    raise TimeoutError(f"{missing} of {len(instance_ids)} instances not online after {timeout:.0f} s")
                self._changed.wait(min(remaining, 1.0))

    def close(self) -> None:
        self._client.loop_stop()
        self._client.disconnect()


def _external_connections(process: psutil.Process) -> int:
    connections = process.net_connections(kind="inet")
    own_ends = {connection.laddr for connection in connections}
    return sum(1 for connection in connections if connection.raddr and connection.raddr not in own_ends)


def _measure(handles: list[psutil.Process], window_s: float) -> tuple[float, float, float, int]:
    before = [h.cpu_times() for h in handles]
    time.sleep(window_s)
    after = [h.cpu_times() for h in handles]
    cpu = sum((a.user + a.system) - (b.user + b.system) for a, b in zip(after, before, strict=True))
    uss = pss = 0
    sockets = 0
    for handle in handles:
        memory = handle.memory_full_info()
        uss += memory.uss
        pss += memory.pss
        sockets += _external_connections(handle)
    return uss / 2**20, pss / 2**20, cpu, sockets


class Launcher(Protocol):
    """Starts instances of one side and stops them all; says which processes to measure."""

    layout: tuple[str, str]  # how the two sides are called: ("1 process", "N processes")

    def start(self, instance_id: str, config: dict, workdir: Path) -> None: ...

    def ended(self) -> list[str]:
        """The instances that exited, in words (empty while all run)."""

    def processes(self) -> list[psutil.Process]:
        """Every process the side's instances cost (what is measured)."""

    def stop_all(self) -> None: ...


class ProcessLauncher:
    layout = ("1 process", "N processes")

    def __init__(self) -> None:
        self._processes: list[subprocess.Popen] = []

    def start(self, instance_id: str, config: dict, workdir: Path) -> None:
        config_path = workdir / f"{instance_id}.yml"
        config_path.write_text(yaml.safe_dump(config))
        self._processes.append(subprocess.Popen([sys.executable, "-m", "hive_core", "run", "--config",
                                                 str(config_path)],
                                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))

    def ended(self) -> list[str]:
        return [f"{p.args!r} exited with {p.returncode}" for p in self._processes if p.poll() is not None]

    def processes(self) -> list[psutil.Process]:
        return [psutil.Process(p.pid) for p in self._processes]

    def stop_all(self) -> None:
        _stop(self._processes)
        self._processes = []


def run_side(n: int, one_instance: bool, venue_port: int, broker_port: int, workdir: Path,
             counter: _OnlineCounter, window_s: float, launcher: Launcher) -> SideFigures:
    tag = f"d{n}{'a' if one_instance else 'b'}"
    if one_instance:
        groups = {f"{tag}-all": [f"s{i}" for i in range(n)]}
    else:
        groups = {f"{tag}-{i}": [f"s{i}"] for i in range(n)}
    try:
        for instance_id, strategy_ids in groups.items():
            launcher.start(instance_id, _instance_config(instance_id, strategy_ids, venue_port, broker_port), workdir)
        counter.wait_for(set(groups), launcher, READY_TIMEOUT_S)
        uss, pss, cpu, sockets = _measure(launcher.processes(), window_s)
    finally:
        launcher.stop_all()
    return SideFigures(n, launcher.layout[0 if one_instance else 1], len(groups), round(uss, 1),
                       round(pss, 1), round(cpu, 2), sockets)


def run_density(ns: tuple[int, ...] = (1, 10, 100), window_s: float = 20.0,
                launcher: Launcher | None = None) -> list[dict]:
    """Both layouts for each N; each row carries the ratios of the single instance to the N instances."""
    launcher = launcher or ProcessLauncher()
    rows = []
    with tempfile.TemporaryDirectory(prefix="hive-density-") as tmp:
        workdir = Path(tmp)
        with _infrastructure(workdir) as (venue_port, broker_port):
            counter = _OnlineCounter(broker_port)
            try:
                for n in ns:
                    single = run_side(n, True, venue_port, broker_port, workdir, counter, window_s, launcher)
                    many = run_side(n, False, venue_port, broker_port, workdir, counter, window_s, launcher)
                    rows.append({
                        "n": n, "single": asdict(single), "many": asdict(many),
                        "memory_ratio": round(single.pss_mb / many.pss_mb, 4),
                        "cpu_ratio": round(single.cpu_s / many.cpu_s, 4) if many.cpu_s else None,
                        "sockets_single": single.sockets, "sockets_many": many.sockets,
                    })
            finally:
                counter.close()
    return rows


def format_density(rows: list[dict]) -> str:
    lines = [f"{'N':>4}  {'layout':<14} {'inst.':>5} {'USS MB':>9} {'PSS MB':>9} {'CPU s':>8} {'sockets':>7}"]
    for row in rows:
        for side in (row["single"], row["many"]):
            lines.append(f"{side['n']:>4}  {side['layout']:<14} {side['processes']:>5} {side['uss_mb']:>9.1f} "
                         f"{side['pss_mb']:>9.1f} {side['cpu_s']:>8.2f} {side['sockets']:>7}")
        cpu = f"{row['cpu_ratio']:.1%}" if row["cpu_ratio"] is not None else "n/a"
        one, many = row["single"]["layout"], row["many"]["layout"]
        lines.append(f"      ratio {one} / {many}: memory (PSS) {row['memory_ratio']:.1%}, CPU {cpu}, "
                     f"sockets {row['sockets_single']} vs {row['sockets_many']}")
    return "\n".join(lines)


if __name__ == "__main__":
    figures = run_density()
    print(format_density(figures))
