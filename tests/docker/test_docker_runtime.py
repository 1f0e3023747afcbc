"""The docker runtime end to end: a real backend (one per module, restarted once) driving real hive_core
containers on the real engine, against its embedded broker; `docker inspect` says what the backend asked for."""
from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import docker
import docker.errors
import pytest

import hive_core
from backend.client import BackendError, HiveClient
from backend.docker import labels
from backend.settings import Settings
from hive_core.sim.background import VenueThread
from tests.backend.conftest import REAL_CORE, RunningBackend, kill_leftovers, make_settings, serve
from tests.backend.test_api_instances import wait_state
from tests.docker.conftest import LIVE
from tests.docker.teardown import tear_down
from tests.docker_engine import Engine
from tests.polling import wait_until

pytestmark = [pytest.mark.integration, pytest.mark.fault, pytest.mark.slow]

START_TIMEOUT = 40.0  # s for a container's hive_core to be heard, on a busy machine
STOP_GRACE = 8.0
FAST = {"policy": "on_failure", "max_retries": 1, "backoff_s": 0.2, "max_backoff_s": 1.0}
TAG = secrets.token_hex(3)  # the engine is shared: every name made here carries it
GREEDY = '''from hive_core.strategy import Strategy


class Greedy(Strategy):
    """Takes far more memory than its container may have, at once."""

    def on_start(self) -> None:
        self.ballast = b"x" * (400 * 1024 * 1024)

    def on_tick(self, now: float) -> None:
        pass
'''


@dataclass
class Stack:
    engine: Engine
    docker: docker.DockerClient
    settings: Settings
    backend: RunningBackend

    @property
    def client(self) -> HiveClient:
        return self.backend.client

    def restart_backend(self) -> None:
        self.backend.stop()
        self.backend = serve(self.settings)

    def by_name(self, instance: str) -> docker.models.containers.Container:
        return self.docker.containers.get(f"{labels.NAME_PREFIX}{instance}")

    def create(self, name: str, **extra) -> dict:
        spec = {"name": name, "runtime": "docker", "strategies": [{"id": "mm", "strategy": "market_maker"}], **extra}
        return self.client.create_instance(spec)


@pytest.fixture(scope="module")
def stack(docker_engine: Engine, hive_core_image: str, live_venue: VenueThread,
          tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    data_dir = tmp_path_factory.mktemp("docker-runtime") / "data"
    data_dir.mkdir()
    settings = make_settings(data_dir, core_command=REAL_CORE, docker_host=docker_engine.url, heartbeat_interval=1.0,
                             heartbeat_timeout=6.0, start_timeout=30.0, stop_grace=STOP_GRACE,
                             venue_endpoints=live_venue.endpoints("binance"))
    stack = Stack(docker_engine, docker_engine.client(), settings, serve(settings))
    stack.client.start_broker()
    try:
        yield stack
    finally:
        tear_down(stack.backend, data_dir, [stack.docker])


def inspect(stack: Stack, name: str) -> dict:
    return stack.by_name(name).attrs


def named(suffix: str) -> str:
    return f"d{TAG}{suffix}"


# --- a container as the backend asks for it ------------------------------------------------------------------
def test_an_instance_runs_in_a_container_with_its_limits_labels_user_mounts_and_credential(stack: Stack) -> None:
    stack.client.create_credential(named("key"), "binance", "APIKEY-123456", "s3cret-value")
    name, other = named("a"), named("b")
    created = stack.create(name, credential=named("key"), venue=LIVE,
                           limits={"cpus": 0.5, "memory_mb": 256, "pids": 64, "log_max_mb": 5})
    stack.create(other)
    running = wait_state(stack.client, name, "running", timeout=START_TIMEOUT)
    assert created["runtime"] == "docker" and running["host"] == "local"
    assert running["image"] == stack.backend.services.runtimes["docker"].default_image
    assert running["image_version"] == hive_core.__version__  # from the image's label
    assert running["limits"] == {"cpus": 0.5, "memory_mb": 256, "pids": 64, "log_max_mb": 5}

    attrs = inspect(stack, name)
    host = attrs["HostConfig"]
    assert (host["NanoCpus"], host["Memory"], host["MemorySwap"], host["PidsLimit"]) == \
        (500_000_000, 256 * 2**20, 256 * 2**20, 64)
    assert host["LogConfig"] == {"Type": "json-file", "Config": {"max-size": "5m", "max-file": "3"}}
    assert (host["Init"], host["ReadonlyRootfs"], host["CapDrop"], host["SecurityOpt"], host["NetworkMode"]) == \
        (True, True, ["ALL"], ["no-new-privileges"], "host")
    assert attrs["Config"]["User"] == "10001:10001"
    assert attrs["Config"]["Labels"][labels.MANAGED] == "true"
    assert attrs["Config"]["Labels"][labels.BACKEND] == stack.backend.services.runtimes["docker"].backend_id
    assert attrs["Config"]["Labels"][labels.INSTANCE] == name
    assert attrs["Config"]["Labels"][labels.ROLE] == "instance"
    assert attrs["Config"]["Labels"][labels.VERSION] == "0.1.0"
    assert running["pid"] == attrs["State"]["Pid"] and running["pid"] > 0
    folder = stack.settings.data_dir / "instances" / name
    mounts = {m["Destination"]: (m["Source"], m["RW"]) for m in attrs["Mounts"]}
    assert mounts == {"/instance": (str(folder), True),
                      "/instance/credentials.json": (str(folder / "credentials.json"), False)}
    assert all(secret not in str(attrs) for secret in ("s3cret-value", "APIKEY-123456"))  # not in env, labels, args

    container = stack.by_name(name)
    who = container.exec_run(["id", "-u"]).output.decode().strip()
    assert who == "10001"
    listing = container.exec_run(["ls", "-l", "/instance/credentials.json"]).output.decode()
    assert listing.startswith("-rw-------") and " hive " in listing
    assert container.exec_run(["sh", "-c", "echo x > /instance/credentials.json"]).exit_code != 0  # read-only
    assert container.exec_run(["touch", "/usr/x"]).exit_code != 0  # the root filesystem too

    wait_state(stack.client, other, "running", timeout=START_TIMEOUT)
    other_mounts = {m["Destination"] for m in inspect(stack, other)["Mounts"]}
    assert other_mounts == {"/instance"}  # no credential of its own, and nobody else's
    assert stack.by_name(other).exec_run(["ls", "/instance"]).output.decode().split() == [
        "config.yml", "journal", "mqtt_auth.json", "strategies"]  # its own broker login, no credential


def test_resource_use_comes_from_the_stats_api_and_is_kept_as_a_history(stack: Stack) -> None:
    name = named("a")

    def measured() -> dict | None:
        instance = stack.client.get_instance(name)
        return instance if instance["memory_bytes"] and instance["cpu_percent"] is not None else None

    instance = wait_until(measured, 20, message="CPU and memory from the stats API")
    assert 1_000_000 < instance["memory_bytes"] < 256 * 2**20
    assert (instance["network_rx_bytes"], instance["network_tx_bytes"]) == (None, None)  # host network: not its own
    points = wait_until(lambda: len(p := stack.client.instance_resources(name)) >= 2 and p, 20,
                        message="two points of history")
    assert points[1]["ts"] - points[0]["ts"] >= 4.9 and all(p["memory_bytes"] for p in points)
    assert stack.client.instance_resources(name, since=points[-1]["ts"]) == []


def test_a_stop_is_graceful_and_fast(stack: Stack) -> None:
    name = named("b")
    started = time.monotonic()
    out = stack.client.stop_instance(name)
    if out["state"] != "stopped":
        out = wait_state(stack.client, name, "stopped", timeout=STOP_GRACE)
    took = time.monotonic() - started
    assert took < STOP_GRACE / 2, f"the stop took {took:.1f} s"
    assert out["reason"] == "stopped by operator"
    assert inspect(stack, name)["State"]["ExitCode"] == 0


# --- self-healing --------------------------------------------------------------------------------------------
def test_a_killed_container_is_restarted_by_the_supervisor(stack: Stack) -> None:
    name = named("c")
    stack.create(name, restart_policy=FAST)
    first = wait_state(stack.client, name, "running", timeout=START_TIMEOUT)
    first_id = inspect(stack, name)["Id"]
    stack.by_name(name).kill()  # `docker kill`

    def restarted() -> dict | None:
        instance = stack.client.get_instance(name)
        return instance if instance["state"] == "running" and instance["restarts"] == 1 else None

    wait_until(restarted, START_TIMEOUT, message=lambda: str(stack.client.get_instance(name)))
    assert inspect(stack, name)["Id"] != first_id and first["restarts"] == 0
    history = stack.client.instance_history(name)
    crash = next(h for h in history if h["to_state"] == "error")
    assert crash["reason"].startswith("killed by SIGKILL") and crash["reason"].endswith("restart 1 of 1 in 0.2 s")
    restart = next(h for h in history if (h["from_state"], h["to_state"]) == ("error", "starting"))
    assert restart["reason"].startswith("restart 1 of 1 after the process was killed by SIGKILL; process started")


def test_out_of_memory_past_the_retry_limit_is_an_error_saying_so_with_the_last_log_lines(stack: Stack) -> None:
    stack.client.upload_strategy(f"greedy{TAG}.py", GREEDY)
    name = named("oom")
    stack.create(name, strategies=[{"id": "g", "strategy": f"greedy{TAG}"}], limits={"memory_mb": 128},
                 restart_policy=FAST)

    def given_up() -> dict | None:
        instance = stack.client.get_instance(name)
        return instance if instance["state"] == "error" and "gave up" in instance["reason"] else None

    failed = wait_until(given_up, START_TIMEOUT * 2, message=lambda: str(stack.client.get_instance(name)))
    assert failed["reason"].startswith("killed: out of memory (limit 128 MiB)"), failed["reason"]
    assert "; gave up after 1 restart; last log lines: " in failed["reason"]
    state = inspect(stack, name)["State"]
    assert (state["OOMKilled"], state["ExitCode"]) == (True, 137)
    assert [h["to_state"] for h in stack.client.instance_history(name)].count("starting") == 2


# --- a backend restart, and what is not ours -----------------------------------------------------------------
def test_a_restarted_backend_adopts_its_containers_reports_strays_and_leaves_others_alone(
        stack: Stack, caplog: pytest.LogCaptureFixture) -> None:
    name = named("a")
    before = inspect(stack, name)["Id"]
    image = stack.backend.services.runtimes["docker"].default_image
    ours = labels.ours(stack.backend.services.runtimes["docker"].backend_id)
    stray = stack.docker.containers.run(image, entrypoint=["sleep", "60"], name=f"hive-stray{TAG}", detach=True,
                                        network_mode="none", labels={**ours, labels.ROLE: "instance",
                                                                     labels.INSTANCE: f"gone{TAG}"})
    foreign = stack.docker.containers.run(image, entrypoint=["sleep", "60"], name=f"hive-{named('f')}", detach=True,
                                          network_mode="none")
    try:
        with caplog.at_level(logging.INFO):
            stack.restart_backend()
        wait_until(lambda: (i := stack.client.get_instance(name))["reason"].startswith("heartbeat received") and i,
                   START_TIMEOUT, message="a heartbeat heard by the new backend")
        assert stack.client.get_instance(name)["state"] == "running"
        assert inspect(stack, name)["Id"] == before and inspect(stack, name)["State"]["Running"]
        assert any(f"re-adopted instance {name}" in r.getMessage() for r in caplog.records)
        warned = [r.getMessage() for r in caplog.records if f"hive-stray{TAG}" in r.getMessage()]
        assert warned and "belongs to this backend but to no instance" in warned[0]

        error = _refused(lambda: stack.create(named("f")))  # its container name is taken by one not ours
        assert (error.status, error.code) == (409, "container_name_taken") and "is not this backend's" in error.message
        assert named("f") not in [i["name"] for i in stack.client.list_instances()]
        stray.reload(), foreign.reload()
        assert stray.status == "running" and foreign.status == "running"  # neither touched
    finally:
        stray.remove(force=True)
        foreign.remove(force=True)


def test_deleting_an_instance_removes_its_container(stack: Stack) -> None:
    name = named("b")
    container_id = inspect(stack, name)["Id"]
    stack.client.delete_instance(name)
    with pytest.raises(docker.errors.NotFound):
        stack.docker.containers.get(container_id)


def test_refusals_name_what_to_do(stack: Stack) -> None:
    missing = _refused(lambda: stack.create(named("x"), image="hive/hive-core:0.0.0-missing"))
    assert (missing.status, missing.code) == (422, "image_not_found")
    assert "make image" in missing.message and "/images/build" in missing.message
    unknown = _refused(lambda: stack.create(named("x"), host="elsewhere"))
    assert (unknown.status, unknown.code) == (422, "unknown_host") and "known: local" in unknown.message
    for extra in ({"limits": {"memory_mb": 256}}, {"image": "hive/hive-core:0.1.0"}, {"host": "local2"}):
        refused = _refused(lambda extra=extra: stack.client.create_instance(
            {"name": named("p"), "runtime": "process", "strategies": [{"id": "mm", "strategy": "market_maker"}],
             **extra}))
        assert refused.status == 422 and "only for runtime docker" in refused.message, refused.message
    assert not any(i["name"] in (named("x"), named("p")) for i in stack.client.list_instances())


def test_an_engine_that_does_not_answer_is_unavailable_naming_the_host_and_its_url(tmp_path: Path) -> None:
    url = f"unix://{tmp_path}/no-engine.sock"
    settings = make_settings(tmp_path, docker_host=url)
    backend = serve(settings)  # starts without an engine
    try:
        backend.client.start_broker()
        error = _refused(lambda: backend.client.create_instance(
            {"name": "nodock", "runtime": "docker", "strategies": [{"id": "mm", "strategy": "market_maker"}]}))
        assert (error.status, error.code) == (503, "docker_unreachable")
        assert "'local'" in error.message and url in error.message
        backend.client.stop_broker()
    finally:
        backend.stop()
        kill_leftovers(tmp_path)


def _refused(call) -> BackendError:
    with pytest.raises(BackendError) as raised:
        call()
    return raised.value
