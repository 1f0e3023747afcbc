"""The MQTT bridge: heartbeats, availability, logs, events, performance and remote commands.

paho-mqtt runs its network loop in its own thread (`loop_start`) and keeps reconnecting with
back-off when the broker is not there yet or goes away; the trading loop never waits for the
broker. Publishing only queues a packet for that thread; while disconnected, logs and events wait in
bounded queues (oldest dropped first, counted) and command replies in their own queue, all sent on
reconnect (replies first). With a journal (hive_core/remote/journal.py), every log line, notification,
event and PnL point is journaled first and published with its `journal` seq; the heartbeat carries the
journal's head, and the backlogs are sent in seq order. Incoming commands are handed to the
asyncio loop with `call_soon_threadsafe`, so they run between ticks, never concurrently with a
strategy.
"""
from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable

import paho.mqtt.client as mqtt

from hive_core import protocol
from hive_core.config import MqttBridgeConfig
from hive_core.market.types import ExternalEvent
from hive_core.remote import messages
from hive_core.remote.commands import CommandRouter
from hive_core.remote.journal import Journal
from hive_core.remote.nodelay import nodelay

RECONNECT_MIN_DELAY = 1
RECONNECT_MAX_DELAY = 5
OFFLINE_PUBLISH_TIMEOUT = 3.0
LOOP_STOP_TIMEOUT = 8.0
REFUSAL_REPEAT = 12  # a refused login is logged again every this many refusals (about a minute at the back-off)
BACKLOG = 2000  # log and event messages kept while the broker is unreachable, sent on (re)connect
REPLY_BACKLOG = 10_000  # command replies kept while disconnected (own queue, never displaced by logs)
_EXTERNAL_EVENTS = protocol.EXTERNAL_EVENT_TOPIC + "/"

BRIDGE_METRICS = {
    "mqtt_connected": ("gauge", "1 while connected to the MQTT broker"),
    "mqtt_connects": ("counter", "successful connections to the MQTT broker"),
    "mqtt_published": ("counter", "messages handed to the MQTT client"),
    "mqtt_dropped": ("counter", "messages not sent (heartbeats, reports while disconnected)"),
    "mqtt_backlog_logs": ("gauge", "log lines waiting for the broker"),
    "mqtt_backlog_events": ("gauge", "events waiting for the broker"),
    "mqtt_backlog_replies": ("gauge", "command replies waiting for the broker"),
    "mqtt_dropped_logs": ("counter", "log lines dropped from the full backlog (oldest first)"),
    "mqtt_dropped_events": ("counter", "events dropped from the full backlog (oldest first)"),
    "mqtt_dropped_replies": ("counter", "command replies dropped (only beyond REPLY_BACKLOG)"),
}


class MqttLogHandler(logging.Handler):
    """Publishes log records on P/log; the text carries the stack trace when there is one."""

    def __init__(self, bridge: MqttBridge, level: int = logging.NOTSET) -> None:
        super().__init__(level)
        self._bridge = bridge
        self._busy = threading.local()
        self.setFormatter(logging.Formatter("%(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        if getattr(self._busy, "active", False):   # a log line written while publishing one
            return
        self._busy.active = True
        try:
            self._bridge.publish_log(messages.log_message(record, self.format(record)))
        except Exception:
            self.handleError(record)
        finally:
            self._busy.active = False


class MqttBridge:
    """One MQTT connection per instance, client id `hbot.<instance_id>`, topics under the prefix."""

    def __init__(self, settings: MqttBridgeConfig, instance_id: str, *,
                 router: CommandRouter | None = None,
                 performance: Callable[[], dict] | None = None,
                 metrics: Callable[[], dict] | None = None,
                 performance_parts: Callable[[], Iterable[str]] | None = None,
                 on_external_event: Callable[[ExternalEvent], None] | None = None,
                 on_topic_message: Callable[[str, bytes], None] | None = None,
                 raw_topics: Callable[[], Iterable[str]] | None = None,
                 logger: logging.Logger | None = None,
                 journal: Journal | None = None,
                 pnl_points: Callable[[], dict] | None = None, pnl_interval: float = 5.0) -> None:
        """`journal`: where P/log, P/notify, P/events and P/pnl are journaled; `pnl_points` (with a journal)
        gives the PnL figures per strategy published on P/pnl every `pnl_interval` s."""
        self.settings = settings
        self.instance_id = instance_id
        self.prefix = protocol.topic_prefix(settings.mqtt_namespace, instance_id)
        self.client_id = protocol.CLIENT_ID_PREFIX + instance_id
        self._router = router if settings.mqtt_commands else None
        self._performance = performance
        self._metrics = metrics
        self._performance_parts = performance_parts
        self._on_external_event = on_external_event if settings.mqtt_external_events else None
        self._on_topic_message = on_topic_message if settings.mqtt_external_events else None
        self._raw_topics = raw_topics
        self.journal = journal
        self._pnl_points = pnl_points if journal is not None else None
        self._pnl_interval = pnl_interval
        self._subscribed_raw: set[str] = set()
        self._logger = logger or logging.getLogger("hive.bridge")
        self._loop: asyncio.AbstractEventLoop | None = None
        self._client: mqtt.Client | None = None
        self._tasks: list[asyncio.Task] = []
        self._notify_seq = 0
        self._stopping = False
        # While disconnected: logs and events wait in their own bounded queues (the oldest log lines
        # go first when full), command replies in a third one that logs never displace.
        self._log_backlog: deque[tuple[str, dict]] = deque(maxlen=BACKLOG)
        self._event_backlog: deque[tuple[str, dict]] = deque(maxlen=BACKLOG)
        self._reply_backlog: deque[tuple[str, str]] = deque()
        self._backlog_lock = threading.Lock()
        self.connected = threading.Event()
        self.connects = 0
        self.refusals = 0           # CONNACKs refusing us since the last accepted one
        self.published = 0
        self.dropped = 0            # messages not sent (not connected, or refused by the client)
        self.dropped_logs = 0       # log lines pushed out of the full backlog
        self.dropped_events = 0     # events pushed out of the full backlog
        self.dropped_replies = 0    # only beyond REPLY_BACKLOG (never seen in practice)

    # ---- lifecycle ----------------------------------------------------------------------------

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        """Connect in the background (retrying with back-off) and start the periodic publishers."""
        self._loop = loop
        client = nodelay(mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=self.client_id,
                                     reconnect_on_failure=True))
        if self.settings.mqtt_username:
            client.username_pw_set(self.settings.mqtt_username, self.settings.mqtt_password or None)
        if self.settings.mqtt_ssl:
            client.tls_set()
        client.reconnect_delay_set(RECONNECT_MIN_DELAY, RECONNECT_MAX_DELAY)
        client.max_queued_messages_set(10_000)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        self._set_will(client)
        self._client = client
        client.connect_async(self.settings.mqtt_host, self.settings.mqtt_port, keepalive=30)
        client.loop_start()
        self._tasks = [loop.create_task(self._every(self.settings.mqtt_heartbeat_interval, self._heartbeat),
                                        name="hive-heartbeat")]
        if self._performance is not None or self._metrics is not None or self._performance_parts is not None:
            self._tasks.append(loop.create_task(self._performance_loop(self.settings.mqtt_performance_interval),
                                                name="hive-performance"))
        if self._pnl_points is not None:
            self._tasks.append(loop.create_task(self._every(self._pnl_interval, self.publish_pnl), name="hive-pnl"))
        self._logger.info("MQTT bridge connecting to %s:%s as %s (prefix %s)", self.settings.mqtt_host,
                          self.settings.mqtt_port, self.client_id, self.prefix)

    async def stop(self) -> None:
        """Say offline explicitly (the Last Will is only for crashes), then disconnect."""
        self._stopping = True
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        client = self._client
        if client is None:
            return
        if self.connected.is_set():
            info = client.publish(self.topic(protocol.STATUS_TOPIC),
                                  messages.to_json(messages.status_update("availability", "offline", time.time())),
                                  qos=1)
            await asyncio.to_thread(_wait_published, info, OFFLINE_PUBLISH_TIMEOUT)
        client.disconnect()
        # The network thread may be inside a connect attempt. It is a daemon thread, so when it does
        # not stop in time the process exits anyway (an executor thread would hold asyncio.run up).
        stopper = threading.Thread(target=client.loop_stop, name="hive-mqtt-stop", daemon=True)
        stopper.start()
        deadline = time.monotonic() + LOOP_STOP_TIMEOUT
        while stopper.is_alive() and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        if stopper.is_alive():
            self._logger.warning("MQTT network thread did not stop within %ss", LOOP_STOP_TIMEOUT)
        self._client = None

    # ---- publishing ---------------------------------------------------------------------------

    def topic(self, suffix: str) -> str:
        return f"{self.prefix}/{suffix}"

    def publish(self, suffix: str, payload: dict, qos: int = 0) -> bool:
        """Queue one message; never blocks. False when it was dropped (not connected)."""
        client = self._client
        if client is None or not self.connected.is_set():
            self.dropped += 1
            return False
        return self.publish_text(suffix, messages.to_json(payload), qos)

    def publish_text(self, suffix: str, text: str, qos: int = 0) -> bool:
        """Like publish, for a payload already encoded as JSON text."""
        client = self._client
        if client is None or not self.connected.is_set():
            self.dropped += 1
            return False
        info = client.publish(self.topic(suffix), text, qos=qos)
        if info.rc != mqtt.MQTT_ERR_SUCCESS:
            self.dropped += 1
            return False
        self.published += 1
        return True

    def publish_kept(self, suffix: str, payload: dict) -> None:
        """Like publish, but kept (boundedly) while disconnected and sent on (re)connect, so that
        start-up errors and early fills are not lost. The oldest are dropped first (and counted)."""
        if self.publish(suffix, payload):
            return
        with self._backlog_lock:
            backlog = self._log_backlog if suffix == protocol.LOG_TOPIC else self._event_backlog
            if len(backlog) == backlog.maxlen:
                if suffix == protocol.LOG_TOPIC:
                    self.dropped_logs += 1
                else:
                    self.dropped_events += 1
            backlog.append((suffix, payload))

    def journaled(self, suffix: str, payload: dict) -> dict:
        """The payload with its `journal` seq, once journaled (as it is without a journal)."""
        return self.journal.append(suffix, payload) if self.journal is not None else payload

    def publish_log(self, payload: dict) -> None:
        self.publish_kept(protocol.LOG_TOPIC, self.journaled(protocol.LOG_TOPIC, payload))

    def publish_event(self, kind: str, data: dict, timestamp: float) -> None:
        if self.settings.mqtt_events:
            self.publish_kept(protocol.EVENTS_TOPIC, self.journaled(
                protocol.EVENTS_TOPIC, messages.event_message(kind, data, timestamp)))

    def publish_pnl(self) -> None:
        """P/pnl (hive extension): one journaled PnL point per strategy."""
        if self._pnl_points is not None:
            points = self._pnl_points()
            if points:
                self.publish(protocol.PNL_TOPIC, self.journaled(protocol.PNL_TOPIC,
                                                                messages.pnl_message(points, time.time())))

    def publish_reply(self, reply_to: str, data: dict) -> None:
        """A command reply (QoS 1) to the caller's topic; kept in its own queue while disconnected."""
        text = messages.to_json(messages.reply_envelope(data, time.time()))
        client = self._client
        if client is not None and self.connected.is_set():
            info = client.publish(reply_to, text, qos=1)
            if info.rc == mqtt.MQTT_ERR_SUCCESS:
                self.published += 1
                return
        with self._backlog_lock:
            if len(self._reply_backlog) >= REPLY_BACKLOG:
                self.dropped_replies += 1
                return
            self._reply_backlog.append((reply_to, text))

    def backlog_figures(self) -> dict:
        """Counters of the outgoing path (for P/metrics and Prometheus)."""
        return {"mqtt_connected": int(self.connected.is_set()), "mqtt_connects": self.connects,
                "mqtt_published": self.published, "mqtt_dropped": self.dropped,
                "mqtt_backlog_logs": len(self._log_backlog), "mqtt_backlog_events": len(self._event_backlog),
                "mqtt_backlog_replies": len(self._reply_backlog), "mqtt_dropped_logs": self.dropped_logs,
                "mqtt_dropped_events": self.dropped_events, "mqtt_dropped_replies": self.dropped_replies}

    def subscribe_topic(self, topic: str) -> None:
        """Subscribe to a raw topic for the strategies (again on every reconnect)."""
        with self._backlog_lock:
            if self._on_topic_message is None or topic in self._subscribed_raw:
                return
            self._subscribed_raw = self._subscribed_raw | {topic}    # replaced, never mutated: lock-free reads
        client = self._client
        if client is not None and self.connected.is_set():
            client.subscribe(topic, 0)

    def _flush_backlogs(self) -> None:
        """On (re)connect: replies first, then events, then logs (each oldest first)."""
        client = self._client
        if client is None:
            return
        with self._backlog_lock:
            replies = list(self._reply_backlog)
            self._reply_backlog.clear()
            kept = list(self._event_backlog) + list(self._log_backlog)
            if self.journal is not None:     # in journal order, so that a listener sees no gap
                kept.sort(key=lambda item: item[1].get("journal", {}).get("seq", 0))
            self._event_backlog.clear()
            self._log_backlog.clear()
        for reply_to, text in replies:
            client.publish(reply_to, text, qos=1)
            self.published += 1
        for suffix, payload in kept:
            self.publish(suffix, payload)

    def notify(self, msg: str, command: dict | None = None) -> None:
        """A line on P/notify; `command` is the Hive report field of a handled command."""
        if self.settings.mqtt_notifier:
            self._notify_seq += 1
            self.publish(protocol.NOTIFY_TOPIC, self.journaled(
                protocol.NOTIFY_TOPIC, messages.notify_message(self._notify_seq, msg, time.time(), command)))

    def log_handler(self, level: int = logging.NOTSET) -> MqttLogHandler:
        return MqttLogHandler(self, level)

    async def _every(self, interval: float, action: Callable[[], None]) -> None:
        while True:
            await asyncio.sleep(interval)
            try:
                action()
            except Exception:
                self._logger.exception("periodic MQTT publish failed")

    def _heartbeat(self) -> None:
        self.publish(protocol.HEARTBEAT_TOPIC, self._heartbeat_message(time.time()))

    def _heartbeat_message(self, now: float) -> dict:
        beat = messages.heartbeat(now)
        if self.journal is not None:
            beat["journal"] = self.journal.head()
        return beat

    async def _performance_loop(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            try:
                await self.publish_performance_sliced()
            except asyncio.CancelledError:
                raise
            except Exception:
                self._logger.exception("periodic MQTT publish failed")

    async def publish_performance_sliced(self) -> None:
        """Like publish_performance, but the report is built and encoded one part per loop turn."""
        if self._performance_parts is None:
            self.publish_performance()
            return
        if not self.connected.is_set():       # nobody to send it to: do not build it
            self.dropped += 1
            return
        parts = []
        for part in self._performance_parts():
            if part:
                parts.append(part)
            await asyncio.sleep(0)          # let the ticks run between parts
        if parts:
            self.publish_text(protocol.PERFORMANCE_TOPIC, "{" + ", ".join(parts) + "}")
        if self._metrics is not None:
            self.publish(protocol.METRICS_TOPIC, self._metrics())

    def publish_performance(self) -> None:
        """P/performance (per strategy), then P/metrics (the instance's figures; hive extension, QoS 0)."""
        report = self._performance() if self._performance is not None else {}
        if report:
            self.publish(protocol.PERFORMANCE_TOPIC, report)
        if self._metrics is not None:
            self.publish(protocol.METRICS_TOPIC, self._metrics())

    # ---- paho callbacks (network thread) ------------------------------------------------------

    def _set_will(self, client: mqtt.Client) -> None:
        will = messages.status_update("availability", "offline", time.time())
        client.will_set(self.topic(protocol.STATUS_TOPIC), messages.to_json(will), qos=1, retain=False)

    def _on_connect(self, client: mqtt.Client, _userdata, _flags, reason_code, _properties) -> None:
        if reason_code.is_failure:
            self.refusals += 1
            if self.refusals == 1 or self.refusals % REFUSAL_REPEAT == 0:
                self._log_refusal(reason_code)
            return
        if self.refusals:
            self._logger.info("MQTT broker accepted the connection after %d refusal(s)", self.refusals)
            self.refusals = 0
        self.connects += 1
        subscriptions = []
        if self._router is not None:
            subscriptions += [(self.topic(command), 1) for command in protocol.COMMANDS]
        if self._on_external_event is not None:
            subscriptions.append((self.topic(f"{protocol.EXTERNAL_EVENT_TOPIC}/#"), 0))
        if self._on_topic_message is not None:
            with self._backlog_lock:
                if self._raw_topics is not None:
                    try:     # (normally already known: strategies register after the bridge exists)
                        self._subscribed_raw = self._subscribed_raw | set(self._raw_topics())
                    except RuntimeError:      # the strategies changed meanwhile on the loop thread
                        pass
                raw = self._subscribed_raw
            subscriptions += [(topic, 0) for topic in sorted(raw)]
        if subscriptions:
            client.subscribe(subscriptions)
        self.connected.set()
        now = time.time()
        self.publish(protocol.STATUS_TOPIC, messages.status_update("availability", "online", now))
        self._flush_backlogs()
        self.publish(protocol.HEARTBEAT_TOPIC, self._heartbeat_message(now))
        self._logger.info("connected to MQTT broker %s:%s (connection #%d)", self.settings.mqtt_host,
                          self.settings.mqtt_port, self.connects)

    def _log_refusal(self, reason_code: mqtt.ReasonCode) -> None:
        """Say once (then about every minute) why the broker refuses us, with what to check; paho keeps retrying."""
        settings = self.settings
        who = f"login {settings.mqtt_username!r}" if settings.mqtt_username else "no login (anonymous)"
        hint = ""
        if reason_code.value in (4, 5, 134, 135):  # bad username or password / not authorised (3.1.1 and 5)
            hint = ("; check mqtt_username and mqtt_password (or the mqtt_auth_file the backend writes): the broker "
                    "may not know this login (yet), or it was removed")
        self._logger.error("MQTT broker %s:%s refused the connection with %s: %s (refusal #%d)%s; retrying every "
                           "%d-%d s", settings.mqtt_host, settings.mqtt_port, who, reason_code, self.refusals, hint,
                           RECONNECT_MIN_DELAY, RECONNECT_MAX_DELAY)

    def _on_disconnect(self, client: mqtt.Client, _userdata, _flags, reason_code, _properties) -> None:
        was_connected = self.connected.is_set()
        self.connected.clear()
        if not self._stopping:
            self._set_will(client)
            if was_connected:
                self._logger.warning("lost the MQTT broker (%s); reconnecting", reason_code)

    def _on_message(self, _client: mqtt.Client, _userdata, message: mqtt.MQTTMessage) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        try:
            loop.call_soon_threadsafe(self._dispatch, message.topic, bytes(message.payload))
        except RuntimeError:  # the loop closed meanwhile
            pass

    # ---- incoming messages (asyncio thread) ---------------------------------------------------

    def _dispatch(self, topic: str, payload: bytes) -> None:
        suffix = topic[len(self.prefix) + 1:] if topic.startswith(self.prefix + "/") else ""
        raw = self._subscribed_raw
        if self._on_topic_message is not None and raw and any(
                mqtt.topic_matches_sub(pattern, topic) for pattern in raw):
            self._on_topic_message(topic, payload)
        if suffix.startswith(_EXTERNAL_EVENTS):
            self._external_event(suffix[len(_EXTERNAL_EVENTS):], payload)
            return
        if self._router is None or not suffix:
            return
        reply = self._router.handle(suffix, payload)
        if reply is not None:
            self.publish_reply(reply.reply_to, reply.data)

    def _external_event(self, path: str, payload: bytes) -> None:
        if self._on_external_event is None or not path:
            return
        try:
            body = json.loads(payload) if payload.strip() else {}
            if not isinstance(body, dict):
                raise ValueError("payload must be a JSON object")
            data = body.get("data", {})
            event = ExternalEvent(name=path.replace("/", "."), timestamp=int(body.get("timestamp", 0) or 0),
                                  sequence=int(body.get("sequence", 0) or 0), type=str(body.get("type", "eevent")),
                                  data=data if isinstance(data, dict) else {"value": data})
        except (ValueError, TypeError) as problem:
            self._logger.warning("dropped external event on %s: %s", path, problem)
            return
        self._on_external_event(event)


def _wait_published(info: mqtt.MQTTMessageInfo, timeout: float) -> None:
    try:
        info.wait_for_publish(timeout)
    except (RuntimeError, ValueError):
        pass
