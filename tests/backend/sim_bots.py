"""Simulated bots made of raw MQTT (tests/mqtt_probe.py): they heartbeat and answer the commands of docs/protocol.md.

Nothing here uses the backend's or hive_core's MQTT code: the wire format is written out by hand.
"""
from __future__ import annotations

import json
import threading
import time

import paho.mqtt.client as mqtt

from tests.mqtt_probe import MqttProbe
from tests.polling import wait_until

COMMANDS = ("start", "stop", "config", "import", "status", "history", "balance/limit", "balance/paper")


class SimBot(MqttProbe):
    """A bot `name` under `namespace`: answers every command on `header.reply_to` with
    `{"status": 200, "msg": "", "bot": name, "command": cmd, "echo": data}` (or stays silent when `mute`),
    heartbeats every `hb_interval` s, says `online` and subscribes on every connect (a broker restart included), and
    leaves a Last Will `offline`. `login`: (username, password). For many bots, benchmarks/sim_fleet.py (one thread
    over epoll: paho's own loop, used here, selects and stops connecting at about 340 clients per process)."""

    def __init__(self, host: str, port: int, name: str, namespace: str = "hbot", hb_interval: float = 0.5,
                 mute: bool = False, login: tuple[str, str] | None = None) -> None:
        self.name, self.namespace, self.mute = name, namespace, mute
        self.requests: list[tuple[str, dict]] = []
        # paho waits one keepalive for a CONNACK; a CONNACK lost while the broker restarts must not stall the bot
        # longer than the fleet's command timeouts, so the sim bots keep alive like hive_core's bridge (30 s) or less.
        offline = json.dumps({"timestamp": int(time.time() * 1000), "type": "availability", "msg": "offline"})
        super().__init__(host, port, client_id=f"hbot.{name}", keepalive=10, login=login,
                         will=(f"{namespace}/{name}/status_updates", offline))
        wait_connected(self)  # CONNACK before the caller goes on, even under load
        self._client.reconnect_delay_set(min_delay=1, max_delay=2)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._heartbeat, args=(hb_interval,), daemon=True)
        self._thread.start()

    def _subscribe_all(self) -> None:
        self._client.subscribe([(f"{self.namespace}/{self.name}/{c}", 1) for c in COMMANDS])

    def _on_connect(self, client, _userdata, _flags, reason_code, _properties) -> None:
        if not reason_code.is_failure:
            self._subscribe_all()
            client.publish(f"{self.namespace}/{self.name}/status_updates",
                           json.dumps({"timestamp": int(time.time() * 1000), "type": "availability", "msg": "online"}))

    def _heartbeat(self, interval: float) -> None:
        while not self._stop.wait(interval):
            self._client.publish(f"{self.namespace}/{self.name}/hb", json.dumps({"ts": int(time.time() * 1e6)}))

    def _on_message(self, client, userdata, message) -> None:
        super()._on_message(client, userdata, message)
        command = message.topic.removeprefix(f"{self.namespace}/{self.name}/")
        if command not in COMMANDS:
            return  # amqtt also hands out its retained $SYS/broker/version
        request = json.loads(message.payload)
        with self._lock:
            self.requests.append((command, request))
        reply_to = request["header"].get("reply_to")
        if reply_to and not self.mute:
            reply = {"header": {"reply_to": "", "timestamp": int(time.time() * 1000), "content_type": "json",
                                "encoding": "utf8", "agent": "commlib"},
                     "data": {"status": 200, "msg": "", "bot": self.name, "command": command, "echo": request["data"]}}
            client.publish(reply_to, json.dumps(reply), qos=1)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        super().close()


def wait_connected(bot: SimBot, timeout: float = 10.0) -> None:
    wait_until(bot._client.is_connected, timeout, message=f"sim bot {bot.name} connected")


__all__ = ["COMMANDS", "SimBot", "mqtt", "wait_connected"]
