"""A raw MQTT client for tests: records what it receives and waits, bounded, for what it expects.

It deliberately uses plain paho-mqtt and JSON, not the project's own bridge or fleet code, so that
tests check the wire format itself.
"""
from __future__ import annotations

import itertools
import json
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.client import topic_matches_sub

from hive_core.remote.nodelay import nodelay
from tests.polling import wait_until

_ids = itertools.count()


@dataclass(frozen=True)
class Received:
    topic: str
    payload: bytes
    qos: int
    retain: bool
    at: float

    def json(self) -> Any:
        return json.loads(self.payload)


class MqttProbe:
    def __init__(self, host: str, port: int, client_id: str | None = None, keepalive: int = 60,
                 login: tuple[str, str] | None = None, will: tuple[str, str] | None = None) -> None:
        """`login`: (username, password), as Hive's brokers refuse clients without one; `will`: (topic, payload) of a
        Last Will (QoS 1). `_on_connect` runs on every accepted (re)connect, the first one included."""
        self.messages: list[Received] = []
        self._lock = threading.Lock()
        self._client = nodelay(mqtt.Client(mqtt.CallbackAPIVersion.VERSION2,
                                           client_id=client_id or f"probe-{next(_ids)}"))
        self._client.on_connect = self._on_connect
        self._client.on_message = self._on_message
        self._client.on_subscribe = self._on_subscribe
        if will is not None:
            self._client.will_set(*will, qos=1)
        self._acknowledged: dict[int, list[int]] = {}  # message id of each SUBACK received: its reason codes
        if login is not None:
            self._client.username_pw_set(*login)
        self._client.connect(host, port, keepalive=keepalive)
        self._client.loop_start()

    def _on_connect(self, _client, _userdata, _flags, _reason_code, _properties) -> None:
        pass

    def _on_message(self, _client, _userdata, message) -> None:
        with self._lock:
            self.messages.append(Received(message.topic, message.payload, message.qos, message.retain, time.time()))

    def _on_subscribe(self, _client, _userdata, mid, reason_codes, _properties) -> None:
        with self._lock:
            self._acknowledged[mid] = [code.value for code in reason_codes]

    def subscribe(self, topic: str, qos: int = 1, timeout: float = 10.0, granted: bool | None = True) -> None:
        """Subscribe and return once the broker's SUBACK arrived, so what the test publishes next is seen;
        the SUBACK must grant it (with `granted` False: refuse it, 0x80; None: either)."""
        self.wait_connected(timeout)
        result, mid = self._client.subscribe(topic, qos)
        assert result == mqtt.MQTT_ERR_SUCCESS, f"subscribe {topic} failed: {result}"
        codes = wait_until(lambda: self._acknowledged.get(mid), timeout, interval=0.01, message=f"SUBACK for {topic}")
        if granted is not None:
            assert (codes[0] < 0x80) == granted, f"SUBACK for {topic}: {codes} (expected granted: {granted})"

    def wait_connected(self, timeout: float = 10.0) -> None:
        """Until the broker's CONNACK accepted this client (paho sends nothing before it)."""
        wait_until(self._client.is_connected, timeout, interval=0.01, message="the probe's CONNACK")

    def publish(self, topic: str, payload: Any, qos: int = 1) -> None:
        self.wait_connected()
        data = payload if isinstance(payload, bytes | str) else json.dumps(payload)
        self._client.publish(topic, data, qos=qos).wait_for_publish(timeout=5)

    def received(self, pattern: str) -> list[Received]:
        with self._lock:
            return [m for m in self.messages if topic_matches_sub(pattern, m.topic)]

    def wait_for(self, pattern: str, predicate: Callable[[Received], bool] = lambda _m: True,
                 timeout: float = 15.0, count: int = 1) -> list[Received]:
        """Return the first `count` messages on `pattern` that satisfy `predicate`, or fail after `timeout`."""
        def matches() -> list[Received] | None:
            found = [m for m in self.received(pattern) if predicate(m)]
            return found[:count] if len(found) >= count else None

        def seen() -> str:
            with self._lock:
                topics = sorted({m.topic for m in self.messages})[:20]
            return f"{count} message(s) on {pattern}; topics seen: {topics}"

        return wait_until(matches, timeout, interval=0.01, message=seen)

    def close(self) -> None:
        self._client.loop_stop()
        self._client.disconnect()


def foreign_client(host: str, port: int, login: tuple[str, str], name: str = "hbotrc") -> MqttProbe:
    """A controller tool that is not Hive's backend (hbotrc, Hummingbot's API server) under its own client id,
    subscribed to everything. Tests connect such a client only through here, so a broker login goes in one place."""
    probe = MqttProbe(host, port, client_id=f"{name}-{next(_ids)}", login=login)
    probe.subscribe("#")
    return probe


def connack(host: str, port: int, login: tuple[str, str] | None, timeout: float = 10.0) -> int:
    """The CONNACK's return code for a CONNECT with `login` (None: anonymous): 0 accepted, 5 not authorised
    (a broker that closes without a CONNACK counts as 5 too)."""
    answered = threading.Event()
    codes: list[int] = []
    client = nodelay(mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"check-{secrets.token_hex(4)}"))
    client.reconnect_delay_set(30, 30)  # no second attempt within the check

    def on_connect(_client, _userdata, _flags, reason_code, _properties) -> None:
        codes.append(reason_code.value)
        answered.set()

    def on_disconnect(_client, _userdata, _flags, reason_code, _properties) -> None:
        if not codes:
            codes.append(reason_code.value or 5)
        answered.set()

    client.on_connect, client.on_disconnect = on_connect, on_disconnect
    if login is not None:
        client.username_pw_set(*login)
    client.connect(host, port)
    client.loop_start()
    try:
        assert answered.wait(timeout), f"no CONNACK from {host}:{port} within {timeout} s"
    finally:
        client.loop_stop()
        client.disconnect()
    return codes[0]
