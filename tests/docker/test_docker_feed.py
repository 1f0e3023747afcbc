"""Containers on this machine's engine take their market data through the host's market-data service
(backend/feed/manager.py, docs/feed-service.md): the backend mounts the service's socket folder at /run/hive-feed and
names the socket there in the instance's config. On the real engine, two paper instances in containers then share one
upstream connection to the venue, and come back to the service after it was killed and started again (the folder is
mounted, not the socket, so the new socket is seen). Without an engine: what the runtime asks for, and that a remote
engine's containers are not given the service."""
from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

from backend.docker import labels
from backend.domain.instances import InstanceCreate
from backend.runtimes.docker import FEED_MOUNT, DockerRuntime
from hive_core.sim.background import VenueThread
from tests.backend.conftest import REAL_CORE, RunningBackend, make_settings, serve
from tests.backend.test_api_instances import wait_state
from tests.docker.local_hosts import local_hosts
from tests.docker.teardown import tear_down
from tests.docker_engine import Engine
from tests.feed_checks import kill_the_service_and_see_them_come_back
from tests.polling import wait_until

START_TIMEOUT = 60.0  # s for a container's hive_core to be heard, on a busy machine
TAG = secrets.token_hex(3)  # the engine is shared: every name made here carries it
PAPER = {"kind": "binance", "mode": "paper"}  # market data from the venue (the simulated one), orders matched inside
SHARED = {"btcusdt@depth@100ms": 2, "btcusdt@trade": 2}
ADDRESS = "unix:/srv/data/feed/socket/feed.sock"  # the service's address as the backend reaches it
IMAGE = SimpleNamespace(tags=["hive/hive-core:0.1.0"], id="sha256:1", labels={})
SPEC = InstanceCreate(name="bot", runtime="docker", strategies=[{"id": "mm", "strategy": "market_maker"}])
# Run inside the container as its own user: GET /health on the mounted socket, the answer's JSON printed.
HEALTH = f"""
import socket
with socket.socket(socket.AF_UNIX) as connection:
    connection.settimeout(10)
    connection.connect("{FEED_MOUNT}/feed.sock")
    connection.sendall(b"GET /health HTTP/1.1\\r\\nHost: feed\\r\\nConnection: close\\r\\n\\r\\n")
    answer = b""
    while chunk := connection.recv(65536):
        answer += chunk
print(answer.partition(b"\\r\\n\\r\\n")[2].decode())
"""


def runtime(tmp_path: Path, url: str = "unix:///nowhere.sock", service: bool = True) -> DockerRuntime:
    """A docker runtime whose `local` host is `url` (never reached here), the service's socket under `tmp_path`."""
    socket = tmp_path / "feed" / "socket" / "feed.sock"
    socket.parent.mkdir(parents=True)
    return DockerRuntime(local_hosts(url, tmp_path / "hosts"), "b1", "hive/hive-core:0.1.0",
                         feed_socket=socket if service else None)


def test_containers_on_this_machine_are_given_the_socket_at_its_mount_point_while_the_service_runs(
        tmp_path: Path) -> None:
    assert runtime(tmp_path).feed_address(SPEC, ADDRESS) == f"unix:{FEED_MOUNT}/feed.sock"
    assert runtime(tmp_path / "1").feed_address(SPEC, None) is None  # it does not run now: their own connections
    assert runtime(tmp_path / "2", service=False).feed_address(SPEC, ADDRESS) is None  # HIVE_FEED_SERVICE=false


@pytest.mark.parametrize("url", ["ssh://hive@192.0.2.7", "tcp://127.0.0.1:2376"])
def test_containers_of_a_remote_engine_take_their_own_connections(tmp_path: Path, url: str) -> None:
    """The socket is on this machine; a tcp:// or ssh:// engine may be on another (even on 127.0.0.1: a tunnel)."""
    assert runtime(tmp_path, url).feed_address(SPEC, ADDRESS) is None


def feed_mounts(docker_runtime: DockerRuntime, folder: Path, volume: str | None = None) -> dict[str, dict]:
    """The container's mounts at FEED_MOUNT, by their source."""
    volumes = docker_runtime._options(SPEC, "bot", IMAGE, folder, "10001:10001", volume)["volumes"]
    return {source: mount for source, mount in volumes.items() if mount["bind"] == str(FEED_MOUNT)}


def test_the_socket_folder_is_mounted_read_only_when_the_service_is_on_and_its_folder_exists(tmp_path: Path) -> None:
    local = runtime(tmp_path / "local")
    assert local.feed_socket is not None
    assert feed_mounts(local, tmp_path) == {str(local.feed_socket.parent): {"bind": str(FEED_MOUNT), "mode": "ro"}}
    assert feed_mounts(local, tmp_path, volume="hive-bot") == {}  # a remote host's container
    assert feed_mounts(runtime(tmp_path / "off", service=False), tmp_path) == {}
    local.feed_socket.parent.rmdir()  # the engine would make it, as root; a config naming the feed finds it made
    assert feed_mounts(local, tmp_path) == {}


@pytest.fixture
def backend(docker_engine: Engine, hive_core_image: str, live_venue: VenueThread,
            tmp_path: Path) -> Iterator[RunningBackend]:
    """A backend running its market-data service, its instances' Binance sent to the simulated venue."""
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    running = serve(make_settings(data_dir, core_command=REAL_CORE, docker_host=docker_engine.url, feed_service=True,
                                  heartbeat_interval=1.0, heartbeat_timeout=6.0, start_timeout=40.0,
                                  venue_endpoints=live_venue.endpoints("binance")))
    try:
        running.client.start_broker()
        yield running
    finally:
        tear_down(running, data_dir, [docker_engine.client()])


@pytest.mark.integration
@pytest.mark.fault
@pytest.mark.slow
def test_containers_on_this_machine_share_the_hosts_market_data_service(
        backend: RunningBackend, docker_engine: Engine, live_venue: VenueThread) -> None:
    client = backend.client
    status = client.feed_status()
    assert status["state"] == "running", status
    names = [f"feed{TAG}a", f"feed{TAG}b"]
    for name in names:
        client.create_instance({"name": name, "runtime": "docker", "venue": PAPER,
                                "strategies": [{"id": "mm", "strategy": "market_maker"}]})
    for name in names:
        wait_state(client, name, "running", timeout=START_TIMEOUT)

    # What the backend asked for: the socket's folder mounted read-only, the config naming the socket in there.
    config = yaml.safe_load((backend.settings.data_dir / "instances" / names[0] / "config.yml").read_text())
    assert config["venue"]["feed"] == f"unix:{FEED_MOUNT}/feed.sock"
    container = docker_engine.client().containers.get(f"{labels.NAME_PREFIX}{names[0]}")
    mounts = {m["Destination"]: (m["Source"], m["RW"]) for m in container.attrs["Mounts"]}
    assert mounts[str(FEED_MOUNT)] == (str(backend.services.feed.socket.parent), False)
    # The container's user (uid 10001, not the folder's owner) may connect: search permission on the folder (0711),
    # and the socket is 0666.
    assert container.exec_run(["id", "-u"]).output.decode().strip() == "10001"
    probe = container.exec_run(["python", "-c", HEALTH])
    assert probe.exit_code == 0, probe.output.decode()
    assert json.loads(probe.output)["addresses"]

    # Both containers' streams come through the service, which alone is connected to the venue.
    wait_until(lambda: [u["streams"] for u in client.feed_status()["upstreams"]] == [SHARED], 30,
               message=lambda: f"both containers' streams through the service: {client.feed_status()}")
    assert client.feed_status()["clients"] == 2
    assert live_venue.call(lambda server: server.stream_connections()) == 1
    assert live_venue.call(lambda server: server.subscriptions()) == {"btcusdt@depth@100ms": 1, "btcusdt@trade": 1}
    wait_until(lambda: all(client.open_orders(instance=name) for name in names), 30,  # they have books
               message="both market makers quoting around the mid")

    # The service killed: the containers take their own connections, and come back once the backend restarted it.
    kill_the_service_and_see_them_come_back(client, live_venue, status, instances=2)   # its new socket: same folder
    wait_until(lambda: [u["streams"] for u in client.feed_status()["upstreams"]] == [SHARED], 20,
               message=lambda: f"both containers' streams through the service again: {client.feed_status()}")
    assert {client.get_instance(name)["state"] for name in names} == {"running"}
