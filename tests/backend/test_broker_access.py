"""The broker's logins and ACL, enforced by the broker itself: the embedded broker (amqtt with Hive's plugin) and
a real Mosquitto reading the very same files (what an external broker is told to install) refuse the same things.
"""
from __future__ import annotations

import getpass
import json
import secrets
import shutil
import signal
import subprocess
from pathlib import Path

import pytest

from backend.broker.access import grants
from backend.broker.base import accepts_anonymous
from backend.broker.mosquitto import Login
from backend.client import BackendError, HiveClient
from tests.backend.conftest import RunningBackend, broker_login
from tests.conftest import EmbeddedBroker, wait_for_port
from tests.docker_engine import prerequisite_missing
from tests.mqtt_probe import MqttProbe, connack
from tests.polling import wait_until

MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
NAMESPACE = "hbot"


class PrivateMosquitto(EmbeddedBroker):
    """The machine's Mosquitto on a free port with the same password and ACL files; SIGHUP reads them again.
    With `anonymous`, it is configured as Mosquitto is out of the box on a trusted host: no login at all."""

    anonymous = False

    def start(self) -> None:
        conf = self.folder / "mosquitto.conf"
        access = (f"allow_anonymous false\npassword_file {self.folder / 'passwd'}\nacl_file {self.folder / 'acl'}\n"
                  if not self.anonymous else "allow_anonymous true\n")
        conf.write_text(f"listener {self.port} {self.host}\n{access}user {getpass.getuser()}\nlog_dest stderr\n")
        self.process = subprocess.Popen([MOSQUITTO, "-c", str(conf)], stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL)
        wait_for_port(self.host, self.port)

    def _write(self) -> None:
        super()._write()
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGHUP)


def needs_mosquitto() -> None:
    if not shutil.which(MOSQUITTO):
        prerequisite_missing("Mosquitto", "`make mqtt-tools` (apt-get install mosquitto)")


@pytest.fixture(params=["embedded", "mosquitto"])
def broker(request):
    if request.param == "mosquitto":
        needs_mosquitto()
    server = EmbeddedBroker() if request.param == "embedded" else PrivateMosquitto()
    server.start()
    yield server
    server.stop()


def instance_login(broker: EmbeddedBroker, name: str) -> Login:
    login = Login(f"hive-instance-{name}", secrets.token_urlsafe(16))
    broker.grant(login, grants("instance", name, NAMESPACE))
    return login


def test_a_client_without_a_login_or_with_a_wrong_one_is_refused(broker: EmbeddedBroker) -> None:
    assert accepts_anonymous(broker.host, broker.port) is False
    assert connack(broker.host, broker.port, None) != 0
    assert connack(broker.host, broker.port, (broker.login.username, "not-the-password")) != 0
    assert connack(broker.host, broker.port, ("nobody", broker.login.password)) != 0
    assert connack(broker.host, broker.port, broker.credentials) == 0


def test_an_instance_login_reaches_its_own_topics_alone(broker: EmbeddedBroker) -> None:
    a, b = instance_login(broker, "alpha"), instance_login(broker, "beta")
    backend = broker.probe()
    backend.subscribe(f"{NAMESPACE}/#")
    backend.subscribe("hive/rpc/#")
    bot_a = MqttProbe(broker.host, broker.port, login=(a.username, a.password))
    bot_b = MqttProbe(broker.host, broker.port, login=(b.username, b.password))
    try:
        # The embedded broker refuses the subscription (SUBACK 0x80); Mosquitto grants it and delivers nothing
        refused = False if isinstance(broker, EmbeddedBroker) and not isinstance(broker, PrivateMosquitto) else None
        for foreign in ("#", f"{NAMESPACE}/beta/#", f"{NAMESPACE}/+/stop", f"{NAMESPACE}/beta/stop", "$SYS/#"):
            bot_a.subscribe(foreign, granted=refused)
        bot_a.subscribe(f"{NAMESPACE}/alpha/#")
        bot_b.subscribe(f"{NAMESPACE}/beta/#")

        for forbidden in ("beta/stop", "beta/status_updates", "beta/hb", "alpha/stop", "alpha/config"):
            bot_a.publish(f"{NAMESPACE}/{forbidden}", {"header": {"reply_to": "x"}, "data": {}})
        bot_a.publish(f"{NAMESPACE}/alpha/hb", {"ts": 1})                     # its own bot topic: through
        backend.wait_for(f"{NAMESPACE}/alpha/hb")
        backend.publish(f"{NAMESPACE}/beta/stop", {"marker": True})           # after A's attempts
        bot_b.wait_for(f"{NAMESPACE}/beta/stop")
        assert [m.json() for m in bot_b.received("#")] == [{"marker": True}]  # B never saw A's
        assert {m.topic for m in bot_a.received("#")} == {f"{NAMESPACE}/alpha/hb"}  # nor A anything of B's
        backend.wait_for(f"{NAMESPACE}/beta/stop")
        assert [m.topic for m in backend.received(f"{NAMESPACE}/#")] == [f"{NAMESPACE}/alpha/hb",
                                                                         f"{NAMESPACE}/beta/stop"]

        backend.publish(f"{NAMESPACE}/alpha/stop", {"header": {"reply_to": "hive/rpc/node/1"}, "data": {}})
        bot_a.wait_for(f"{NAMESPACE}/alpha/stop")                            # the backend's commands reach A
        bot_a.publish("hive/rpc/node/1", {"data": {"status": 200}})           # and A's reply reaches the backend
        backend.wait_for("hive/rpc/node/1")
    finally:
        for probe in (backend, bot_a, bot_b):
            probe.close()


def test_a_login_added_or_revoked_is_enforced_without_restarting_the_broker(broker: EmbeddedBroker) -> None:
    assert broker.process is not None
    pid = broker.process.pid
    watcher = broker.probe()
    watcher.subscribe(f"{NAMESPACE}/#")
    late = Login("hive-instance-late", secrets.token_urlsafe(16))
    assert connack(broker.host, broker.port, (late.username, late.password)) != 0
    try:
        broker.grant(late, grants("instance", "late", NAMESPACE))
        bot = MqttProbe(broker.host, broker.port, login=(late.username, late.password))
        bot.publish(f"{NAMESPACE}/late/hb", {"ts": 1})
        watcher.wait_for(f"{NAMESPACE}/late/hb")
        bot.close()
        broker.revoke(late.username)
        assert connack(broker.host, broker.port, (late.username, late.password)) != 0
        watcher.publish(f"{NAMESPACE}/still/hb", {"ts": 2})  # the others' connections were never dropped
        watcher.wait_for(f"{NAMESPACE}/still/hb")
        assert broker.process.pid == pid and broker.process.poll() is None
    finally:
        watcher.close()


MM = {"id": "mm1", "strategy": "market_maker"}


@pytest.mark.usefixtures("running_broker")
def test_each_instance_logs_in_as_itself_made_and_removed_without_a_broker_restart(
        hive_backend: RunningBackend, client: HiveClient, data_dir: Path) -> None:
    status = client.broker_status()
    assert (status["login_required"], status["anonymous_allowed"]) == (True, False)
    where = EmbeddedBroker()
    where.port = status["port"]
    assert accepts_anonymous(where.host, where.port) is False

    client.create_instance({"name": "late", "strategies": [MM]})  # after the broker started
    wait_until(lambda: client.get_instance("late")["state"] == "running", 15, message="late running")
    folder = data_dir / "instances" / "late"
    login = json.loads((folder / "mqtt_auth.json").read_text())
    own = (login["mqtt_username"], login["mqtt_password"])
    assert own[0] == "hive-instance-late" and own[1] not in (folder / "config.yml").read_text()
    assert own[1] not in json.dumps(client.broker_logins())
    bot = MqttProbe(where.host, where.port, login=own)
    try:
        bot.subscribe("#", granted=False)
        bot.subscribe("hbot/other/#", granted=False)
        bot.subscribe("hbot/late/#")
    finally:
        bot.close()

    client.stop_instance("late")
    client.delete_instance("late")
    assert connack(where.host, where.port, own) != 0                           # its login goes with it
    assert "hive-instance-late" not in [entry["username"] for entry in client.broker_logins()]
    assert client.broker_status()["pid"] == status["pid"]     # the broker was never restarted


@pytest.mark.usefixtures("running_broker")
def test_an_extra_login_is_shown_once_confined_to_its_bot_and_revocable(client: HiveClient) -> None:
    created = client.create_broker_login("real-hb", "bot", "handmade")
    assert (created["role"], created["scope"]) == ("bot", "handmade") and len(created["password"]) >= 24
    listed = {entry["username"]: entry for entry in client.broker_logins()}
    assert "password" not in listed["real-hb"] and created["password"] not in json.dumps(listed)
    assert {listed["hive-backend"]["role"]} == {"backend"}

    status = client.broker_status()
    where = EmbeddedBroker()
    where.port = status["port"]
    watcher = MqttProbe(where.host, where.port, login=broker_login(client))  # a controller: every topic
    bot = MqttProbe(where.host, where.port, login=("real-hb", created["password"]))
    try:
        watcher.subscribe("hbot/#")
        bot.publish("hbot/someone/stop", {"data": {}})
        bot.publish("hbot/handmade/hb", {"ts": 1})
        watcher.wait_for("hbot/handmade/hb")
        assert [m.topic for m in watcher.received("hbot/#")] == ["hbot/handmade/hb"]
    finally:
        bot.close()
        watcher.close()

    for refused, code in ((lambda: client.create_broker_login("real-hb", "bot", "x"), "duplicate_login"),
                          (lambda: client.create_broker_login("hive-mine", "controller"), "validation_error"),
                          (lambda: client.create_broker_login("nobot", "bot"), "validation_error"),
                          (lambda: client.revoke_broker_login("hive-backend"), "own_login"),
                          (lambda: client.revoke_broker_login("nobody"), "not_found")):
        with pytest.raises(BackendError) as raised:
            refused()
        assert raised.value.code == code, raised.value.message
    client.revoke_broker_login("real-hb")
    assert connack(where.host, where.port, ("real-hb", created["password"])) != 0
    audit = [(entry["outcome"], entry["detail"]) for entry in client.audit_log() if entry["action"] == "broker"]
    assert ("login_created", "real-hb (bot of handmade)") in audit and ("login_revoked", "real-hb (bot of handmade)") \
        in audit and ("start_requested", f"embedded broker on port {status['port']}") in audit
    assert created["password"] not in json.dumps(client.audit_log())


def test_an_external_broker_taking_anonymous_clients_is_flagged_and_the_written_files_make_it_enforce_the_acl(
        hive_backend: RunningBackend, client: HiveClient) -> None:
    needs_mosquitto()
    external = PrivateMosquitto()
    external.anonymous = True
    external.start()
    try:
        status = client.use_external_broker(external.host, external.port)
        assert status["anonymous_allowed"] is True and "WARNING" in status["reason"], status
        assert client.broker_access()["anonymous_allowed"] is True
        controller = broker_login(client)                      # what the backend is to log in with, later
        client.create_instance({"name": "ext1", "strategies": [MM], "start": False})
        services = hive_backend.services
        own = services.broker.instance_login("ext1")

        setup = client.broker_access()
        assert {"allow_anonymous false", "password_file /etc/mosquitto/hive/passwd",
                "acl_file /etc/mosquitto/hive/acl"} == set(setup["mosquitto_lines"])
        external.stop()                                        # the operator installs the files, as told
        external.anonymous = False
        external._logins.clear()
        for name in ("passwd", "acl"):
            (external.folder / name).write_text(Path(setup[f"{'password' if name == 'passwd' else 'acl'}_file"])
                                                .read_text())
        external.start()
        status = client.use_external_broker(external.host, external.port, *controller)
        assert (status["anonymous_allowed"], status["fleet_connected"]) == (False, True), status
        assert connack(external.host, external.port, None) != 0
        bot = MqttProbe(external.host, external.port, login=own)
        watcher = MqttProbe(external.host, external.port, login=controller)
        try:
            watcher.subscribe("hbot/#")
            bot.subscribe("hbot/#", granted=None)
            bot.publish("hbot/other/stop", {"data": {}})
            bot.publish("hbot/ext1/hb", {"ts": 1})
            watcher.wait_for("hbot/ext1/hb")
            watcher.publish("hbot/other/hb", {"ts": 2})
            watcher.wait_for("hbot/other/hb")
            assert [m.topic for m in watcher.received("hbot/#")] == ["hbot/ext1/hb", "hbot/other/hb"]
            assert [m.topic for m in bot.received("#")] == ["hbot/ext1/hb"]  # it reads under hbot/ext1/ alone
        finally:
            bot.close()
            watcher.close()
    finally:
        external.stop()
