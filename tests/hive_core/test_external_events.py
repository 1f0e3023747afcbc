"""External events (docs/protocol.md): name mapping, ctx.events listeners by name / '*' / raw topic,
bounded queues drained on the tick, publishing, and the mqtt_external_events switch.

The runtime-level tests run in virtual time; the wire tests run hive_core as a subprocess against a real
broker and publish raw MQTT through tests/mqtt_probe.py."""
from __future__ import annotations

import textwrap
import time

import pytest

from hive_core.context import EventQueue, EventsAPI, topic_matches
from hive_core.market.types import ExternalEvent
from hive_core.strategy import Strategy
from tests.hive_core.conftest import instance_config, wait_answering
from tests.hive_core.test_runtime import runtime_for

pytestmark = pytest.mark.timeout(120)


class Listener(Strategy):
    """Registers listeners and a small queue; drains the queue on its tick."""

    def on_start(self):
        log = self.ctx.state.setdefault("log", [])
        self.ctx.events.on("tv.signal.buy", lambda event: log.append(("named", event.name, event.data)))
        self.ctx.events.on("*", lambda event: log.append(("any", event.name)))
        self.ctx.events.on("boom", self.fail)
        self.queue = self.ctx.events.queue("q.item", maxlen=3)
        self.ctx.events.on_topic("feeds/+/price", lambda message: log.append(("topic", message.topic,
                                                                              message.payload)))

    def fail(self, event):
        raise RuntimeError("listener failed")

    def on_tick(self, now):
        drained = self.queue.drain()
        if drained:
            self.ctx.state["log"].append(("drained", [event.data["n"] for event in drained], self.queue.dropped))


def test_listeners_by_name_and_star_queues_and_topics_in_the_runtime():
    runtime = runtime_for([{"id": "l1", "strategy": "listener"}], classes={"listener": Listener})
    runtime.run_virtual(1.5)
    log = runtime.host.slots["l1"].ctx.state["log"]
    runtime.delivery.deliver_event(ExternalEvent("tv.signal.buy", data={"price": 1}))
    runtime.delivery.deliver_event(ExternalEvent("tv.signal.sell"))
    assert log == [("named", "tv.signal.buy", {"price": 1}), ("any", "tv.signal.buy"), ("any", "tv.signal.sell")]
    for n in range(5):                                   # a bound of 3: the two oldest are dropped
        runtime.delivery.deliver_event(ExternalEvent("q.item", sequence=n, data={"n": n}))
    assert ("drained", [2, 3, 4], 2) not in log          # nothing ran yet: queues are drained on the tick
    runtime.run_virtual(1.0)
    assert ("drained", [2, 3, 4], 2) in log
    # a failing listener is isolated and counted like a failing hook
    errors = runtime.host.slots["l1"].job.errors
    runtime.delivery.deliver_event(ExternalEvent("boom"))
    assert runtime.host.slots["l1"].job.errors == errors + 1 and runtime.host.slots["l1"].job.status == "running"
    # raw topics: relative to the bot's prefix, MQTT wildcards
    runtime.delivery.deliver_topic("hbot/test/feeds/btc/price", b'{"p": 5}')
    runtime.delivery.deliver_topic("hbot/test/feeds/btc/volume", b"1")
    runtime.delivery.deliver_topic("elsewhere/feeds/btc/price", b"x")
    assert log[-1] == ("topic", "hbot/test/feeds/btc/price", {"p": 5})
    assert runtime.delivery.raw_topics() == {"hbot/test/feeds/+/price"}
    # a stopped strategy gets nothing; a restart drops the old listeners (the new object registers again)
    runtime.host.stop_strategy("l1")
    size = len(log)
    runtime.delivery.deliver_event(ExternalEvent("tv.signal.buy"))
    assert len(log) == size
    runtime.host.start_strategy("l1")
    assert len(runtime.host.slots["l1"].ctx.events.subscriptions) == 5


def test_events_api_pieces():
    queue = EventQueue(2)
    for item in range(4):
        queue.put(item)
    assert (len(queue), queue.dropped, queue.received) == (2, 2, 4)
    assert queue.drain(1) == [2] and queue.get() == 3 and queue.get() is None
    with pytest.raises(ValueError):
        EventQueue(0)
    assert topic_matches("a/+/c", "a/b/c") and topic_matches("a/#", "a") and topic_matches("a/#", "a/b/c")
    assert not topic_matches("a/+", "a/b/c") and not topic_matches("a/b", "a/c")
    sent = []
    api = EventsAPI(prefix="hbot/x", publisher=lambda suffix, payload: sent.append((suffix, payload)) or True)
    sub = api.on("a", print)
    api.on_topic("other/bot/out", print, own_prefix=False)
    assert api.topics() == ["other/bot/out"]
    sub.cancel()
    assert api.targets_for_event(ExternalEvent("a")) == []
    assert api.publish("signals/out", {"side": "buy"}) is True
    assert sent[0][0] == "external/event/signals/out"
    assert sent[0][1]["type"] == "eevent" and sent[0][1]["sequence"] == 1 and sent[0][1]["data"] == {"side": "buy"}
    assert EventsAPI(enabled=False, publisher=lambda *_: True).publish("x", {}) is False


WIRE_STRATEGY = '''
from hive_core.strategy import Strategy

class Wire(Strategy):
    """Logs what ctx.events delivers; publishes one event on its first tick."""

    def on_start(self):
        log = self.ctx.logger.info
        self.ctx.events.on("tv.signal.buy", lambda e: log("named %s %s %s %s %s", e.name, e.timestamp, e.sequence,
                                                          e.type, e.data))
        self.ctx.events.on("*", lambda e: log("any %s", e.name))
        self.queue = self.ctx.events.queue("q", maxlen=2)
        self.ctx.events.on_topic("feeds/#", lambda m: log("topic %s %s", m.topic, m.payload))
        self.ctx.events.on_topic("outside/feed", lambda m: log("outside %s", m.payload), own_prefix=False)
        self.sent = False

    def on_tick(self, now):
        if not self.sent:
            self.sent = self.ctx.events.publish("signals/out", {"from": self.ctx.id})
        items = self.queue.drain()
        if items:
            log = self.ctx.logger.info
            log("drained %s dropped %s", [e.sequence for e in items], self.queue.dropped)
'''


def _wire_config(broker, tmp_path, **bridge):
    directory = tmp_path / "wire_strategies"
    directory.mkdir(exist_ok=True)
    (directory / "wire.py").write_text(textwrap.dedent(WIRE_STRATEGY))
    config = instance_config(broker, [{"id": "w", "strategy": "wire", "interval": 3.0}], **bridge)
    config["strategy_dirs"] = [str(directory)]
    return config


def _logged(probe, prefix, text, timeout=10.0):
    return probe.wait_for(f"{prefix}/log", lambda m: text in m.json()["msg"], timeout=timeout)[0].json()["msg"]


def test_external_events_over_mqtt_reach_listeners_queues_and_topics(mqtt_broker, mqtt_probe, spawn_hive, tmp_path):
    hive = spawn_hive(_wire_config(mqtt_broker, tmp_path))
    prefix = hive.prefix
    mqtt_probe.wait_for(f"{prefix}/status_updates", lambda m: m.json()["msg"] == "online", timeout=20)
    # its own publication: P/external/event/signals/out with the protocol's fields
    [out] = mqtt_probe.wait_for(f"{prefix}/external/event/signals/out", timeout=10)
    body = out.json()
    assert set(body) == {"timestamp", "sequence", "type", "data"} and body["type"] == "eevent"
    assert body["data"] == {"from": "w"} and isinstance(body["timestamp"], int)
    _logged(mqtt_probe, prefix, "any signals.out")                  # a bot hears its own prefix too
    wait_answering(mqtt_probe, prefix)
    full = {"timestamp": 17, "sequence": 4, "type": "eevent", "data": {"px": 1.5}}
    mqtt_probe.publish(f"{prefix}/external/event/tv/signal/buy", full, qos=0)
    assert "named tv.signal.buy 17 4 eevent {'px': 1.5}" in _logged(mqtt_probe, prefix, "named tv.signal.buy")
    mqtt_probe.publish(f"{prefix}/external/event/tv/signal/buy", {}, qos=0)       # defaults for missing fields
    _logged(mqtt_probe, prefix, "named tv.signal.buy 0 0 eevent {}")
    mqtt_probe.publish(f"{prefix}/external/event/a/b", {"data": {}}, qos=0)
    _logged(mqtt_probe, prefix, "any a.b")
    mqtt_probe.publish(f"{prefix}/feeds/eth", {"p": 2}, qos=0)
    _logged(mqtt_probe, prefix, f"topic {prefix}/feeds/eth {{'p': 2}}")
    mqtt_probe.publish("outside/feed", "plain text", qos=0)
    _logged(mqtt_probe, prefix, "outside plain text")
    for sequence in range(1, 6):                                 # queue of 2, drained every 3 s
        mqtt_probe.publish(f"{prefix}/external/event/q", {"sequence": sequence}, qos=0)
    assert "dropped 3" in _logged(mqtt_probe, prefix, "drained [4, 5]", timeout=10)


def test_external_events_switched_off(mqtt_broker, mqtt_probe, spawn_hive, tmp_path):
    hive = spawn_hive(_wire_config(mqtt_broker, tmp_path, mqtt_external_events=False))
    prefix = hive.prefix
    mqtt_probe.wait_for(f"{prefix}/status_updates", lambda m: m.json()["msg"] == "online", timeout=20)
    mqtt_probe.wait_for(f"{prefix}/hb", lambda m: True, count=2, timeout=10)
    mqtt_probe.publish(f"{prefix}/external/event/tv/signal/buy", {"data": {}}, qos=0)
    mqtt_probe.publish(f"{prefix}/feeds/eth", {"p": 2}, qos=0)
    wait_answering(mqtt_probe, prefix)             # handled after anything of the above that reached the bot
    answered = time.time()
    [report] = mqtt_probe.wait_for(f"{prefix}/performance", lambda m: m.at > answered, timeout=10)
    ticks = report.json()["w"]["custom_info"]["ticks"]
    mqtt_probe.wait_for(f"{prefix}/performance", lambda m: m.json()["w"]["custom_info"]["ticks"] > ticks,
                        timeout=15)                # and a tick after that
    logs = [m.json()["msg"] for m in mqtt_probe.received(f"{prefix}/log")]
    assert not [line for line in logs if line.startswith(("named", "any", "topic", "outside"))]
    assert mqtt_probe.received(f"{prefix}/external/event/signals/out") == []      # publish() is off too
