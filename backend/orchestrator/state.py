"""How an instance's state is derived, as pure functions: no clock, no database, no process table.

State is never "a process exists". It is derived from three facts:
- what the runtime says about the process (alive, or exited with a code and a last output line);
- what the fleet connection heard from the bot over MQTT (heartbeats, online/offline), and what the broker's log
  said of its client (it left: fleet.py `last_disconnect`);
- whether the fleet connection itself is up (when the broker is down, nothing can be heard: a running instance
  whose process is alive stays running, "broker unreachable; process alive", and silence counts again only from
  the reconnection).
The instance service gathers the facts on each supervisor tick and right after operator actions, and
applies the outcome through the transition table (lifecycle.py).

"Late" is a mark on a running bot, not a state: silent for more than `late_after` (two heartbeat intervals by
default) but not yet for the heartbeat timeout. Its reason says so ("late: no heartbeat for 23 s"); the lifecycle,
and so the alerts, do not change until the timeout puts it in error.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

from backend.orchestrator.fleet import BotView
from backend.orchestrator.lifecycle import State
from backend.orchestrator.said import Said
from backend.runtimes.base import ProcessState
from backend.settings import Settings

SILENT = "no heartbeat for"
LATE = "late: "
EXTERNAL = "external bot; "
BROKER_UNREACHABLE = "broker unreachable; process alive"
OFFLINE_GRACE = 1.5      # s: an 'offline' is blamed on the connection only if the process does not exit meanwhile
BROKER_DOWN_GRACE = 2.0  # s: a fleet reconnect shorter than this does not put running bots in error


@dataclass(frozen=True)
class Thresholds:
    start_timeout: float
    heartbeat_timeout: float
    stop_grace: float
    late_after: float

    @classmethod
    def of(cls, settings: Settings) -> Thresholds:
        return cls(settings.start_timeout, settings.heartbeat_timeout, settings.stop_grace, settings.late_after())


@dataclass(frozen=True)
class Facts:
    """What is known of one instance at one moment."""

    state: State                    # as stored
    reason: str                     # as stored
    state_since: float
    started_at: float               # when its process was started (0 when unknown)
    stop_requested_at: float | None
    killed: bool                    # SIGKILL already sent
    pid: int | None
    process: ProcessState
    view: BotView | None            # what the fleet heard of it
    broker_down: bool
    listening_since: float          # when the fleet began listening: silence before is not the bot's fault
    broker: str                     # the broker in words, "the broker at host:port"
    connected: bool = True          # the fleet's connection is up now: a bot's departure is told only then


@dataclass(frozen=True)
class Outcome:
    state: State    # the same as the facts' when no transition is due
    reason: str     # the new reason (also when only the words change)
    kill: bool = False  # SIGKILL the process now


def broker_down(connected: bool, disconnected_since: float | None, now: float) -> bool:
    return not connected and now - (disconnected_since or now) >= BROKER_DOWN_GRACE


def late_by(alive_at: float | None, since: float, now: float, late_after: float) -> float | None:
    """How long a running bot has been silent when it is late (silent for more than `late_after`, counted from its
    last sign of life or from `since`, whichever is later), else None."""
    silence = now - max(alive_at or 0.0, since)
    return silence if silence > late_after else None


def is_late(state: State, reason: str) -> bool:
    """The words of a late running bot (reason_now, external_state) say so first."""
    return state == State.RUNNING and reason.removeprefix(EXTERNAL).startswith(LATE)


def left_at(view: BotView | None, since: float) -> float | None:
    """When the broker's log said the bot's client left, when nothing alive was heard since; else None. A departure
    before `since` (when the fleet last (re)connected) counts for nothing: a broker that stops drops every client,
    which is no bot's fault."""
    if view is None or view.last_disconnect is None or view.last_disconnect <= max(view.last_alive or 0.0, since):
        return None
    return view.last_disconnect


def derive_state(facts: Facts, limits: Thresholds, now: float) -> Outcome:
    """Apply the one set of rules that derives the state from process, heartbeats and broker."""
    state, process, view = facts.state, facts.process, facts.view
    alive_at = view.last_alive if view else None
    offline_at = view.last_offline if view else None
    disconnect_at = left_at(view, facts.listening_since)
    started_at = facts.started_at
    if state == State.STARTING:
        if not process.alive:
            return Outcome(State.ERROR, process.detail)
        if alive_at is not None and alive_at >= started_at:
            return Outcome(State.RUNNING, alive_words(view, now) or "heartbeat received")
        if now - started_at > limits.start_timeout:
            words = f"no heartbeat within {limits.start_timeout:.0f} s of start"
            return Outcome(State.ERROR, words + ("; the broker is down" if facts.broker_down else ""))
    elif state == State.RUNNING:
        reference = max(alive_at or 0.0, started_at, facts.listening_since)
        if not process.alive:
            return Outcome(State.ERROR, process.detail)
        if facts.broker_down:  # nothing can be heard, but the process runs (and trades): it is not in error
            return Outcome(state, f"{BROKER_UNREACHABLE} (the backend cannot reach {facts.broker}, so no "
                                  "heartbeat can arrive)")
        if facts.reason.startswith(BROKER_UNREACHABLE):
            return Outcome(state, alive_words(view, now) or "broker reachable again; waiting for a heartbeat")
        if offline_at is not None and offline_at > (alive_at or 0.0) and now - offline_at >= OFFLINE_GRACE:
            return Outcome(State.ERROR, "went offline (connection lost, last will)")
        if disconnect_at is not None and facts.connected and now - disconnect_at >= OFFLINE_GRACE:
            return Outcome(State.ERROR, "disconnected from the broker (its log says so), process alive")
        if now - reference > limits.heartbeat_timeout:
            return Outcome(State.ERROR, f"{SILENT} {now - reference:.0f} s")
    elif state == State.STOPPING:
        waited = now - (facts.stop_requested_at or now)
        if not process.alive:
            words = "stopped by operator" + (
                f" (killed after {limits.stop_grace:.0f} s without stopping)" if facts.killed
                else "" if process.exit_code in (0, None) else f" ({process.detail.split(':')[0]})")
            return Outcome(State.STOPPED, words)
        if not facts.killed and waited > limits.stop_grace:
            return Outcome(state, facts.reason, kill=True)
        if facts.killed and waited > limits.stop_grace + 10:
            return Outcome(State.ERROR, f"could not stop: pid {facts.pid} survives SIGKILL")
    elif state == State.ERROR:
        if process.alive and alive_at is not None and alive_at > facts.state_since and not facts.broker_down \
                and (offline_at is None or alive_at > offline_at) and disconnect_at is None:
            return Outcome(State.RUNNING, "heartbeats again: " + (alive_words(view, now) or ""))
        if not process.alive and not facts.reason.startswith(process.detail):
            return Outcome(state, process.detail)  # the exit explains more than the silence before it
    return Outcome(state, facts.reason)


def reason_now(state: State, reason: str, started_at: float | None, view: BotView | None, now: float,
               listening_since: float, late_after: float) -> str:
    """The stored reason, or for the states that change by the second, the reason as of now."""
    if state == State.RUNNING and reason.startswith(BROKER_UNREACHABLE):
        return reason
    if state == State.RUNNING and (silence := late_by(view.last_alive if view else None,
                                                      max(listening_since, started_at or 0.0), now, late_after)):
        return f"{LATE}{SILENT} {silence:.0f} s"
    if state == State.RUNNING:
        alive = alive_words(view, now) or "running; no heartbeat heard yet since the backend started"
        stopped = stopped_words(view)
        return f"{stopped}; {alive}" if stopped else alive
    if state == State.ERROR and reason.startswith(SILENT):
        alive_at = view.last_alive if view else None
        _seconds, more, rest = reason.partition("; ")  # what follows the silence (why it cannot be told) stays
        return f"{SILENT} {now - max(alive_at or 0.0, listening_since, started_at or 0.0):.0f} s{more}{rest}"
    return reason


def external_state(view: BotView, now: float, broker_is_down: bool, broker: str, heartbeat_timeout: float,
                   late_after: float, listening_since: float) -> tuple[State, str]:
    """A bot the backend did not create: its state comes from what was heard, and nothing else. Heartbeats say it
    is connected; whether its strategy runs, only its own words say (said.py): once it says its strategy stopped
    (its reply to `stop`, "Hummingbot stopped."), it is `stopped` while connected, until it says it runs again or
    goes offline (what it said before no longer holds then)."""
    alive_at = view.last_alive
    if broker_is_down:
        return State.ERROR, (EXTERNAL + f"{broker} is unreachable, so nothing can be heard "
                             f"(last seen {now - (view.last_seen or now):.0f} s ago)")
    if view.last_offline is not None and view.last_offline > (alive_at or 0.0):
        return State.STOPPED, EXTERNAL + f"went offline {now - view.last_offline:.0f} s ago"
    if (disconnect_at := left_at(view, listening_since)) is not None:
        return State.STOPPED, EXTERNAL + f"disconnected from the broker {now - disconnect_at:.0f} s ago (its log)"
    if alive_at is None:
        heard_lately = now - (view.last_seen or 0.0) < heartbeat_timeout
        if not heard_lately:
            return State.ERROR, (EXTERNAL + f"messages heard (last {now - (view.last_seen or now):.0f} s ago) "
                                 "but no heartbeat yet")
        connected = f"messages heard (last {now - (view.last_seen or now):.0f} s ago) but no heartbeat yet"
        silence = None
    elif now - alive_at > heartbeat_timeout:
        return State.ERROR, EXTERNAL + f"{SILENT} {now - alive_at:.0f} s"
    else:
        connected = alive_words(view, now) or "alive"
        silence = late_by(alive_at, listening_since, now, late_after)
    said = view.said if view.said is not None and view.said.at > (view.last_offline or 0.0) else None
    if said is not None and not said.running:
        return State.STOPPED, EXTERNAL + f"connected, strategy stopped ({said_words(said)}); {connected}"
    running = f"strategy running ({said_words(said)}); " if said is not None else ""
    if silence is not None:  # late's words first (is_late)
        return State.RUNNING, EXTERNAL + f"{LATE}{SILENT} {silence:.0f} s" + (f"; {running[:-2]}" if running else "")
    stopped = stopped_words(view)
    return State.RUNNING, EXTERNAL + running + (f"{stopped}; " if stopped else "") + connected


def said_words(said: Said) -> str:
    """'answered stop with 200 at 14:03:12'"""
    return f"{said.words} at {time.strftime('%H:%M:%S', time.localtime(said.at))}"


def stopped_words(view: BotView | None) -> str:
    """'all strategies stopped' or '2 of 5 strategies stopped' as the bot's last performance report says, with the
    last stop command it reported ('(stop command from commlib at 14:03:12)'); '' when none is stopped."""
    if view is None or not view.strategies:
        return ""
    reported = view.strategies.values()
    if not any(strategy.status == "stopped" for strategy in reported):
        return ""
    latest = max(strategy.at for strategy in reported)
    statuses = [strategy.status for strategy in reported if strategy.at == latest]
    stopped = statuses.count("stopped")
    if not stopped:
        return ""
    words = "all strategies stopped" if stopped == len(statuses) else \
        f"{stopped} of {len(statuses)} strategies stopped"
    stop = view.last_stop
    if stop is not None:
        words += (f" (stop command{f' for {stop.strategy}' if stop.strategy else ''} from {stop.sender} "
                  f"at {time.strftime('%H:%M:%S', time.localtime(stop.at))})")
    return words


def alive_words(view: BotView | None, now: float) -> str:
    if view is None:
        return ""
    if view.last_heartbeat is not None and (view.last_online is None or view.last_heartbeat >= view.last_online):
        return f"heartbeat received {max(0.0, now - view.last_heartbeat):.0f} s ago"
    if view.last_online is not None:
        words = f"came online {max(0.0, now - view.last_online):.0f} s ago"
        return words + ("; no heartbeat yet" if view.last_heartbeat is None else "; heartbeat due")
    return ""
