"""The backend's one MQTT connection to the whole fleet.

It listens to every bot's heartbeats, availability, logs, notifications, events and performance
(PROTOCOL.md) and to the broker's `$SYS/broker/...` statistics. It keeps the latest view of each bot in
memory and queues what must be stored (log lines, trades, down-sampled PnL points); the supervisor drains
that queue into the store, so that the MQTT thread never waits on the database.
"""
from __future__ import annotations

import collections
import itertools
import json
import logging
import os
import re
import socket
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import paho.mqtt.client as mqtt

from backend.errors import HiveError
from backend.store import LogEntry, PnlEntry, TradeEntry
from hive_core.protocol import BOT_TOPICS, COMMAND_TIMEOUTS

log = logging.getLogger(__name__)

# $SYS/broker/<name> topics read for broker health; amqtt and Mosquitto both publish these.
SYS_TOPICS = ("clients/connected", "messages/received", "messages/sent", "uptime")
STRATEGY_LOGGER_PREFIX = "hive.strategy."
RESEND_INTERVAL = 2.0  # s: a request unanswered across a reconnect is sent again this often (same msg_id)
RECONNECT_SETTLE = 15.0  # s: after a (re)connect, bots may still be resubscribing: requests sent then are resent too
MAX_OUTBOX = 10_000  # publishes held while the broker is unreachable; beyond it the oldest are dropped
MAX_PENDING = 50_000  # per queue; beyond it the oldest entries are dropped (the store is far behind)
_ids = itertools.count()
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")


@dataclass
class StrategyView:
    performance: dict[str, Any] = field(default_factory=dict)
    custom_info: dict[str, Any] = field(default_factory=dict)
    status: str | None = None
    error: str | None = None
    at: float = 0.0


@dataclass
class BotView:
    """What the fleet connection last heard from one bot; all times are the backend's receive times."""

    last_heartbeat: float | None = None
    last_online: float | None = None
    last_offline: float | None = None
    last_seen: float | None = None
    strategies: dict[str, StrategyView] = field(default_factory=dict)
    first_seen: float | None = None

    @property
    def last_alive(self) -> float | None:
        """The last sign of life: a heartbeat or an 'online' announcement."""
        times = [t for t in (self.last_heartbeat, self.last_online) if t is not None]
        return max(times) if times else None


@dataclass
class BrokerStats:
    clients_connected: int | None = None
    messages_received: int | None = None
    messages_sent: int | None = None
    uptime_s: float | None = None
    messages_per_s: float | None = None
    updated_at: float | None = None
    _previous: tuple[float, int] | None = None


class Fleet:
    def __init__(self, namespace: str = "hbot", pnl_interval: float = 5.0) -> None:
        self.namespace = namespace
        self.pnl_interval = pnl_interval
        self._lock = threading.Lock()
        self._bots: dict[str, BotView] = {}
        self._stats = BrokerStats()
        self._logs: list[LogEntry] = []
        self._trades: list[TradeEntry] = []
        self._pnl: list[PnlEntry] = []
        self._last_pnl: dict[tuple[str, str], float] = {}
        self._notifications: list[dict] = []
        self._market_events: list[dict] = []
        self._client: mqtt.Client | None = None
        self.node_id = f"hive-backend-{uuid.uuid4().hex[:12]}"
        self.reply_prefix = f"hive/rpc/{self.node_id}"
        self._waiting: dict[str, tuple[threading.Event, list]] = {}
        self._outbox: collections.deque = collections.deque(maxlen=MAX_OUTBOX)
        self._generation = 0  # counts (re)connections
        self._connected_at = 0.0  # monotonic time of the last (re)connection
        self._target: tuple[str, int] | None = None
        self._connected = threading.Event()
        self.disconnected_since: float | None = None
        self.last_error: str = ""

    # --- connection ------------------------------------------------------------------------------
    @property
    def target(self) -> tuple[str, int] | None:
        return self._target

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def connect(self, host: str, port: int, force: bool = False) -> None:
        """(Re)point the connection at a broker; paho keeps retrying with back-off in its own thread.

        `force` starts a fresh connection even to the same address (a broker that was just started
        should not wait for the back-off of the previous attempts)."""
        if self._target == (host, port) and self._client is not None and not force:
            return
        self.disconnect()
        client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2,
            client_id=f"hive-backend.{socket.gethostname()}.{os.getpid()}.{next(_ids)}",
            clean_session=True,
        )
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.reconnect_delay_set(min_delay=1, max_delay=5)
        self._target = (host, port)
        self._client = client
        self.disconnected_since = time.time()
        with self._lock:
            self._stats = BrokerStats()
        client.connect_async(host, port, keepalive=15)
        client.loop_start()

    def disconnect(self) -> None:
        client, self._client, self._target = self._client, None, None
        self._connected.clear()
        if client is not None:
            client.disconnect()
            client.loop_stop()
        self.disconnected_since = time.time()

    def wait_connected(self, timeout: float) -> bool:
        return self._connected.wait(timeout)

    def _on_connect(self, client, _userdata, _flags, reason_code, _properties) -> None:
        if reason_code.is_failure:
            self.last_error = f"the broker refused the connection: {reason_code}"
            return
        topics = [(f"{self.namespace}/+/{name}", 0) for name in BOT_TOPICS] + [("$SYS/broker/#", 0),
                                                                                (f"{self.reply_prefix}/#", 1)]
        client.subscribe(topics)
        self.last_error = ""
        self.disconnected_since = None
        with self._lock:
            self._generation += 1
            self._connected_at = time.monotonic()
            self._connected.set()
            held = list(self._outbox)
            self._outbox.clear()
        for topic, payload, qos in held:  # sent in order, after the subscriptions (replies are heard)
            client.publish(topic, payload, qos=qos)
        log.info("fleet connection up at %s", self._target)

    def _on_disconnect(self, _client, _userdata, _flags, reason_code, _properties) -> None:
        if self._connected.is_set():
            log.warning("fleet connection lost (%s)", reason_code)
        self._connected.clear()
        self.disconnected_since = self.disconnected_since or time.time()
        self.last_error = f"connection lost ({reason_code})"

    # --- messages --------------------------------------------------------------------------------
    def _on_message(self, _client, _userdata, message: mqtt.MQTTMessage) -> None:
        try:
            self.handle(message.topic, message.payload, time.time())
        except Exception:  # a malformed message must never take the connection down
            log.exception("cannot handle a message on %s", message.topic)

    def handle(self, topic: str, payload: bytes, now: float) -> None:
        """Digest one message (public so that tests can feed messages without a broker)."""
        if topic.startswith(self.reply_prefix + "/"):
            self._handle_reply(topic.removeprefix(self.reply_prefix + "/"), payload)
            return
        if topic.startswith("$SYS/broker/"):
            self._handle_sys(topic.removeprefix("$SYS/broker/"), payload, now)
            return
        parts = topic.split("/")
        if len(parts) != 3 or parts[0] != self.namespace or parts[2] not in BOT_TOPICS:
            return
        bot, kind = parts[1], parts[2]
        try:
            data = json.loads(payload)
        except ValueError:
            return
        if not isinstance(data, dict):
            return
        with self._lock:
            view = self._bots.setdefault(bot, BotView(first_seen=now))
            view.last_seen = now
            if kind == "hb":
                view.last_heartbeat = now
            elif kind == "status_updates":
                if data.get("type") == "availability":
                    if data.get("msg") == "online":
                        view.last_online = now
                    elif data.get("msg") == "offline":
                        view.last_offline = now
            elif kind == "log":
                self._queue(self._logs, _log_entry(bot, data, now))
            elif kind == "notify":
                self._queue(self._notifications, {"instance": bot, "ts": now, "seq": data.get("seq"),
                                                  "timestamp": data.get("timestamp"), "msg": str(data.get("msg", ""))})
                self._queue(self._logs, LogEntry(bot, _float(data.get("timestamp"), now, seconds=True), 20, "INFO",
                                                 "hive.notify", str(data.get("msg", "")), None))
            elif kind == "events":
                self._queue(self._market_events, {"instance": bot, "ts": now, "type": str(data.get("type", "")),
                                                  "timestamp": data.get("timestamp"), "data": data.get("data")})
                trade = _trade_entry(bot, data, now)
                if trade is not None:
                    self._queue(self._trades, trade)
            elif kind == "performance":
                self._handle_performance(bot, view, data, now)

    def _handle_performance(self, bot: str, view: BotView, data: dict, now: float) -> None:
        for strategy_id, entry in data.items():
            if not isinstance(entry, dict):
                continue
            performance = entry.get("performance") if isinstance(entry.get("performance"), dict) else {}
            strategy = view.strategies.setdefault(str(strategy_id), StrategyView())
            strategy.performance = performance
            strategy.custom_info = entry.get("custom_info") if isinstance(entry.get("custom_info"), dict) else {}
            strategy.status = entry.get("status")
            strategy.error = entry.get("error")
            strategy.at = now
            key = (bot, str(strategy_id))
            if now - self._last_pnl.get(key, 0.0) >= self.pnl_interval:
                self._last_pnl[key] = now
                self._queue(self._pnl, PnlEntry(
                    bot, str(strategy_id), now,
                    realized=_float(performance.get("realized_pnl_quote")),
                    unrealized=_float(performance.get("unrealized_pnl_quote")),
                    total=_float(performance.get("global_pnl_quote")),
                    volume=_float(performance.get("volume_traded")),
                ))

    def _handle_sys(self, name: str, payload: bytes, now: float) -> None:
        if name not in SYS_TOPICS:
            return
        match = _NUMBER.search(payload.decode("utf-8", "replace"))
        if match is None:
            return
        value = float(match.group())
        with self._lock:
            stats = self._stats
            stats.updated_at = now
            if name == "clients/connected":
                stats.clients_connected = int(value)
            elif name == "messages/sent":
                stats.messages_sent = int(value)
            elif name == "uptime":
                stats.uptime_s = value
            elif name == "messages/received":
                stats.messages_received = int(value)
                if stats._previous is not None and now > stats._previous[0]:
                    delta = value - stats._previous[1]
                    if delta >= 0:
                        stats.messages_per_s = delta / (now - stats._previous[0])
                stats._previous = (now, int(value))

    @staticmethod
    def _queue(queue: list, entry: Any) -> None:
        queue.append(entry)
        if len(queue) > MAX_PENDING:
            del queue[: len(queue) - MAX_PENDING]

    # --- publishing and request/reply -----------------------------------------------------------
    def publish(self, topic: str, payload: dict | str | bytes, qos: int = 1) -> mqtt.MQTTMessageInfo | None:
        """Publish now, or hold it (bounded) while the broker is unreachable and send it on reconnect.

        Returns paho's message info when sent now (`wait_for_publish` tells it reached the broker), None when held."""
        data = payload if isinstance(payload, str | bytes) else json.dumps(payload)
        with self._lock:
            client = self._client
            if client is None or not self._connected.is_set():
                self._outbox.append((topic, data, qos))
                return None
        return client.publish(topic, data, qos=qos)

    def request(self, bot: str, command: str, data: dict, timeout: float | None = None) -> dict:
        """Send `P/<command>` with the RPC envelope and wait for the bot's reply on our own reply topic.

        Raises HiveError 504 when no reply arrives in time. A request survives a broker reconnect: while
        disconnected it is held and sent on reconnect; one sent before a reconnect and still unanswered is
        sent again (same msg_id) every RESEND_INTERVAL, since the bot may not have been subscribed then;
        so is one sent within RECONNECT_SETTLE after a reconnect (the bots reconnect too). Only the first
        reply counts; in steady state a request is sent exactly once."""
        timeout = COMMAND_TIMEOUTS.get(command, 10.0) if timeout is None else timeout
        msg_id = uuid.uuid4().hex
        reply_to = f"{self.reply_prefix}/{msg_id}"
        envelope = {"header": {"reply_to": reply_to, "timestamp": int(time.time() * 1000), "msg_id": msg_id,
                               "node_id": self.node_id, "agent": "hive-backend", "properties": {}},
                    "data": data}
        arrived = threading.Event()
        box: list = []
        with self._lock:
            self._waiting[msg_id] = (arrived, box)
        topic, payload = f"{self.namespace}/{bot}/{command}", json.dumps(envelope)
        deadline = time.monotonic() + timeout
        try:
            generation = self._generation
            settling = self._reconnected_recently()
            self.publish(topic, payload, qos=1)
            while not arrived.wait(max(0.0, min(RESEND_INTERVAL, deadline - time.monotonic()))):
                if time.monotonic() >= deadline:
                    where = "" if self.connected else " (the backend is not connected to the broker)"
                    raise HiveError(504, "command_timeout",
                                    f"bot {bot!r} did not answer the {command!r} command within {timeout:g} s{where}")
                if self.connected and (self._generation != generation or settling):
                    self.publish(topic, payload, qos=1)
            return box[0]
        finally:
            with self._lock:
                self._waiting.pop(msg_id, None)

    def _reconnected_recently(self) -> bool:
        """A reconnect (not the first connection) happened less than RECONNECT_SETTLE ago, or none is up now."""
        if not self.connected:
            return True
        return self._generation > 1 and time.monotonic() - self._connected_at < RECONNECT_SETTLE

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

    def known_bots(self) -> list[str]:
        """Every bot heard under the namespace, whoever created it."""
        with self._lock:
            return sorted(self._bots)

    def drain_messages(self) -> tuple[list[dict], list[dict]]:
        """The notifications (P/notify) and market events (P/events) heard since the last drain."""
        with self._lock:
            notes, events = self._notifications, self._market_events
            self._notifications, self._market_events = [], []
        return notes, events

    # --- what others read ------------------------------------------------------------------------
    def bot(self, name: str) -> BotView | None:
        with self._lock:
            view = self._bots.get(name)
            if view is None:
                return None
            return BotView(view.last_heartbeat, view.last_online, view.last_offline, view.last_seen,
                           {k: StrategyView(dict(v.performance), dict(v.custom_info), v.status, v.error, v.at)
                            for k, v in view.strategies.items()}, view.first_seen)

    def forget(self, name: str) -> None:
        with self._lock:
            self._bots.pop(name, None)
            for key in [k for k in self._last_pnl if k[0] == name]:
                del self._last_pnl[key]

    def broker_stats(self) -> BrokerStats:
        with self._lock:
            s = self._stats
            return BrokerStats(s.clients_connected, s.messages_received, s.messages_sent, s.uptime_s,
                               s.messages_per_s, s.updated_at)

    def drain(self) -> tuple[list[LogEntry], list[TradeEntry], list[PnlEntry]]:
        with self._lock:
            logs, trades, pnl = self._logs, self._trades, self._pnl
            self._logs, self._trades, self._pnl = [], [], []
        return logs, trades, pnl

    def requeue(self, logs: list[LogEntry], trades: list[TradeEntry], pnl: list[PnlEntry]) -> None:
        """Put back what could not be stored, ahead of what arrived since."""
        with self._lock:
            self._logs[:0], self._trades[:0], self._pnl[:0] = logs, trades, pnl


def _float(value: Any, default: float = 0.0, seconds: bool = False) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return default
    if seconds:
        if number > 1e17:      # nanoseconds
            number /= 1e9
        elif number > 1e14:    # microseconds
            number /= 1e6
        elif number > 1e11:    # milliseconds
            number /= 1e3
    return number


def strategy_of_logger(logger_name: str) -> str | None:
    if logger_name.startswith(STRATEGY_LOGGER_PREFIX):
        return logger_name.removeprefix(STRATEGY_LOGGER_PREFIX).split(".", 1)[0] or None
    return None


def _log_entry(bot: str, data: dict, now: float) -> LogEntry:
    logger_name = str(data.get("logger_name", ""))
    level_no = int(_float(data.get("level_no"), 20))
    return LogEntry(
        instance=bot, ts=_float(data.get("timestamp"), now, seconds=True), level_no=level_no,
        level_name=str(data.get("level_name") or logging.getLevelName(level_no)), logger_name=logger_name,
        msg=str(data.get("msg", "")), strategy=strategy_of_logger(logger_name),
    )


def _trade_entry(bot: str, event: dict, now: float) -> TradeEntry | None:
    if event.get("type") != "OrderFilled" or not isinstance(event.get("data"), dict):
        return None
    data = event["data"]
    side = str(data.get("trade_type", "")).upper().rsplit(".", 1)[-1]
    if side not in ("BUY", "SELL"):
        return None
    fee = data.get("fee_quote", data.get("fee"))
    return TradeEntry(
        instance=bot, ts=_float(data.get("timestamp", event.get("timestamp")), now, seconds=True),
        strategy=data.get("controller_id") or None, order_id=str(data.get("order_id", "")),
        trading_pair=str(data.get("trading_pair", "")), side=side, price=_float(data.get("price")),
        amount=_float(data.get("amount")), fee=_float(fee),
    )
