"""The stack of docker-compose.yml, brought up with Debian's docker-compose 1.29 against the test engine, on free
ports and under a project name of its own: every service healthy, /health and a login through the backend, the
dashboard's page, the broker's generated password, no secret in `docker inspect`; then `down -v` leaves nothing
of it behind (containers, networks; the images it tagged are removed, their cached layers kept)."""
from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import paho.mqtt.client as mqtt
import pytest

from tests.conftest import free_port
from tests.docker_engine import REPO_ROOT, Engine, prerequisite_missing, remove_backend_containers
from tests.polling import wait_until

pytestmark = pytest.mark.slow
UP_TIMEOUT = 900  # s: a first build installs every dependency; cached, the stack is up in about 30 s


@dataclass
class Stack:
    project: str
    env: dict[str, str]
    env_file: Path

    def compose(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        return subprocess.run(["docker-compose", "--env-file", str(self.env_file), "-p", self.project, *args],
                              cwd=REPO_ROOT, env=self.env, capture_output=True, text=True, timeout=timeout)

    def secret(self, name: str) -> str:
        return next(line.split("=", 1)[1] for line in self.env_file.read_text().splitlines()
                    if line.startswith(f"{name}="))

    def port(self, name: str) -> int:
        return int(self.env[name])


@pytest.fixture
def stack(docker_engine: Engine, hive_core_image: str, tmp_path: Path) -> Iterator[Stack]:
    if shutil.which("docker-compose") is None:
        prerequisite_missing("Debian's docker-compose", "apt-get install docker-compose (`make docker-tools`)")
    project = f"hivetest{secrets.token_hex(4)}"
    env = dict(docker_engine.env(), HIVE_ENV_FILE=str(tmp_path / ".env"), HIVE_DATA_DIR=str(tmp_path / "data"),
               HIVE_BACKEND_PORT=str(free_port()), HIVE_DASHBOARD_PORT=str(free_port()),
               HIVE_BROKER_PORT=str(free_port()), HIVE_IMAGE_PREFIX=f"{project}/hive")
    for name in ("HIVE_PASSWORD", "HIVE_USERNAME", "HIVE_CREDENTIALS_KEY", "HIVE_BROKER_PASSWORD", "HIVE_UID",
                 "HIVE_GID"):
        env.pop(name, None)
    subprocess.run([os.environ.get("PYTHON", "python3"), "deploy/stack.py", "prepare"], cwd=REPO_ROOT, env=env,
                   check=True, timeout=30, capture_output=True)
    running = Stack(project, env, tmp_path / ".env")
    client = docker_engine.client()
    networks_before = {network.id for network in client.networks.list()}
    try:
        yield running
    finally:
        remove_backend_containers(docker_engine, Path(env["HIVE_DATA_DIR"]))  # instances the stack's backend made
        down = running.compose("down", "-v")
        assert down.returncode == 0, down.stderr
        assert client.containers.list(all=True, filters={"label": f"com.docker.compose.project={project}"}) == []
        assert {network.id for network in client.networks.list()} == networks_before
        for image in client.images.list(name=f"{project}/*"):
            for tag in image.tags:
                client.images.remove(tag, force=True, noprune=True)  # only the tag: layers stay cached, and
                # an image that a container of another stack uses (built from the same layers) stays


def test_the_stack_comes_up_healthy_and_serves_its_login(stack: Stack, docker_engine: Engine) -> None:
    env_file = stack.env_file
    assert env_file.stat().st_mode & 0o777 == 0o600
    up = stack.compose("up", "-d", "--build", timeout=UP_TIMEOUT)
    assert up.returncode == 0, up.stderr[-3000:]
    waited = subprocess.run([os.environ.get("PYTHON", "python3"), "deploy/stack.py", "wait", "docker-compose",
                             "--env-file", str(env_file), "-p", stack.project], cwd=REPO_ROOT, env=stack.env,
                            capture_output=True, text=True, timeout=300)
    assert waited.returncode == 0, waited.stderr[-3000:]
    password = stack.secret("HIVE_PASSWORD")
    assert f"login:     admin / {password}" in waited.stdout

    backend = f"http://127.0.0.1:{stack.port('HIVE_BACKEND_PORT')}"
    assert httpx.get(f"{backend}/health", timeout=10).json()["status"] == "ok"
    assert httpx.get(f"{backend}/auth/check", auth=("admin", password), timeout=10).status_code == 200
    assert httpx.get(f"{backend}/auth/check", auth=("admin", "wrong"), timeout=10).status_code == 401
    # the backend drives the engine through the mounted socket, as its non-root user
    images = httpx.get(f"{backend}/images", auth=("admin", password), timeout=30).json()
    assert any(tag.startswith("hive/hive-core:") for image in images for tag in image["tags"]), images

    # the backend uses the stack's broker from the start, with its login; a docker instance runs through it
    auth = ("admin", password)
    broker = wait_until(lambda: (b := httpx.get(f"{backend}/broker", auth=auth, timeout=10).json())["health"]
                        == "healthy" and b, 30, message="the stack's broker in use by the backend")
    assert broker["kind"] == "external" and broker["login_required"] is True, broker
    created = httpx.post(f"{backend}/instances", auth=auth, timeout=60, json={
        "name": "stackbot", "runtime": "docker", "strategies": [{"id": "mm", "strategy": "market_maker"}]})
    assert created.status_code == 201, created.text
    running = wait_until(lambda: (i := httpx.get(f"{backend}/instances/stackbot", auth=auth, timeout=10).json())
                         ["state"] == "running" and i, 60, message="stackbot running through the stack's broker")
    assert running["host"] == "local" and running["image"].startswith("hive/hive-core:")
    assert httpx.post(f"{backend}/instances/stackbot/stop", auth=auth, timeout=30).status_code == 200
    wait_until(lambda: httpx.get(f"{backend}/instances/stackbot", auth=auth, timeout=10).json()["state"] == "stopped",
               30, message="stackbot stopped")
    assert httpx.delete(f"{backend}/instances/stackbot", auth=auth, timeout=30).status_code == 204

    dashboard = f"http://127.0.0.1:{stack.port('HIVE_DASHBOARD_PORT')}"
    assert httpx.get(f"{dashboard}/", timeout=10).status_code == 200
    assert httpx.get(f"{dashboard}/_stcore/health", timeout=10).text == "ok"

    assert broker_login(stack.port("HIVE_BROKER_PORT"), "hive", stack.secret("HIVE_BROKER_PASSWORD")) == "Success"
    assert broker_login(stack.port("HIVE_BROKER_PORT"), "hive", "wrong") == "Not authorized"

    ids = stack.compose("ps", "-q").stdout.split()
    inspected = json.loads(subprocess.run(["docker", "inspect", *ids], env=stack.env, capture_output=True,
                                          text=True, check=True).stdout)
    assert len(inspected) == 3
    for container in inspected:
        assert container["HostConfig"]["NetworkMode"] == "host"
        assert container["Config"]["User"] not in ("", "0", "root", "0:0"), container["Name"]
        shown = json.dumps(container)
        assert password not in shown and stack.secret("HIVE_BROKER_PASSWORD") not in shown, container["Name"]
    backend_container = next(c for c in inspected if c["Config"]["Labels"]["com.docker.compose.service"] == "backend")
    data = stack.env["HIVE_DATA_DIR"]
    assert any(m["Source"] == data and m["Destination"] == data for m in backend_container["Mounts"])


def broker_login(port: int, username: str, password: str) -> str:
    """The broker's answer to a CONNECT with this login."""
    answers: list[str] = []
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
    client.username_pw_set(username, password)
    client.on_connect = lambda _client, _data, _flags, reason, _props: answers.append(str(reason))
    client.connect("127.0.0.1", port)
    client.loop_start()
    try:
        return wait_until(lambda: answers and answers[0], 10, message="the broker's CONNACK")
    finally:
        client.loop_stop()
        client.disconnect()
