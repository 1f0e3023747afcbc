"""The broker container's clients and CPU, for real: Mosquitto's connection messages, read from the container's log,
list who is connected and which bot each is; its CPU % comes from two stats samples."""
from __future__ import annotations

import pytest

from tests.backend.conftest import broker_login
from tests.docker.test_broker_container import start_backend  # noqa: F401  (the fixture, here too)
from tests.mqtt_probe import MqttProbe
from tests.polling import wait_until

pytestmark = pytest.mark.slow


def _ids(client) -> set[str]:
    return {entry["client_id"] for entry in client.broker_clients()["clients"]}


def test_the_broker_containers_clients_and_cpu(start_backend) -> None:  # noqa: F811
    backend = start_backend(broker_metrics_interval=0.5)
    client = backend.client
    status = client.start_broker(kind="container")
    assert status["state"] == "running", status
    port = status["port"]
    bot_login = broker_login(client, "bot", "beta")
    wait_until(lambda: client.broker_status()["health"] == "healthy", 15, message="healthy")
    bot = MqttProbe("127.0.0.1", port, client_id="hbot.beta", login=bot_login)
    try:
        bot.wait_connected()
        wait_until(lambda: "hbot.beta" in _ids(client), 15, message="the bot listed")
        answer = client.broker_clients()
        assert (answer["kind"], answer["source"]) == ("container", "broker_log")
        by_role = {entry["role"]: entry for entry in answer["clients"]}
        assert by_role["bot"]["client_id"] == "hbot.beta" and by_role["bot"]["who"] == "bot beta"
        assert by_role["bot"]["username"] == bot_login[0] and by_role["bot"]["address"].startswith("127.0.0.1:")
        assert by_role["backend"]["who"] == "the backend"
    finally:
        bot.close()
    wait_until(lambda: "hbot.beta" not in _ids(client), 15, message="the bot gone from the list")

    client.broker_status()  # the first stats sample: the CPU delta starts there
    assert client.broker_status()["cpu_percent"] is not None
    points = wait_until(lambda: [p for p in client.broker_metrics() if p["cpu_percent"] is not None], 15,
                        message="a sample of the container's CPU")
    assert points[-1]["cpu_percent"] >= 0 and points[-1]["memory_bytes"] > 0
