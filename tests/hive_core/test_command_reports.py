"""Every command that acts is reported by the bot on P/notify and as an INFO line, whoever sent it (docs/protocol.md,
"Command reports"); reads are not. A foreign controller (hbotrc style) talks raw MQTT to a real hive_core process."""
from __future__ import annotations

import pytest

from tests.hive_core.conftest import instance_config, wait_answering
from tests.mqtt_probe import foreign_client

pytestmark = pytest.mark.timeout(90)

COMMLIB = {"timestamp": 1, "content_type": "json", "encoding": "utf8", "agent": "commlib"}


@pytest.fixture
def hbotrc(mqtt_broker):
    client = foreign_client(mqtt_broker.host, mqtt_broker.port, mqtt_broker.credentials)
    yield client
    client.close()


def call(client, prefix: str, command: str, data: dict, reply_to: str) -> dict:
    client.publish(f"{prefix}/{command}", {"header": {**COMMLIB, "reply_to": reply_to}, "data": data})
    return client.wait_for(reply_to, timeout=10)[0].json()["data"]


def reports(client, prefix: str) -> list[dict]:
    return [m.json() for m in client.received(f"{prefix}/notify") if "command" in m.json()]


def test_a_foreign_stop_is_reported_with_its_origin_and_reads_are_not(mqtt_broker, hbotrc, spawn_hive) -> None:
    hive = spawn_hive(instance_config(mqtt_broker, [{"id": "mm1", "strategy": "market_maker"},
                                                    {"id": "mm2", "strategy": "market_maker"}]))
    prefix = hive.prefix
    wait_answering(hbotrc, prefix)
    assert call(hbotrc, prefix, "status", {"async_backend": False}, "rpc-a1")["status"] == 200
    assert call(hbotrc, prefix, "config", {}, "rpc-a2")["status"] == 200

    assert call(hbotrc, prefix, "stop", {"strategy": "mm1", "async_backend": False}, "rpc-b1")["status"] == 200
    [note] = hbotrc.wait_for(f"{prefix}/notify", lambda m: "command" in m.json(), timeout=10)
    body = note.json()
    assert body["msg"] == "command stop for mm1 from commlib (reply_to rpc-b1): ok"
    assert isinstance(body["seq"], int) and isinstance(body["timestamp"], int)
    command = body["command"]
    assert command["name"] == "stop" and command["strategy"] == "mm1" and command["outcome"] == "ok"
    assert command["status"] == 200 and command["origin"] == {"agent": "commlib", "reply_to": "rpc-b1"}
    assert isinstance(command["run"], str) and command["run"]
    hbotrc.wait_for(f"{prefix}/log", lambda m: m.json()["logger_name"] == "hive.commands"
                    and m.json()["msg"] == body["msg"] and m.json()["level_name"] == "INFO", timeout=10)

    # an API-server header names node and message; a refused command is reported as an error
    hbotrc.publish(f"{prefix}/strategy/resume", {"header": {"reply_to": "api/r1", "msg_id": "m7", "node_id": "n1",
                                                            "agent": "hummingbot-api"}, "data": {"strategy": "zz"}})
    hbotrc.wait_for("api/r1", timeout=10)
    refused = hbotrc.wait_for(f"{prefix}/notify", lambda m: m.json().get("command", {}).get("status") == 400,
                              timeout=10)[0].json()
    assert refused["msg"].startswith("command strategy/resume for zz from hummingbot-api (node_id n1, msg_id m7, "
                                     "reply_to api/r1): error: data.strategy: unknown strategy id 'zz'")
    assert refused["command"]["origin"] == {"agent": "hummingbot-api", "node_id": "n1", "msg_id": "m7",
                                            "reply_to": "api/r1"}
    assert [r["command"]["name"] for r in reports(hbotrc, prefix)] == ["stop", "strategy/resume"]   # no reads
