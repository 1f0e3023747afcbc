"""The broker as a container, for real: Start Broker runs Debian's Mosquitto on the test engine with generated
logins and the ACL; the backend and a real hive_core instance log in (the instance with its own login), an
anonymous client is refused, a login made or revoked is enforced without restarting the container, the log is
read through the API, a restarted backend adopts the container, Stop removes it, and no password leaks."""
from __future__ import annotations

import json
import logging
import stat
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import docker.errors
import paho.mqtt.client as mqtt
import pytest

from backend.broker.image import BROKER_IMAGE
from backend.client import HiveClient
from backend.docker.labels import BACKEND, MANAGED, ROLE
from backend.store.repositories.broker import BrokerRepository
from backend.store.repositories.broker_logins import BrokerLoginRepository
from tests.backend.conftest import REAL_CORE, RunningBackend, broker_login, kill_leftovers, make_settings, serve
from tests.conftest import free_port
from tests.docker_engine import Engine, remove_backend_containers
from tests.mqtt_probe import MqttProbe, connack
from tests.polling import wait_until

pytestmark = pytest.mark.slow


@pytest.fixture
def start_backend(data_dir: Path, docker_engine: Engine, broker_image: str
                  ) -> Iterator[Callable[..., RunningBackend]]:
    """Backends on one data dir and the test engine; at the end their broker container is gone, whatever happened."""
    started: list[RunningBackend] = []
    port = free_port()

    def start(**overrides) -> RunningBackend:
        settings = make_settings(data_dir, core_command=REAL_CORE, docker_host=docker_engine.url, broker_port=port,
                                 heartbeat_interval=1.0, heartbeat_timeout=6.0, start_timeout=30.0, **overrides)
        backend = serve(settings)
        started.append(backend)
        return backend

    yield start
    for backend in started:
        if backend.thread.is_alive():
            for instance in backend.client.list_instances():
                if instance["state"] in ("starting", "running", "error"):
                    backend.client.stop_instance(instance["name"])
            backend.stop()
    kill_leftovers(data_dir)
    remove_backend_containers(docker_engine, data_dir)


class Recorder(HiveClient):
    """A client of `backend` keeping every answer's text in `answers`, to look for secrets in."""

    def __init__(self, backend: RunningBackend, answers: list[str]) -> None:
        super().__init__(backend.url, backend.settings.username, backend.settings.password_value(), timeout=30)
        self.answers = answers

    def _request(self, method: str, path: str, **kwargs):
        answer = super()._request(method, path, **kwargs)
        self.answers.append(json.dumps(answer))
        return answer


def anonymous_connack(port: int) -> mqtt.ReasonCode:
    """What the broker answers a client without username and password."""
    answered = threading.Event()
    codes: list[mqtt.ReasonCode] = []
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="hive-test-anonymous")

    def on_connect(_client, _userdata, _flags, reason_code, _properties) -> None:
        codes.append(reason_code)
        answered.set()

    client.on_connect = on_connect
    client.connect("127.0.0.1", port, keepalive=10)
    client.loop_start()
    try:
        assert answered.wait(10), "the broker did not answer the anonymous CONNECT"
    finally:
        client.disconnect()
        client.loop_stop()
    return codes[0]


def test_the_broker_container_runs_with_a_password_and_survives_a_backend_restart(
        start_backend, docker_engine: Engine, data_dir: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    backend = start_backend()
    answers: list[str] = []
    client = Recorder(backend, answers)

    status = client.start_broker(kind="container")
    assert status["kind"] == "container" and status["state"] == "running", status
    assert status["image"] == BROKER_IMAGE and status["login_required"] is True
    container_id = status["container_id"]
    port = status["port"]
    manager = backend.services.broker
    instance_password = manager.instance_login("authbot")[1]  # made ahead of the instance, as its create does
    passwords = [manager.logins.backend().password, instance_password]
    assert all(len(p) >= 24 for p in passwords)

    # what the engine sees: ours by its labels and name, host network, not root, the config read-only, no secret
    engine = docker_engine.client()
    container = engine.containers.get(container_id)
    assert container.name == f"hive-broker-{manager.backend_id}"
    assert container.labels[MANAGED] == "true" and container.labels[BACKEND] == manager.backend_id
    assert container.labels[ROLE] == "broker"
    config = container.attrs["Config"]
    assert container.attrs["HostConfig"]["NetworkMode"] == "host"
    assert config["User"] not in ("", "0", "root") and not config["User"].startswith("0:")
    assert [(m["Destination"], m["RW"]) for m in container.attrs["Mounts"]] == [("/etc/hive-broker", False)]
    inspected = json.dumps(container.attrs)
    assert not any(password in inspected for password in passwords)
    folder = data_dir / "broker" / "container"
    assert {p.name: stat.S_IMODE(p.stat().st_mode) for p in folder.iterdir()} == {"mosquitto.conf": 0o600,
                                                                                  "passwd": 0o600, "acl": 0o600}
    assert not any(password in (folder / "passwd").read_text() for password in passwords)  # hashed

    # healthy: the backend logged in, an anonymous client is refused, $SYS counts the backend's client
    wait_until(lambda: (s := client.broker_status())["health"] == "healthy" and s, 10, message="healthy")
    code = anonymous_connack(port)
    assert code.is_failure and code.value in (5, 135), code  # MQTT 3.1.1 "not authorized" / MQTT 5 135
    wait_until(lambda: (client.broker_status()["clients_connected"] or 0) >= 1, 15,
               message="the broker's $SYS count of connected clients")

    # a real instance reaches running through the authenticated broker; its config holds no password
    client.create_instance({"name": "authbot", "strategies": [
        {"id": "mm", "strategy": "market_maker", "params": {"spread_bps": 5}}]})
    wait_until(lambda: client.get_instance("authbot")["state"] == "running", 40, message="authbot running")
    instance_dir = data_dir / "instances" / "authbot"
    config_text = (instance_dir / "config.yml").read_text()
    assert "mqtt_auth_file: mqtt_auth.json" in config_text
    assert not any(password in config_text for password in passwords)
    auth_file = instance_dir / "mqtt_auth.json"
    assert stat.S_IMODE(auth_file.stat().st_mode) == 0o600
    assert json.loads(auth_file.read_text()) == {"mqtt_username": "hive-instance-authbot",
                                                 "mqtt_password": instance_password}
    wait_until(lambda: (client.broker_status()["clients_connected"] or 0) >= 2, 15,
               message="the backend and the instance connected")

    # the ACL: the instance's login reads its own topics alone; a login made or revoked is enforced at once
    # (SIGHUP), the container never restarted
    started_at = container.attrs["State"]["StartedAt"]
    tool = broker_login(client)
    wait_until(lambda: connack("127.0.0.1", port, tool) == 0, 10, message="the new login accepted")
    watcher = MqttProbe("127.0.0.1", port, login=tool)
    bot = MqttProbe("127.0.0.1", port, login=("hive-instance-authbot", instance_password))
    try:
        watcher.subscribe("hbot/#")
        bot.subscribe("#", granted=None)
        bot.publish("hbot/someone/stop", {"data": {}})
        watcher.publish("hbot/someone/hb", {"ts": 1})
        watcher.wait_for("hbot/someone/hb")
        assert watcher.received("hbot/someone/stop") == [] and bot.received("hbot/someone/#") == []
    finally:
        bot.close()
        watcher.close()
    client.revoke_broker_login(tool[0])
    wait_until(lambda: connack("127.0.0.1", port, tool) != 0, 10, message="the revoked login refused")
    container.reload()
    assert container.attrs["State"]["StartedAt"] == started_at and client.get_instance("authbot")["state"] == "running"

    # the container's log, through the API: Mosquitto's start and the refused anonymous client
    lines = wait_until(lambda: (log := client.broker_log(50)["lines"]) and any("not authori" in x for x in log)
                       and log, 10, message="the refused client in the broker's log")
    assert any("mosquitto version" in line for line in lines)

    # a restarted backend adopts the same container and logs in again; the instance keeps running
    backend.stop()
    backend = start_backend()
    client = Recorder(backend, answers)
    adopted = wait_until(lambda: (s := client.broker_status())["health"] == "healthy" and s, 15,
                         message="the adopted broker healthy")
    assert adopted["container_id"] == container_id and adopted["kind"] == "container"
    assert client.get_instance("authbot")["state"] == "running"
    with backend.services.store.session() as session:
        sealed = json.dumps([(row.password_hash, row.sealed_password)
                             for row in BrokerLoginRepository(session).all()])
        assert not any(password in sealed for password in passwords)  # only hashes and ciphertexts

    # the instance stops: its login file goes; Stop removes the container
    client.stop_instance("authbot")
    wait_until(lambda: not auth_file.exists(), 10, message="the login file removed once the process ended")
    stopped = client.stop_broker()
    assert stopped["state"] == "stopped" and stopped["health"] is None
    with pytest.raises(docker.errors.NotFound):
        engine.containers.get(container_id)

    # the passwords appeared nowhere: not in an API answer, not in the backend's log
    assert len(answers) > 10 and not any(p in answer for p in passwords for answer in answers)
    assert not any(password in caplog.text for password in passwords)


def test_an_external_broker_with_a_login(start_backend, backend_factory, docker_engine: Engine,
                                         tmp_path: Path) -> None:
    """A second backend uses the first one's broker container as an external broker, with a controller login made
    on the first one; its instances still get logins of their own."""
    owner = start_backend()
    status = owner.client.start_broker(kind="container")
    assert status["state"] == "running", status
    username, password = broker_login(owner.client)

    (tmp_path / "other").mkdir()
    other = backend_factory(make_settings(tmp_path / "other", docker_host=docker_engine.url))
    refused = other.client.use_external_broker("127.0.0.1", status["port"], username, "wrong-password")
    assert refused["fleet_connected"] is False and refused["health"] == "unhealthy"
    assert "refused" in refused["reason"], refused

    used = other.client.use_external_broker("127.0.0.1", status["port"], username, password)
    assert used["kind"] == "external" and used["login_required"] is True
    wait_until(lambda: other.client.broker_status()["health"] == "healthy", 10, message="logged in")
    assert password not in json.dumps(other.client.broker_status())
    with other.services.store.session() as session:
        row = BrokerRepository(session).get()
        assert row is not None and row.external_login and password not in row.external_login
    assert other.services.broker.instance_login("x")[0] == "hive-instance-x"
    other.client.stop_broker()


def test_a_missing_broker_image_is_built_first_with_its_progress(start_backend, docker_engine: Engine) -> None:
    """Start with the image missing: the status says the build's step while it runs, then the broker runs. (A tag
    of this test's own stands for the missing image; the build reuses the engine's cached layers.)"""
    backend = start_backend()
    tag = f"hive/hive-broker:test-{backend.services.broker.backend_id}"
    backend.services.broker.image = tag
    try:
        status = backend.client.start_broker(kind="container")
        assert status["state"] == "starting" and status["health"] == "starting", status
        assert status["reason"].startswith(f"building the broker image {tag}"), status
        seen = wait_until(lambda: (s := backend.client.broker_status())["state"] != "starting" and s, 300,
                          message="the build done and the broker started")
        assert seen["state"] == "running" and seen["image"] == tag, seen
        assert backend.client.stop_broker()["state"] == "stopped"
    finally:
        try:
            docker_engine.client().images.remove(tag)
        except docker.errors.ImageNotFound:
            pass


def test_a_container_instance_logs_in_to_the_broker_container(start_backend, docker_engine: Engine,
                                                                hive_core_image: str, data_dir: Path) -> None:
    """Both parts in containers: the instance's container reads its broker login (0600, its own user's) and
    reaches running through the Mosquitto container, which refuses anonymous clients."""
    backend = start_backend()
    status = backend.client.start_broker(kind="container")
    assert status["state"] == "running" and status["login_required"] is True, status
    backend.client.create_instance({"name": "boxedbot", "runtime": "docker", "image": hive_core_image,
                                    "strategies": [{"id": "mm", "strategy": "market_maker"}]})
    wait_until(lambda: backend.client.get_instance("boxedbot")["state"] == "running", 40,
               message=lambda: f"boxedbot running: {backend.client.get_instance('boxedbot')['reason']}")
    auth_file = data_dir / "instances" / "boxedbot" / "mqtt_auth.json"
    owner = auth_file.stat()
    assert stat.S_IMODE(owner.st_mode) == 0o600
    (container,) = docker_engine.client().containers.list(filters={"label": ["org.hive.instance=boxedbot"]})
    assert container.attrs["Config"]["User"] == f"{owner.st_uid}:{owner.st_gid}"  # its own user reads it
    assert "mqtt_password" not in json.dumps(container.attrs)
    backend.client.stop_instance("boxedbot")
    wait_until(lambda: backend.client.get_instance("boxedbot")["state"] == "stopped", 20, message="stopped")
    backend.client.delete_instance("boxedbot")
    backend.client.stop_broker()
