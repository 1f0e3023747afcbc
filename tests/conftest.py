"""Fixtures shared by every test kind: free ports, a real embedded MQTT broker, raw MQTT probes; and the
test layers (markers) given to every collected test."""
from __future__ import annotations

import itertools
import os
import random
import secrets
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest

from backend.broker.mosquitto import FULL_RIGHTS, Grant, Login, acl_text, password_line
from backend.broker.private_files import write_private
from tests.mqtt_probe import MqttProbe
from tests.polling import wait_until

REPO_ROOT = Path(__file__).resolve().parent.parent
TESTS = REPO_ROOT / "tests"
ARTIFACTS = REPO_ROOT / "test-artifacts"

# Fixtures that start a real broker, server or process: a test using one, directly or through another
# fixture, is an integration test.
INTEGRATION_FIXTURES = frozenset({"mqtt_broker", "spawn_hive", "backend_factory", "module_backend_factory",
                                  "venue_process", "backend", "module_backend", "dashboard", "docker_engine"})
# Directories whose every test belongs to one layer: the AppTest suite runs the real backend, the journey Chromium.
DIRECTORY_LAYERS = {"frontend": "integration", "e2e": "e2e"}
# Directories whose tests share one resource of the machine, so parallel workers (`make test`: pytest-xdist,
# --dist loadgroup) run them in one worker, in turn: the Docker tests share one engine (started once per worker).
SHARED_RESOURCE_GROUPS = {"docker": "docker-engine"}
LAYERS = ("integration", "e2e", "slow", "fault")
# The order the tests are handed out in (pytest-xdist gives each worker the next one when it is free). hive_core's long
# tests and the linters (the benchmark runs, the build, the broker outage, mypy: fixed work, mostly CPU or waiting) go
# first, so that the run does not end on one of them with the other workers idle. The browser tests are spread over the
# rest, about one at a time: Chromium and the dashboard redraw every second while a page is open, so their CPU grows
# with their duration, which grows when several of them run at once. Everything else keeps the files' order (the
# pytest-xdist groups are handed out first anyway, each as one piece). The weights are rough seconds per test, for the
# spreading only.
BROWSER_SPREAD = 0.85  # of the rest's weight: the last browser test starts well before the end
WEIGHTS = (("e2e", 60.0), ("slow", 25.0), ("fault", 25.0), ("integration", 3.0))
APPTEST_WEIGHT, UNIT_WEIGHT = 12.0, 0.1


def _weight(item: pytest.Item) -> float:
    if item.get_closest_marker("xdist_group"):
        return 0.0  # handed out before the single tests, wherever they are in the order
    for name, weight in WEIGHTS:
        if item.get_closest_marker(name):
            return weight
    return APPTEST_WEIGHT if _directory(item) == "frontend" else UNIT_WEIGHT


def _goes_first(item: pytest.Item) -> bool:
    return _directory(item) in ("hive_core", "") and any(item.get_closest_marker(name) for name in ("slow", "fault"))


def _run_order(items: list[pytest.Item]) -> list[pytest.Item]:
    first = [item for item in items if _goes_first(item)]
    browser = [item for item in items if item.get_closest_marker("e2e") and not _goes_first(item)]
    rest = [item for item in items if not _goes_first(item) and not item.get_closest_marker("e2e")]
    spacing = BROWSER_SPREAD * sum(map(_weight, rest)) / max(1, len(browser))
    ordered, done, waiting = list(first), 0.0, list(browser)
    for index, item in enumerate(rest):
        # between two files only: a file's tests stay together (its module-scoped fixtures are set up once)
        if index == 0 or item.path != rest[index - 1].path:
            while waiting and done >= (len(browser) - len(waiting) + 0.5) * spacing:
                ordered.append(waiting.pop(0))
        ordered.append(item)
        done += _weight(item)
    return ordered + waiting


def _directory(item: pytest.Item) -> str:
    return item.path.relative_to(TESTS).parts[0] if item.path.is_relative_to(TESTS) else ""


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist's, which reads the xdist_group marks given here
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark each test by the fixtures it uses and its directory; one with none of the layers is `unit`.
    Explicit marks in the test files cover what this cannot see (sockets or processes opened without a
    fixture, slow and fault tests). Then put them in the order they run in (_run_order)."""
    for item in items:
        if INTEGRATION_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.integration)
        directory = _directory(item)
        if directory in DIRECTORY_LAYERS:
            item.add_marker(DIRECTORY_LAYERS[directory])
        if directory in SHARED_RESOURCE_GROUPS:
            item.add_marker(pytest.mark.xdist_group(SHARED_RESOURCE_GROUPS[directory]))
        if not any(item.get_closest_marker(layer) for layer in LAYERS):
            item.add_marker(pytest.mark.unit)
    items[:] = _run_order(items)


def _ephemeral_low() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def _port_slice() -> range:
    """This xdist worker's own ports: a slice of those between 10000 and the kernel's ephemeral range."""
    low, high = 10_000, _ephemeral_low()
    workers = max(int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")), 1)
    worker = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw") or 0) % workers  # a respawned gw3
    size = (high - low) // workers
    return range(low + worker * size, low + (worker + 1) * size)


_PORTS = _port_slice()
_next_port = itertools.count(random.randrange(len(_PORTS)))


def free_port() -> int:
    """A port nothing listens on, for a server a test starts. Not one the kernel picks (bind to port 0): the kernel
    hands the same range to every outgoing connection, so such a port could be taken before the server listens (seen
    in CI: "address already in use"). Each worker takes its ports in turn from its own slice below that range."""
    for _ in range(len(_PORTS)):
        port = _PORTS[next(_next_port) % len(_PORTS)]
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue  # a service of the machine, or a server of this worker still running
            return port
    raise RuntimeError(f"no free port in {_PORTS}")


def wait_for_port(host: str, port: int, timeout: float = 15.0) -> None:
    def accepts() -> bool:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return True
        except OSError:
            return False

    wait_until(accepts, timeout, interval=0.1, message=f"something listening on {host}:{port}")


class EmbeddedBroker:
    """The project's own embedded broker (amqtt) in a subprocess on a free port. Like the backend's, it refuses
    clients without a login: `login` has every right (tests' probes, bots and backends use it); `grant` adds
    more logins, `revoke` removes one (the running broker reads its files again)."""

    def __init__(self, sys_interval: int = 2) -> None:
        self.host = "127.0.0.1"
        self.port = free_port()
        self.sys_interval = sys_interval
        self.process: subprocess.Popen | None = None
        self._folder = tempfile.TemporaryDirectory(prefix="hive-test-broker-")  # removed with this object
        self.folder = Path(self._folder.name)
        self.login = Login("tester", secrets.token_urlsafe(16))
        self._logins: dict[str, tuple[str, tuple[Grant, ...]]] = {}
        self.grant(self.login, FULL_RIGHTS)

    @property
    def credentials(self) -> tuple[str, str]:
        return self.login.username, self.login.password

    def grant(self, login: Login, grants: Iterable[Grant]) -> None:
        self._logins[login.username] = (password_line(login), tuple(grants))
        self._write()

    def revoke(self, username: str) -> None:
        del self._logins[username]
        self._write()

    def _write(self) -> None:
        write_private(self.folder, {
            "passwd": "".join(line + "\n" for line, _grants in self._logins.values()),
            "acl": acl_text((username, grants) for username, (_line, grants) in self._logins.items())})

    def probe(self, **options) -> MqttProbe:
        """A raw MQTT client logged in with `login`."""
        return MqttProbe(self.host, self.port, login=self.credentials, **options)

    def start(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "backend.broker.amqtt_server", "--host", self.host,
             "--port", str(self.port), "--sys-interval", str(self.sys_interval),
             "--password-file", str(self.folder / "passwd"), "--acl-file", str(self.folder / "acl")],
            cwd=REPO_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        wait_for_port(self.host, self.port)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


@pytest.fixture
def mqtt_broker() -> Iterator[EmbeddedBroker]:
    broker = EmbeddedBroker()
    broker.start()
    yield broker
    broker.stop()


@pytest.fixture
def mqtt_probe(mqtt_broker: EmbeddedBroker) -> Iterator[MqttProbe]:
    """A raw paho-mqtt client subscribed to everything on the test broker (logged in with its full rights)."""
    probe = mqtt_broker.probe()
    probe.subscribe("#")
    yield probe
    probe.close()


@pytest.fixture
def artifacts_dir() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
