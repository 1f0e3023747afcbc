"""What the fleet connection hears, digested: the latest view of each bot and what must be stored.

Every bot's heartbeats, availability, logs, notifications, events and performance (docs/protocol.md) and
the broker's `$SYS/broker/...` statistics arrive through the connection (backend/orchestrator/connection.py).
The latest view of each bot is kept in memory and what must be stored (log lines, trades, down-sampled PnL
points) is queued; the supervisor drains that queue into the store, so that the MQTT thread never waits on
the database.
"""
from __future__ import annotations

import json
import logging
import re
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from backend.broker.base import BrokerStats
from backend.orchestrator.connection import FleetConnection
from backend.store import LogEntry, PnlEntry, TradeEntry
from hive_core.protocol import BOT_TOPICS

log = logging.getLogger(__name__)

# $SYS/broker/<name> topics read for broker health; amqtt and Mosquitto both publish these.
SYS_TOPICS = ("clients/connected", "messages/received", "messages/sent", "uptime")
STRATEGY_LOGGER_PREFIX = "hive.strategy."
MAX_PENDING = 50_000  # per queue; beyond it the oldest entries are dropped (the store is far behind)
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")


@dataclass
class StrategyView:
    performance: dict[str, Any] = field(default_factory=dict)
    custom_info: dict[str, Any] = field(default_factory=dict)
    status: str | None = None
    error: str | None = None
    at: float = 0.0


@dataclass(frozen=True)
class CommandReport:
    """A bot's report of a command it handled (P/notify with the Hive `command` field, docs/protocol.md)."""

    instance: str
    name: str
    strategy: str | None
    outcome: str                # ok or error
    origin: dict[str, str]      # agent, node_id, msg_id, reply_to: those the request's header had
    text: str                   # the notification's msg
    key: str                    # `<instance>:<run>:<seq>`: the same report heard twice has the same key
    at: float                   # receive time

    @property
    def sender(self) -> str:
        return self.origin.get("agent") or "an unnamed sender"


@dataclass
class BotView:
    """What the fleet connection last heard from one bot; all times are the backend's receive times."""

    last_heartbeat: float | None = None
    last_online: float | None = None
    last_offline: float | None = None
    last_seen: float | None = None
    strategies: dict[str, StrategyView] = field(default_factory=dict)
    first_seen: float | None = None
    last_stop: CommandReport | None = None   # the last stop command it reported carrying out

    @property
    def last_alive(self) -> float | None:
        """The last sign of life: a heartbeat or an 'online' announcement."""
        times = [t for t in (self.last_heartbeat, self.last_online) if t is not None]
        return max(times) if times else None


class Fleet:
    """The views of every bot heard, fed by `connection` (which the rest of the backend uses to publish)."""

    def __init__(self, namespace: str = "hbot", pnl_interval: float = 5.0) -> None:
        self.namespace = namespace
        self.pnl_interval = pnl_interval
        self.connection = FleetConnection(namespace, self.handle, retargeted=self._reset_stats)
        self.listening_since = time.time()  # nothing could be heard before: silence from then is no bot's fault
        self._lock = threading.Lock()
        self._bots: dict[str, BotView] = {}
        self._stats = BrokerStats()
        self._logs: list[LogEntry] = []
        self._trades: list[TradeEntry] = []
        self._pnl: list[PnlEntry] = []
        self._last_pnl: dict[tuple[str, str], float] = {}
        self._notifications: list[dict] = []
        self._market_events: list[dict] = []
    # --- messages --------------------------------------------------------------------------------
    def handle(self, topic: str, payload: bytes, now: float) -> None:
        """Digest one message heard at `now` (public so that tests can feed messages without a broker)."""
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
                report = _command_report(bot, data, now)
                if report is not None and report.name == "stop" and report.outcome == "ok":
                    view.last_stop = report
                self._queue(self._notifications, {"instance": bot, "ts": now, "seq": data.get("seq"),
                                                  "timestamp": data.get("timestamp"), "msg": str(data.get("msg", "")),
                                                  "command": report})
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
            reported, custom_info = entry.get("performance"), entry.get("custom_info")
            performance: dict[str, Any] = reported if isinstance(reported, dict) else {}
            strategy = view.strategies.setdefault(str(strategy_id), StrategyView())
            strategy.performance = performance
            strategy.custom_info = custom_info if isinstance(custom_info, dict) else {}
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
                            for k, v in view.strategies.items()}, view.first_seen, view.last_stop)

    def forget(self, name: str) -> None:
        with self._lock:
            self._bots.pop(name, None)
            for key in [k for k in self._last_pnl if k[0] == name]:
                del self._last_pnl[key]

    def _reset_stats(self) -> None:
        """A broker (maybe another one) is being connected to: its statistics start afresh."""
        with self._lock:
            self._stats = BrokerStats()

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


def _command_report(bot: str, data: dict, now: float) -> CommandReport | None:
    """The command report a notification carries, when it has a well-formed `command` field."""
    command, seq = data.get("command"), data.get("seq")
    if not isinstance(command, dict) or not isinstance(command.get("name"), str) or not isinstance(seq, int):
        return None
    origin = command.get("origin")
    strategy = command.get("strategy")
    return CommandReport(
        instance=bot, name=command["name"], strategy=strategy if isinstance(strategy, str) else None,
        outcome="ok" if command.get("outcome") == "ok" else "error",
        origin={k: v for k, v in origin.items() if isinstance(k, str) and isinstance(v, str)}
        if isinstance(origin, dict) else {},
        text=str(data.get("msg", "")), key=f"{bot}:{command.get('run', '')}:{seq}"[:255], at=now)


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
