"""The simulated fleet of the benchmarks (benchmarks/sim_fleet.py) against a real broker and a real backend process:
every bot is listed with its strategies and answers a command (the fleet in a process of its own, as the benchmark
runs it); a killed bot's Last Will reaches the broker, a cleanly disconnected one's does not."""
from __future__ import annotations

import pytest

from backend.client import HiveClient
from benchmarks.sim_fleet import CONTROLLERS, SimFleet, SimFleetProcess
from tests.conftest import EmbeddedBroker
from tests.frontend.backend_process import BackendProcess
from tests.mqtt_probe import MqttProbe
from tests.polling import wait_until

pytestmark = pytest.mark.timeout(120)

BOTS = 30


@pytest.fixture
def external_backend(tmp_path, mqtt_broker: EmbeddedBroker):
    """A backend process using the test's broker as its external one."""
    username, password = mqtt_broker.credentials
    server = BackendProcess(tmp_path / "data", broker_port=mqtt_broker.port, settings={
        "HIVE_BROKER_EXTERNAL": "true", "HIVE_BROKER_HOST": mqtt_broker.host,
        "HIVE_BROKER_USERNAME": username, "HIVE_BROKER_PASSWORD": password})
    server.start()
    client = HiveClient(server.url, server.username, server.password, timeout=30)
    yield client
    client.close()
    server.stop()


def test_thirty_simulated_bots_are_listed_and_each_answers_a_command(external_backend: HiveClient,
                                                                   mqtt_broker: EmbeddedBroker) -> None:
    with SimFleetProcess(mqtt_broker.host, mqtt_broker.port, login=mqtt_broker.credentials, prefix="t") as fleet:
        names = fleet.add(BOTS)
        wait_until(lambda: fleet.connected() == BOTS, 30, message=f"{BOTS} sim bots connected")
        assert fleet.failures == []

        def all_listed() -> list[dict] | None:
            listed = [item for item in external_backend.fleet() if item["name"] in names]
            return listed if len(listed) == BOTS and all(i["strategy_count"] == len(CONTROLLERS)
                                                         for i in listed) else None
        listed = wait_until(all_listed, 30, message=f"{BOTS} sim bots listed with their strategies")
        assert {item["runtime"] for item in listed} == {"external"}
        assert {item["state"] for item in listed} == {"running"}

        for name in names:
            reply = external_backend.command(name, "status", {"n": 1})
            assert reply["status"] == 200 and reply["bot"] == name and reply["echo"] == {"n": 1}
        assert fleet.commands_answered() == BOTS


def test_a_killed_bot_leaves_its_will_and_a_clean_one_does_not(mqtt_broker: EmbeddedBroker,
                                                              mqtt_probe: MqttProbe) -> None:
    mqtt_probe.subscribe("hbot/+/status_updates")
    with SimFleet(mqtt_broker.host, mqtt_broker.port, login=mqtt_broker.credentials, prefix="w") as fleet:
        crashed, leaving = fleet.add(2)
        wait_until(lambda: fleet.connected() == 2, 20, message="two sim bots connected")
        mqtt_probe.wait_for("hbot/+/status_updates", lambda m: m.json()["msg"] == "online", count=2)
        fleet.disconnect(leaving)
        fleet.kill(crashed)
        [will] = mqtt_probe.wait_for("hbot/+/status_updates", lambda m: m.json()["msg"] == "offline")
        assert will.topic == f"hbot/{crashed}/status_updates" and will.qos == 1
        assert will.json()["type"] == "availability" and isinstance(will.json()["timestamp"], int)
        wait_until(lambda: fleet.connected() == 0, 10, message="both sim bots gone")
        assert mqtt_probe.received(f"hbot/{leaving}/status_updates")[-1].json()["msg"] == "online"
