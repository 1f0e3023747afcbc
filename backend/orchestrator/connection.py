"""The backend's connection to the whole fleet: connect, subscribe, reconnect, publish, request/reply.

It knows topics, not bots: every message heard on the telemetry connection goes to the listener it was given
(the fleet's views, backend/orchestrator/fleet.py); the control connection publishes and hears the replies to its
own requests, each on a topic of its own. Publishes made while the broker is unreachable are held and sent on
reconnect.
"""
from __future__ import annotations

import asyncio
import collections
import itertools
import json
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import paho.mqtt.client as mqtt

from backend.errors import TimedOut, Unavailable
from hive_core.protocol import BOT_TOPICS, COMMAND_TIMEOUTS
from hive_core.remote.nodelay import nodelay

log = logging.getLogger(__name__)

RESEND_INTERVAL = 2.0  # s: a request unanswered across a reconnect is sent again this often (same msg_id)
RECONNECT_SETTLE = 15.0  # s: after a (re)connect, bots may still be resubscribing: requests sent then are resent too
MAX_OUTBOX = 10_000  # publishes held while the broker is unreachable; beyond it the oldest are dropped
_ids = itertools.count()

Listener = Callable[[str, bytes, float], None]  # (topic, payload, receive time)


class LoopSignal:
    """A threading.Event's set() and is_set() for a waiter on an asyncio loop: set from any thread (the MQTT network
    thread), awaited on the loop that made it."""

    def __init__(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._event = asyncio.Event()
        self._set = False

    def set(self) -> None:
        self._set = True
        try:
            self._loop.call_soon_threadsafe(self._event.set)
        except RuntimeError:  # its loop is closed: nobody waits any more
            pass

    def is_set(self) -> bool:
        return self._set

    async def wait(self, timeout: float) -> bool:
        """Whether it was set within `timeout` seconds."""
        try:
            await asyncio.wait_for(self._event.wait(), timeout)
        except TimeoutError:
            return self._event.is_set()
        return True


@dataclass
class Pending:
    """A request sent and not answered yet: when to look again, and what its reply is."""

    connection: FleetConnection
    bot: str
    command: str
    timeout: float
    topic: str
    payload: str
    deadline: float
    generation: int  # the connection's, when it was sent
    settling: bool  # sent within RECONNECT_SETTLE after a reconnect
    box: list[dict[str, Any]] = field(default_factory=list)  # the reply, once it came

    def wait_s(self) -> float:
        return max(0.0, min(RESEND_INTERVAL, self.deadline - time.monotonic()))

    def unanswered(self) -> None:
        """No reply yet: raise TimedOut past the deadline, else send again if a reconnect came since."""
        connection = self.connection
        if time.monotonic() >= self.deadline:
            where = "" if connection.connected else " (the backend is not connected to the broker)"
            raise TimedOut("command_timeout", f"bot {self.bot!r} did not answer the {self.command!r} command "
                                              f"within {self.timeout:g} s{where}")
        if connection.control.connected and (connection.generation != self.generation or self.settling):
            connection.publish(self.topic, self.payload, qos=1)

    def reply(self) -> dict[str, Any]:
        if not self.box:
            raise Unavailable("backend_stopping", f"the {self.command!r} command to bot {self.bot!r} was called off: "
                                                  "the backend is stopping")
        return self.box[0]


class Link:
    """One MQTT client to the broker, kept connected: paho retries with back-off in its own network thread, and
    every (re)connect subscribes again, counts a generation and sends what was published while it was down."""

    def __init__(self, role: str, subscriptions: Callable[[], list[tuple[str, int]]],
                 on_message: Callable[[mqtt.MQTTMessage], None]) -> None:
        self.role = role
        self._subscriptions = subscriptions
        self._on_message = on_message
        self._lock = threading.Lock()
        self._client: mqtt.Client | None = None
        self._address = ""
        self._outbox: collections.deque[tuple[str, str | bytes, int]] = collections.deque(maxlen=MAX_OUTBOX)
        self.generation = 0  # counts (re)connections
        self.connected_at = 0.0  # monotonic time of the last (re)connection
        self._connected = threading.Event()
        self.disconnected_since: float | None = None
        self.connected_since: float | None = None  # wall time of the last (re)connection
        self.last_error: str = ""

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def connect(self, host: str, port: int, login: tuple[str, str] | None) -> None:
        self.disconnect()
        client = nodelay(mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2,
            client_id=f"hive-backend.{socket.gethostname()}.{os.getpid()}.{self.role}.{next(_ids)}",
            clean_session=True,
        ))
        client.on_connect = self._connected_now
        client.on_disconnect = self._lost
        client.on_message = lambda _client, _userdata, message: self._on_message(message)
        client.reconnect_delay_set(min_delay=1, max_delay=5)
        if login is not None:
            client.username_pw_set(*login)
        self._client, self._address = client, f"{host}:{port}"
        self.disconnected_since = time.time()
        client.connect_async(host, port, keepalive=15)
        client.loop_start()

    def disconnect(self) -> None:
        client, self._client = self._client, None
        self._connected.clear()
        if client is not None:
            client.disconnect()
            client.loop_stop()
        self.disconnected_since = time.time()

    def wait_connected(self, timeout: float) -> bool:
        return self._connected.wait(timeout)

    def socket(self) -> Any:
        return None if self._client is None else self._client.socket()

    def _connected_now(self, client: mqtt.Client, _userdata: Any, _flags: Any, reason_code: Any,
                       _properties: Any) -> None:
        if reason_code.is_failure:
            self.last_error = f"the broker refused the connection: {reason_code}"
            return
        client.subscribe(self._subscriptions())
        self.last_error = ""
        self.disconnected_since = None
        self.connected_since = time.time()
        with self._lock:
            self.generation += 1
            self.connected_at = time.monotonic()
            self._connected.set()
            held = list(self._outbox)
            self._outbox.clear()
        for topic, payload, qos in held:  # sent in order, after the subscriptions (replies are heard)
            client.publish(topic, payload, qos=qos)
        log.info("fleet connection up (%s) at %s", self.role, self._address)

    def _lost(self, _client: mqtt.Client, _userdata: Any, _flags: Any, reason_code: Any, _properties: Any) -> None:
        was_connected = self._connected.is_set()
        if was_connected:
            log.warning("fleet connection lost (%s, %s)", self.role, reason_code)
        self._connected.clear()
        self.disconnected_since = self.disconnected_since or time.time()
        if was_connected or not self.last_error:  # a refusal (a wrong login, say) stays what went wrong
            self.last_error = f"connection lost ({reason_code})"

    def publish(self, topic: str, data: str | bytes, qos: int) -> mqtt.MQTTMessageInfo | None:
        """Publish now, or hold it (bounded) while the broker is unreachable and send it on reconnect."""
        with self._lock:
            client = self._client
            if client is None or not self._connected.is_set():
                self._outbox.append((topic, data, qos))
                return None
        return client.publish(topic, data, qos=qos)


class FleetConnection:
    """Two MQTT connections: `telemetry` hears every bot and the broker's statistics; `control` publishes (the
    requests, events and alerts) and hears the replies. Apart, a reply never waits behind the fleet's messages:
    at 1,000 bots, a burst of heartbeats took the one thread reading a shared connection tens of milliseconds, and
    a command's reply queued behind it in the same stream."""

    def __init__(self, namespace: str, listener: Listener, retargeted: Callable[[], None] = lambda: None) -> None:
        """`listener` gets every message but replies; `retargeted` is called when `connect` points at a broker."""
        self.namespace = namespace
        self._listener = listener
        self._retargeted = retargeted
        self._lock = threading.Lock()
        self.node_id = f"hive-backend-{uuid.uuid4().hex[:12]}"
        self.reply_prefix = f"hive/rpc/{self.node_id}"
        self._waiting: dict[str, tuple[threading.Event | LoopSignal, list[dict[str, Any]]]] = {}
        self._target: tuple[str, int] | None = None
        self.telemetry = Link("telemetry", self._telemetry_topics, self._heard)
        self.control = Link("control", lambda: [(f"{self.reply_prefix}/#", 1)], self._replied)
        self._links = (self.telemetry, self.control)

    # --- connection ------------------------------------------------------------------------------
    @property
    def target(self) -> tuple[str, int] | None:
        return self._target

    @property
    def connected(self) -> bool:
        return all(link.connected for link in self._links)

    @property
    def generation(self) -> int:
        """How many times the control connection connected: a request sent before a reconnect is sent again."""
        return self.control.generation

    @property
    def connected_since(self) -> float | None:
        """Wall time of the telemetry connection's last (re)connection: nothing was heard before it."""
        return self.telemetry.connected_since

    @property
    def disconnected_since(self) -> float | None:
        """Since when a connection is down (the earliest of those down); None while both are up."""
        down = [link.disconnected_since or time.time() for link in self._links if not link.connected]
        return min(down) if down else None

    @property
    def last_error(self) -> str:
        return next((link.last_error for link in self._links if link.last_error), "")

    def connect(self, host: str, port: int, force: bool = False, login: tuple[str, str] | None = None) -> None:
        """(Re)point the connections at a broker; paho keeps retrying with back-off in their own threads.

        `force` starts fresh connections even to the same address (a broker that was just started
        should not wait for the back-off of the previous attempts); `login` is the (username, password)
        of a broker that requires one."""
        if self._target == (host, port) and self.telemetry.socket() is not None and not force:
            return
        self.disconnect()
        self._target = (host, port)
        self._retargeted()
        for link in self._links:
            link.connect(host, port, login)

    def disconnect(self) -> None:
        self._target = None
        for link in self._links:
            link.disconnect()

    def abort_requests(self) -> None:
        """Call off every request waiting for its reply (the backend is stopping): each raises Unavailable now
        instead of waiting out its time limit."""
        with self._lock:
            waiting = list(self._waiting.values())
        for arrived, _box in waiting:
            arrived.set()

    def wait_connected(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        return all(link.wait_connected(max(0.0, deadline - time.monotonic())) for link in self._links)

    def _telemetry_topics(self) -> list[tuple[str, int]]:
        return [(f"{self.namespace}/+/{name}", 0) for name in BOT_TOPICS] + [("$SYS/broker/#", 0)]

    def _heard(self, message: mqtt.MQTTMessage) -> None:
        try:
            self._listener(message.topic, bytes(message.payload), time.time())
        except Exception:  # a malformed message must never take the connection down
            log.exception("cannot handle a message on %s", message.topic)

    def _replied(self, message: mqtt.MQTTMessage) -> None:
        if message.topic.startswith(self.reply_prefix + "/"):
            self._handle_reply(message.topic.removeprefix(self.reply_prefix + "/"), bytes(message.payload))

    # --- publishing and request/reply -----------------------------------------------------------
    def publish(self, topic: str, payload: dict[str, Any] | str | bytes, qos: int = 1) -> mqtt.MQTTMessageInfo | None:
        """Publish now on the control connection, or hold it (bounded) while the broker is unreachable and send it on
        reconnect. Returns paho's message info when sent now (`wait_for_publish` tells it reached the broker), None
        when held."""
        return self.control.publish(topic, payload if isinstance(payload, str | bytes) else json.dumps(payload), qos)

    def request(self, bot: str, command: str, data: dict[str, Any], timeout: float | None = None,
                msg_id: str | None = None) -> dict[str, Any]:
        """Send `P/<command>` with the RPC envelope and wait for the bot's reply on our own reply topic.

        Raises TimedOut when no reply arrives in time. A request survives a broker reconnect: while
        disconnected it is held and sent on reconnect; one sent before a reconnect and still unanswered is
        sent again (same msg_id) every RESEND_INTERVAL, since the bot may not have been subscribed then;
        so is one sent within RECONNECT_SETTLE after a reconnect (the bots reconnect too). Only the first
        reply counts; in steady state a request is sent exactly once."""
        arrived = threading.Event()
        with self._sent(bot, command, data, timeout, msg_id, arrived) as pending:
            while not arrived.wait(pending.wait_s()):
                pending.unanswered()
            return pending.reply()

    async def request_async(self, bot: str, command: str, data: dict[str, Any], timeout: float | None = None,
                            msg_id: str | None = None) -> dict[str, Any]:
        """request() awaited on the event loop: no worker thread waits for the reply (a hop to one and back cost a
        command milliseconds on a busy backend); the same envelope, resends and time limit."""
        arrived = LoopSignal()
        with self._sent(bot, command, data, timeout, msg_id, arrived) as pending:
            while not await arrived.wait(pending.wait_s()):
                pending.unanswered()
            return pending.reply()

    @contextmanager
    def _sent(self, bot: str, command: str, data: dict[str, Any], timeout: float | None, msg_id: str | None,
              arrived: threading.Event | LoopSignal) -> Iterator[Pending]:
        """Send the request, its reply awaited through `arrived` until the block ends."""
        timeout = COMMAND_TIMEOUTS.get(command, 10.0) if timeout is None else timeout
        msg_id = msg_id or uuid.uuid4().hex
        envelope = {"header": {"reply_to": f"{self.reply_prefix}/{msg_id}", "timestamp": int(time.time() * 1000),
                               "msg_id": msg_id, "node_id": self.node_id, "agent": "hive-backend", "properties": {}},
                    "data": data}
        pending = Pending(self, bot, command, timeout, f"{self.namespace}/{bot}/{command}", json.dumps(envelope),
                          time.monotonic() + timeout, self.generation, self._reconnected_recently())
        with self._lock:
            self._waiting[msg_id] = (arrived, pending.box)
        try:
            self.publish(pending.topic, pending.payload, qos=1)
            yield pending
        finally:
            with self._lock:
                self._waiting.pop(msg_id, None)

    def _reconnected_recently(self) -> bool:
        """A reconnect (not the first connection) happened less than RECONNECT_SETTLE ago, or none is up now."""
        control = self.control
        if not control.connected:
            return True
        return control.generation > 1 and time.monotonic() - control.connected_at < RECONNECT_SETTLE

    def _handle_reply(self, msg_id: str, payload: bytes) -> None:
        try:
            reply = json.loads(payload)
        except ValueError:
            return
        data = reply.get("data") if isinstance(reply, dict) else None
        with self._lock:
            waiting = self._waiting.get(msg_id)
        if waiting is not None and not waiting[0].is_set():
            waiting[1].append(data if isinstance(data, dict) else {"status": 500, "msg": "malformed reply"})
            waiting[0].set()
