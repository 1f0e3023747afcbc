"""Per-strategy control over MQTT (hive extensions in docs/protocol.md), against a real broker and a real
hive_core process; requests and replies are raw JSON through tests/mqtt_probe.py."""
from __future__ import annotations

import time

import pytest

from tests.hive_core.conftest import instance_config, wait_answering
from tests.mqtt_probe import MqttProbe

pytestmark = pytest.mark.timeout(120)

HEADER = {"timestamp": 0, "content_type": "json", "encoding": "utf8", "agent": "commlib"}


class Caller:
    def __init__(self, probe: MqttProbe, prefix: str) -> None:
        self.probe, self.prefix, self.n = probe, prefix, 0

    def __call__(self, command: str, data: dict, timeout: float = 10.0) -> dict:
        self.n += 1
        reply_to = f"test/replies/{self.n}"
        self.probe.publish(f"{self.prefix}/{command}", {"header": {**HEADER, "reply_to": reply_to}, "data": data})
        [message] = self.probe.wait_for(reply_to, timeout=timeout)
        assert message.qos == 1
        body = message.json()
        assert set(body) == {"header", "data"} and body["header"]["reply_to"] == ""
        return body["data"]


def performance_where(probe: MqttProbe, prefix: str, predicate, after: float, timeout: float = 15.0) -> dict:
    [message] = probe.wait_for(f"{prefix}/performance", lambda m: m.at > after and predicate(m.json()),
                               timeout=timeout)
    return message.json()


def test_one_strategy_is_stopped_started_added_reloaded_removed_and_resumed_over_mqtt(
        mqtt_broker, mqtt_probe, spawn_hive, strategy_dir):
    config = instance_config(mqtt_broker, [{"id": "mm1", "strategy": "market_maker"},
                                           {"id": "taker", "strategy": "taker", "interval": 0.5},
                                           {"id": "bad", "strategy": "broken_tick", "interval": 0.2}])
    config["strategy_dirs"] = [str(strategy_dir)]
    hive = spawn_hive(config)
    prefix = hive.prefix
    wait_answering(mqtt_probe, prefix)
    call = Caller(mqtt_probe, prefix)

    # stop / start with `strategy`: only that one
    sent = time.time()
    assert call("stop", {"strategy": "taker", "async_backend": False}) == \
        {"status": 200, "msg": "", "strategy": "taker", "strategy_status": "stopped"}
    report = performance_where(mqtt_probe, prefix, lambda r: r["taker"]["status"] == "stopped", sent)
    assert report["mm1"]["status"] == "running"
    sent = time.time()
    assert call("start", {"strategy": "taker", "async_backend": False})["strategy_status"] == "running"
    performance_where(mqtt_probe, prefix, lambda r: r["taker"]["status"] == "running", sent)

    # add: a config-like entry; it ticks and trades under its own id
    added = call("strategy/add", {"id": "t2", "strategy": "taker", "interval": 0.5, "params": {"amount": 0.01}})
    assert added == {"status": 200, "msg": "", "strategy": "t2", "strategy_status": "running"}
    mqtt_probe.wait_for(f"{prefix}/events", lambda m: m.json()["type"] == "OrderFilled"
                        and m.json()["data"]["controller_id"] == "t2", timeout=10)
    mqtt_probe.wait_for(f"{prefix}/notify", lambda m: m.json()["msg"] == "strategy t2 added and started", timeout=10)
    duplicate = call("strategy/add", {"id": "t2", "strategy": "taker"})
    assert duplicate == {"status": 400, "msg": "data.id: duplicate strategy id 't2'"}
    wrong_type = call("strategy/add", {"id": "t3", "strategy": "taker", "interval": "fast"})
    assert wrong_type["status"] == 400 and wrong_type["msg"].startswith("data.interval: Input should be a valid number")

    # reload and remove
    reloaded = call("strategy/reload", {"strategy": "t2"})
    assert reloaded["status"] == 200 and reloaded["strategy_status"] == "running"
    unknown = call("strategy/remove", {"strategy": "nope"})
    assert unknown == {"status": 400, "msg": "data.strategy: unknown strategy id 'nope'; known: mm1, taker, bad, t2"}
    missing = call("strategy/reload", {})
    assert missing["status"] == 400 and missing["msg"] == "data.strategy: Field required"
    sent = time.time()
    assert call("strategy/remove", {"strategy": "t2"})["strategy_status"] == "removed"
    report = performance_where(mqtt_probe, prefix, lambda r: "t2" not in r, sent)
    assert set(report) == {"mm1", "taker", "bad"}

    # quarantine is reported (status error + reason, and a notify); resume puts it back on the clock
    report = performance_where(mqtt_probe, prefix, lambda r: r["bad"]["status"] == "error", 0)
    assert "quarantined after 5 consecutive failures" in report["bad"]["error"]
    assert report["bad"]["custom_info"]["quarantines"] == 1
    mqtt_probe.wait_for(f"{prefix}/notify", lambda m: m.json()["msg"].startswith("strategy bad is in error"),
                        timeout=10)
    resumed = call("strategy/resume", {"strategy": "bad"})
    assert resumed == {"status": 200, "msg": "", "strategy": "bad", "strategy_status": "running"}
    report = performance_where(mqtt_probe, prefix, lambda r: r["bad"]["custom_info"]["quarantines"] == 2, 0)
    assert report["bad"]["custom_info"]["errors"] == 10
    assert report["mm1"]["status"] == "running" and report["taker"]["custom_info"]["errors"] == 0
    info = report["mm1"]["custom_info"]
    assert "instance" not in info and info["lag_p99_ms"] < 1000 and info["starvation"] == 0
    metrics = mqtt_probe.wait_for(f"{prefix}/metrics", lambda m: m.json()["instance"]["strategies"] == 3,
                                  timeout=10)[0]
    assert isinstance(metrics.json()["timestamp"], int)   # (QoS as delivered is the broker's choice)
