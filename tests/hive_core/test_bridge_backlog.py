"""The bridge's outgoing queues while the broker is unreachable: logs and events bounded (oldest log lines
dropped first, counted), command replies in their own queue that logs never displace; flushed in that
order (replies first) on connect. No broker needed: a bridge that was never connected."""
from __future__ import annotations

import json

from hive_core.config import MqttBridgeConfig
from hive_core.remote import bridge as bridge_module
from hive_core.remote.bridge import MqttBridge


class FakeClient:
    def __init__(self) -> None:
        self.sent: list[tuple[str, str, int]] = []

    def publish(self, topic, text, qos=0):
        self.sent.append((topic, text, qos))

        class Info:
            rc = 0
        return Info()


def test_backlogs_are_bounded_keep_replies_and_flush_replies_first(monkeypatch):
    monkeypatch.setattr(bridge_module, "BACKLOG", 5)
    bridge = MqttBridge(MqttBridgeConfig(), "b1")
    for n in range(8):
        bridge.publish_log({"msg": f"line {n}"})
    bridge.publish_event("OrderFilled", {"n": 1}, 0.0)
    for n in range(3):
        bridge.publish_reply(f"rpc-{n}", {"status": 200, "msg": ""})
    figures = bridge.backlog_figures()
    assert figures["mqtt_backlog_logs"] == 5 and figures["mqtt_dropped_logs"] == 3
    assert figures["mqtt_backlog_replies"] == 3 and figures["mqtt_dropped_replies"] == 0
    assert figures["mqtt_backlog_events"] == 1 and figures["mqtt_connected"] == 0

    client = FakeClient()
    bridge._client = client
    bridge.connected.set()
    bridge._flush_backlogs()
    topics = [topic for topic, _text, _qos in client.sent]
    assert topics[:3] == ["rpc-0", "rpc-1", "rpc-2"] and all(qos == 1 for _t, _x, qos in client.sent[:3])
    assert json.loads(client.sent[0][1])["data"] == {"status": 200, "msg": ""}
    assert topics[3] == "hbot/b1/events"
    assert [json.loads(text)["msg"] for topic, text, _ in client.sent[4:]] == [f"line {n}" for n in range(3, 8)]
    assert bridge.backlog_figures()["mqtt_backlog_logs"] == 0
