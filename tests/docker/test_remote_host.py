"""Instances on a second Docker host: a private engine on tcp://127.0.0.1 with --tlsverify (tests/docker/conftest.py),
added through POST /hosts, whose engine cannot see the backend's folder. Its instance gets its files in a volume,
the broker address of the host's broker_host, and meets the local instance at the same broker; the image is built
there by the product's own POST /images/build (cached in that engine's data root after the first time)."""
from __future__ import annotations

import json
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import docker
import docker.errors
import pytest
import yaml

from backend.client import BackendError
from backend.docker import labels
from backend.orchestrator.handle import ProcessHandle
from backend.settings import Settings
from backend.store import InstanceRow
from hive_core.sim.background import VenueThread
from tests.backend.conftest import REAL_CORE, RunningBackend, make_settings, serve
from tests.backend.test_api_instances import wait_state
from tests.docker.conftest import BUILD_TIMEOUT, LIVE, Pki
from tests.docker.teardown import tear_down
from tests.docker.test_hosts import add_remote
from tests.docker_engine import Engine
from tests.polling import wait_until

pytestmark = [pytest.mark.integration, pytest.mark.slow]

START_TIMEOUT = 40.0  # s for a container's hive_core to be heard, on a busy machine
TAG = secrets.token_hex(3)  # the local engine is shared: every name made here carries it
HOST = "second"
BROKER_HOST = "localhost"  # not the backend's own 127.0.0.1, so the config shows whose address it is
QUIET = '''from hive_core.strategy import Strategy


class Quiet(Strategy):
    """Does nothing each tick: the instance is here to be started, heard and stopped."""

    def on_tick(self, now: float) -> None:
        pass
'''


@dataclass
class Stack:
    backend: RunningBackend
    settings: Settings
    local: docker.DockerClient
    remote: docker.DockerClient

    @property
    def client(self):
        return self.backend.client

    def create(self, name: str, **extra: Any) -> dict:
        spec = {"name": name, "runtime": "docker", "strategies": [{"id": "q", "strategy": f"quiet{TAG}"}], **extra}
        return self.client.create_instance(spec)


@pytest.fixture(scope="module")
def remote(tls_engine_factory, docker_engine: Engine, base_image: str) -> Engine:
    """The second engine, with the base image (from the local engine: no registry here) that its builds start from."""
    engine = tls_engine_factory(keep_images=True)
    target = engine.client()
    try:
        target.images.get(base_image)
    except docker.errors.ImageNotFound:
        target.images.load(docker_engine.client().images.get(base_image).save(named=True))
    return engine


@pytest.fixture(scope="module")
def stack(docker_engine: Engine, hive_core_image: str, remote: Engine, pki: Pki, live_venue: VenueThread,
          tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    data_dir = tmp_path_factory.mktemp("remote-host") / "data"
    data_dir.mkdir()
    settings = make_settings(data_dir, core_command=REAL_CORE, docker_host=docker_engine.url, heartbeat_interval=1.0,
                             heartbeat_timeout=6.0, start_timeout=30.0, stop_grace=8.0,
                             venue_endpoints=live_venue.endpoints("binance"))
    stack = Stack(serve(settings), settings, docker_engine.client(), remote.client())
    try:
        stack.client.start_broker()
        assert add_remote(stack.client, HOST, remote, pki, broker_host=BROKER_HOST)["health"]["status"] == "ok"
        job = stack.client.build_image(HOST)
        done = wait_until(lambda: (j := stack.client.image_job(job["id"]))["state"] != "running" and j, BUILD_TIMEOUT,
                          interval=0.5, message=lambda: f"the build on {HOST}: {stack.client.image_job(job['id'])}")
        assert done["state"] == "succeeded", done
        stack.client.upload_strategy(f"quiet{TAG}.py", QUIET)
        yield stack
    finally:
        tear_down(stack.backend, data_dir, [stack.local, stack.remote])

def named(suffix: str) -> str:
    return f"r{TAG}{suffix}"


def container(engine: docker.DockerClient, instance: str):
    return engine.containers.get(f"{labels.NAME_PREFIX}{instance}")


def files_in(engine: docker.DockerClient, instance: str) -> dict[str, tuple[int, int, str]]:
    """Every file below /instance in the running container: path -> (uid, gid, octal mode)."""
    listing = container(engine, instance).exec_run(["find", "/instance", "-mindepth", "1", "-printf", r"%P %U %G %m\n"])
    assert listing.exit_code == 0, listing.output
    return {path: (int(uid), int(gid), mode) for path, uid, gid, mode in
            (line.split() for line in listing.output.decode().splitlines())}


def config_in(engine: docker.DockerClient, instance: str) -> dict:
    return yaml.safe_load(container(engine, instance).exec_run(["cat", "/instance/config.yml"]).output)


# --- an instance on each host, one broker ----------------------------------------------------------------------
def test_an_instance_on_the_remote_host_runs_from_a_volume_and_meets_the_local_one_at_the_same_broker(
        stack: Stack) -> None:
    stack.client.create_credential(named("key"), "binance", "APIKEY-987654", "remote-s3cret")
    far, near = named("far"), named("near")
    started = time.monotonic()
    stack.create(far, host=HOST, credential=named("key"), venue=LIVE)
    stack.create(near)
    wait_state(stack.client, far, "running", timeout=START_TIMEOUT)
    wait_state(stack.client, near, "running", timeout=START_TIMEOUT)
    took = time.monotonic() - started

    fleet = {i["name"]: (i["host"], i["state"]) for i in stack.client.list_instances()}
    assert fleet == {far: (HOST, "running"), near: ("local", "running")}, fleet
    attrs = container(stack.remote, far).attrs
    mounts = {m["Destination"]: (m["Type"], m["Name"], m["RW"]) for m in attrs["Mounts"]}
    assert mounts == {"/instance": ("volume", f"hive-{far}", True),   # no bind mount of a backend path
                      "/instance/journal": ("volume", f"hive-{far}-journal", True)}
    assert str(stack.settings.data_dir) not in json.dumps(attrs)
    assert all(secret not in json.dumps(attrs) for secret in ("remote-s3cret", "APIKEY-987654"))
    assert attrs["Config"]["User"] == "10001:10001" and attrs["HostConfig"]["ReadonlyRootfs"]
    volume = stack.remote.volumes.get(f"hive-{far}").attrs["Labels"]
    assert volume[labels.INSTANCE] == far and volume[labels.BACKEND] == labels.backend_id(stack.settings.data_dir)
    with pytest.raises(docker.errors.NotFound):
        stack.local.containers.get(f"hive-{far}")  # on the second engine only

    files = {path: owner for path, owner in files_in(stack.remote, far).items() if not path.startswith("journal/")}
    assert set(files) == {"config.yml", "strategies", f"strategies/quiet{TAG}.py", "credentials.json",
                          "mqtt_auth.json", "journal"}, files
    assert {(uid, gid) for uid, gid, _mode in files.values()} == {(10001, 10001)}
    assert files["journal"][2] == "700"
    assert files["credentials.json"][2] == "600"
    assert config_in(stack.remote, far)["mqtt_bridge"]["mqtt_host"] == BROKER_HOST
    assert config_in(stack.local, near)["mqtt_bridge"]["mqtt_host"] == "127.0.0.1"  # the backend's own address
    local_mounts = {m["Type"] for m in container(stack.local, near).attrs["Mounts"]}
    assert local_mounts == {"bind"}  # the local host keeps its bind mount
    print(f"both instances running {took:.1f} s after their create requests")


def test_a_start_makes_a_new_container_and_volume_with_fresh_files_and_keeps_the_journal(stack: Stack) -> None:
    far = named("far")
    before = container(stack.remote, far).id
    journaled = {path for path in files_in(stack.remote, far) if path.startswith("journal/")}
    assert journaled, "the first run journaled nothing"
    stack.client.stop_instance(far)
    wait_state(stack.client, far, "stopped", timeout=10)
    stack.client.start_instance(far)
    wait_state(stack.client, far, "running", timeout=START_TIMEOUT)

    assert container(stack.remote, far).id != before and container(stack.remote, far).status == "running"
    files = files_in(stack.remote, far)
    assert files["credentials.json"] == (10001, 10001, "600") and files["config.yml"][:2] == (10001, 10001)
    assert journaled < set(files)  # the last run's journal is still served after the restart
    with stack.backend.services.store.session() as session:
        locator = ProcessHandle.from_json(session.query(InstanceRow).filter_by(name=far).one().handle).locator
    assert locator["volume"] == f"hive-{far}"

    def tails() -> tuple[list[str], list[str]]:
        """What an Error reason quotes, and the container's log's last lines (the bot may log between the two)."""
        lines = stack.backend.services.runtimes["docker"].last_lines(locator, 3)
        logged = [line for line in container(stack.remote, far).logs().decode().splitlines() if line.strip()]
        return lines, logged[-3:]

    wait_until(lambda: (found := tails())[0] and found[0] == found[1], 15, message=lambda: f"{tails()}")


def test_a_volume_of_that_name_that_is_not_ours_refuses_the_instance_and_is_left_alone(stack: Stack) -> None:
    name = named("taken")
    foreign = stack.remote.volumes.create(f"hive-{name}")
    try:
        with pytest.raises(BackendError) as refused:
            stack.create(name, host=HOST)
        assert (refused.value.status, refused.value.code) == (409, "volume_name_taken"), refused.value
        assert "is not this backend's" in refused.value.message and f"'{HOST}'" in refused.value.message
        assert name not in [i["name"] for i in stack.client.list_instances()]
        assert stack.remote.volumes.get(foreign.name).attrs["Labels"] in (None, {})  # untouched
    finally:
        foreign.remove()


def test_deleting_the_instance_removes_its_container_and_volume(stack: Stack) -> None:
    far = named("far")
    stack.client.stop_instance(far)
    wait_state(stack.client, far, "stopped", timeout=10)
    container_id = container(stack.remote, far).id

    stack.client.delete_instance(far)

    with pytest.raises(docker.errors.NotFound):
        stack.remote.containers.get(container_id)
    for volume in (f"hive-{far}", f"hive-{far}-journal"):
        with pytest.raises(docker.errors.NotFound):
            stack.remote.volumes.get(volume)
