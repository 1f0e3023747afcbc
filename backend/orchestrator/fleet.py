"""What the fleet connection hears, digested: the latest view of each bot and what must be stored.

Every bot's heartbeats, availability, logs, notifications, events and performance (docs/protocol.md) and
the broker's `$SYS/broker/...` statistics arrive through the connection (backend/orchestrator/connection.py).
The latest view of each bot is kept in memory and what must be stored (log lines, trades, PnL points,
notifications, market events) is queued; the supervisor drains that queue into the store, so that the MQTT
thread never waits on the database.

What a hive_core bot journals (its messages carry `journal: {run, seq}`) is queued exactly once and in order,
what it published while nobody listened is fetched from its journal (backend/orchestrator/journal.py), and its
PnL points are its own (P/pnl). Of other bots (their heartbeat carries no journal head), PnL points are sampled
from P/performance every `pnl_interval`.
"""
from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple, TypeVar

from backend.broker.base import BrokerStats
from backend.orchestrator.connection import FleetConnection
from backend.orchestrator.journal import Held, JournalCatchup, JournalTracker, Verdict
from backend.orchestrator.said import Said, of_notification, of_reply
from backend.store import Heard, LogEntry, MarketEventEntry, NotificationEntry, PnlEntry, TradeEntry
from backend.store.db import JournalKey
from hive_core.protocol import BOT_TOPICS, HEARTBEAT_TOPIC, JOURNALED_TOPICS

log = logging.getLogger(__name__)

# $SYS/broker/<name> topics read for broker health; amqtt and Mosquitto both publish these.
SYS_TOPICS = ("clients/connected", "messages/received", "messages/sent", "uptime")
STRATEGY_LOGGER_PREFIX = "hive.strategy."
MAX_PENDING = 50_000  # per queue; beyond it the oldest entries are dropped (the store is far behind)
READ_CHUNK = 50  # bots read per hold of the fleet's lock (Fleet.each)
T = TypeVar("T")
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")


class ReportedPnl(NamedTuple):
    """A strategy's PnL figures as its performance report gives them (0 for a figure missing or not a number), read
    once when the report arrives: every listing sums them."""

    realized: float
    unrealized: float
    total: float
    volume: float

    @classmethod
    def of(cls, figures: dict[str, Any]) -> ReportedPnl:
        return cls(_float(figures.get("realized_pnl_quote")), _float(figures.get("unrealized_pnl_quote")),
                   _float(figures.get("global_pnl_quote")), _float(figures.get("volume_traded")))


@dataclass
class StrategyView:
    performance: dict[str, Any] = field(default_factory=dict)
    custom_info: dict[str, Any] = field(default_factory=dict)
    status: str | None = None
    error: str | None = None
    at: float = 0.0
    pnl: ReportedPnl = field(default_factory=lambda: ReportedPnl(0.0, 0.0, 0.0, 0.0))  # read off `performance`


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
    journaled: bool | None = None  # it keeps a journal (PnL points from P/pnl); None until its heartbeat is heard
    said: Said | None = None  # its last word on its strategy (running or stopped): a notification or command reply
    last_disconnect: float | None = None  # when the broker's log last said its client left (clean or not)

    @property
    def last_alive(self) -> float | None:
        """The last sign of life: a heartbeat or an 'online' announcement."""
        heartbeat, online = self.last_heartbeat, self.last_online
        return online if heartbeat is None else heartbeat if online is None or heartbeat >= online else online


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
        self._heard = Heard()
        self._reports: list[CommandReport] = []  # command reports heard, for the audit (drain_reports)
        self._last_pnl: dict[tuple[str, str], float] = {}
        self.catchup = JournalCatchup(self.connection.request, self.replayed, self.journal_cursor, self._caught_up)
        self.journal = JournalTracker(self.catchup.want)

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
        journal = _journal_key(data)
        with self._lock:
            view = self._bots.setdefault(bot, BotView(first_seen=now))
            view.last_seen = now
            if kind == HEARTBEAT_TOPIC:
                view.journaled = journal is not None or bool(view.journaled)
            if journal is not None:
                view.journaled = True
                if kind == HEARTBEAT_TOPIC:
                    self.journal.head(bot, *journal)
                elif kind in JOURNALED_TOPICS and self.journal.live(bot, *journal, (kind, data, now)) \
                        is not Verdict.ACCEPT:
                    return
            self._digest(bot, view, kind, data, now, journal)

    def _digest(self, bot: str, view: BotView, kind: str, data: dict, now: float, journal: JournalKey | None) -> None:
        """Update the view and queue what is to be stored (under the lock)."""
        if kind == "hb":
            view.last_heartbeat = now
        elif kind == "status_updates":
            if data.get("type") == "availability":
                if data.get("msg") == "online":
                    view.last_online = now
                elif data.get("msg") == "offline":
                    view.last_offline = now
        elif kind == "log":
            self._queue(self._heard.logs, _log_entry(bot, data, now, journal))
        elif kind == "notify":
            report = _command_report(bot, data, now)
            if report is not None:
                self._reports.append(report)
                if report.name == "stop" and report.outcome == "ok":
                    view.last_stop = report
            said = of_notification(str(data.get("msg", "")), data.get("command"), now)
            if said is not None:
                view.said = said
            seq = data.get("seq")
            self._queue(self._heard.notifications, NotificationEntry(
                bot, now, seq if isinstance(seq, int) else None, str(data.get("msg", "")), journal))
            self._queue(self._heard.logs, LogEntry(bot, _float(data.get("timestamp"), now, seconds=True), 20,
                                                   "INFO", "hive.notify", str(data.get("msg", "")), None, journal))
        elif kind == "events":
            self._queue(self._heard.market_events, MarketEventEntry(bot, now, str(data.get("type", "")),
                                                                    data.get("data"), journal))
            trade = _trade_entry(bot, data, now, journal)
            if trade is not None:
                self._queue(self._heard.trades, trade)
        elif kind == "pnl":
            self._handle_pnl(bot, data, now, journal)
        elif kind == "performance":
            self._handle_performance(bot, view, data, now)

    def _handle_pnl(self, bot: str, data: dict, now: float, journal: JournalKey | None) -> None:
        """P/pnl: the bot's own PnL points (one per strategy), at the bot's time."""
        strategies = data.get("strategies")
        if not isinstance(strategies, dict):
            return
        ts = _float(data.get("timestamp"), now, seconds=True)
        for strategy_id, figures in strategies.items():
            if isinstance(figures, dict):
                self._queue(self._heard.pnl, _pnl_entry(bot, str(strategy_id), ts, figures, journal))

    # --- the journal -----------------------------------------------------------------------------
    def resume_journals(self, cursors: dict[tuple[str, str], int]) -> None:
        """Follow the bots' journals from what the store has ((bot, run) -> seq)."""
        with self._lock:
            self.journal.load(cursors)

    def journal_cursor(self, bot: str, run: str) -> int:
        with self._lock:
            return self.journal.cursor(bot, run)

    def replayed(self, bot: str, run: str, records: list[dict[str, Any]]) -> None:
        """Records fetched from `bot`'s journal (of `run`, in order): digest those not had yet."""
        now = time.time()
        with self._lock:
            view = self._bots.setdefault(bot, BotView(first_seen=now))
            for record in records:
                seq, kind, data = record.get("seq"), record.get("topic"), record.get("payload")
                if not isinstance(seq, int) or kind not in JOURNALED_TOPICS or not isinstance(data, dict):
                    continue
                if self.journal.replayed(bot, run, seq):
                    self._digest(bot, view, str(kind), data, now, (run, seq))

    def _caught_up(self, bot: str, run: str | None, failed: bool) -> None:
        """A catch-up ended: look again at the live messages held meanwhile."""
        with self._lock:
            held: list[Held] = self.journal.caught_up(bot, run, failed)
        for kind, data, now in held:
            self.handle(f"{self.namespace}/{bot}/{kind}", json.dumps(data).encode(), now)

    def _handle_performance(self, bot: str, view: BotView, data: dict, now: float) -> None:
        for strategy_id, entry in data.items():
            if not isinstance(entry, dict):
                continue
            reported, custom_info = entry.get("performance"), entry.get("custom_info")
            performance: dict[str, Any] = reported if isinstance(reported, dict) else {}
            strategy = view.strategies.setdefault(str(strategy_id), StrategyView())
            strategy.performance, strategy.pnl = performance, ReportedPnl.of(performance)
            strategy.custom_info = custom_info if isinstance(custom_info, dict) else {}
            strategy.status = entry.get("status")
            strategy.error = entry.get("error")
            strategy.at = now
            key = (bot, str(strategy_id))
            if view.journaled is False and now - self._last_pnl.get(key, 0.0) >= self.pnl_interval:
                self._last_pnl[key] = now
                self._queue(self._heard.pnl, _pnl_entry(bot, str(strategy_id), now, performance, None))

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

    def silence_counts_from(self) -> float:
        """Since when a bot's silence is its own: the fleet has listened since, and has been connected to the broker
        since its last reconnection (nothing could be heard during an outage)."""
        return max(self.listening_since, self.connection.connected_since or 0.0)

    def known_bots(self) -> list[str]:
        """Every bot heard under the namespace, whoever created it."""
        with self._lock:
            return sorted(self._bots)

    # --- what others read ------------------------------------------------------------------------
    def heard(self, name: str) -> bool:
        """Whether bot `name` was heard (without copying what was)."""
        with self._lock:
            return name in self._bots

    def bot(self, name: str) -> BotView | None:
        with self._lock:
            view = self._bots.get(name)
            return None if view is None else _copy(view)

    def each(self, read: Callable[[str, BotView], T]) -> list[T]:
        """`read(name, view)` of every bot heard, by name, without copying the views: called under the lock, which
        is taken READ_CHUNK bots at a time (so the MQTT thread never waits for the whole fleet), `read` must be
        quick and keep nothing of the view."""
        with self._lock:
            names = sorted(self._bots)
        results = []
        for start in range(0, len(names), READ_CHUNK):
            with self._lock:
                for name in names[start:start + READ_CHUNK]:
                    view = self._bots.get(name)
                    if view is not None:  # not forgotten meanwhile
                        results.append(read(name, view))
        return results

    def heard_reply(self, bot: str, command: str, data: dict[str, Any], reply: dict[str, Any]) -> None:
        """A bot's reply to a command sent to it (by this backend): note what it says of its strategy."""
        said = of_reply(command, data, reply, time.time())
        if said is None:
            return
        with self._lock:
            view = self._bots.get(bot)
            if view is not None:
                view.said = said

    def disconnected(self, name: str, at: float) -> None:
        """The broker's log says that bot `name`'s client left at `at` (a bot never heard is not made known by it).
        Not while the fleet's own connection is down: a broker that stops drops every client."""
        if not self.connection.connected:
            return
        with self._lock:
            view = self._bots.get(name)
            if view is not None and at > (view.last_disconnect or 0.0):
                view.last_disconnect = at

    def forget(self, name: str) -> None:
        with self._lock:
            self._bots.pop(name, None)
            self.journal.forget(name)
            for key in [k for k in self._last_pnl if k[0] == name]:
                del self._last_pnl[key]

    def _reset_stats(self) -> None:
        """A broker (maybe another one) is being connected to: its statistics start afresh."""
        with self._lock:
            self._stats = BrokerStats()

    def heard_bots(self) -> list[tuple[str, float | None, float | None]]:
        """(bot, first heard, last heard) of every bot heard, by name: who is on an external broker, as far as the
        backend can tell."""
        with self._lock:
            return sorted((name, view.first_seen, view.last_seen) for name, view in self._bots.items())

    def broker_stats(self) -> BrokerStats:
        with self._lock:
            s = self._stats
            return BrokerStats(s.clients_connected, s.messages_received, s.messages_sent, s.uptime_s,
                               s.messages_per_s, s.updated_at)

    def drain(self) -> Heard:
        """Everything heard since the last drain, with the journal cursors it advances (taken together)."""
        with self._lock:
            heard, self._heard = self._heard, Heard()
            heard.cursors = self.journal.drain_cursors()
        return heard

    def requeue(self, heard: Heard) -> None:
        """Put back what could not be stored, ahead of what arrived since."""
        with self._lock:
            now = self._heard
            now.logs[:0], now.trades[:0], now.pnl[:0] = heard.logs, heard.trades, heard.pnl
            now.notifications[:0], now.market_events[:0] = heard.notifications, heard.market_events
            self.journal.requeue_cursors(heard.cursors)

    def drain_reports(self) -> list[CommandReport]:
        """The command reports heard since the last call (for the audit, which stores each once)."""
        with self._lock:
            reports, self._reports = self._reports, []
        return reports


def _copy(view: BotView) -> BotView:
    """A copy that the MQTT thread's later changes leave alone. A strategy's `performance` and `custom_info` are
    shared, not copied: a report replaces them whole and nothing changes them in place."""
    return BotView(view.last_heartbeat, view.last_online, view.last_offline, view.last_seen,
                   {k: StrategyView(v.performance, v.custom_info, v.status, v.error, v.at, v.pnl)
                    for k, v in view.strategies.items()}, view.first_seen, view.last_stop, said=view.said,
                   last_disconnect=view.last_disconnect)


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


def _journal_key(data: dict) -> JournalKey | None:
    """(run, seq) of a journaled message, or of the journal's head on a heartbeat (hive_core/remote/journal.py)."""
    journal = data.get("journal")
    if not isinstance(journal, dict):
        return None
    run, seq = journal.get("run"), journal.get("seq")
    if not isinstance(run, str) or not run or not isinstance(seq, int) or isinstance(seq, bool) or seq < 0:
        return None
    return run[:64], seq


def _pnl_entry(bot: str, strategy: str, ts: float, figures: dict, journal: JournalKey | None) -> PnlEntry:
    pnl = ReportedPnl.of(figures)
    return PnlEntry(bot, strategy, ts, realized=pnl.realized, unrealized=pnl.unrealized, total=pnl.total,
                    volume=pnl.volume, journal=journal)


def _log_entry(bot: str, data: dict, now: float, journal: JournalKey | None) -> LogEntry:
    logger_name = str(data.get("logger_name", ""))
    level_no = int(_float(data.get("level_no"), 20))
    return LogEntry(
        instance=bot, ts=_float(data.get("timestamp"), now, seconds=True), level_no=level_no,
        level_name=str(data.get("level_name") or logging.getLevelName(level_no)), logger_name=logger_name,
        msg=str(data.get("msg", "")), strategy=strategy_of_logger(logger_name), journal=journal,
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


def _trade_entry(bot: str, event: dict, now: float, journal: JournalKey | None) -> TradeEntry | None:
    if event.get("type") != "OrderFilled" or not isinstance(event.get("data"), dict):
        return None
    data = event["data"]
    side = str(data.get("trade_type", "")).upper().rsplit(".", 1)[-1]
    if side not in ("BUY", "SELL"):
        return None
    fee = data.get("fee_quote", data.get("fee"))
    if fee is None:
        fee = _trade_fee_in_quote(data)
    return TradeEntry(
        instance=bot, ts=_float(data.get("timestamp", event.get("timestamp")), now, seconds=True),
        strategy=data.get("controller_id") or None, order_id=str(data.get("order_id", "")),
        trading_pair=str(data.get("trading_pair", "")), side=side, price=_float(data.get("price")),
        amount=_float(data.get("amount")), fee=_float(fee),
        trade_id=str(data["exchange_trade_id"])[:128] if data.get("exchange_trade_id") is not None else None,
        journal=journal,
    )


def _trade_fee_in_quote(data: dict) -> float:
    """The fee of a Hummingbot fill (its `trade_fee`: `percent` of the fill's value, in `percent_token` or the quote,
    plus `flat_fees`), counting only what is in the quote token (fees in other tokens have no price here)."""
    trade_fee = data.get("trade_fee")
    if not isinstance(trade_fee, dict):
        return 0.0
    quote = str(data.get("trading_pair", "")).rpartition("-")[2]
    fee = 0.0
    if trade_fee.get("percent_token") in (None, "", quote):
        fee += _float(trade_fee.get("percent")) * _float(data.get("price")) * _float(data.get("amount"))
    flat_fees = trade_fee.get("flat_fees")
    for flat in flat_fees[:16] if isinstance(flat_fees, list) else []:
        if isinstance(flat, dict) and flat.get("token") == quote:
            fee += _float(flat.get("amount"))
    return fee
