"""Nothing a bot journals is lost or stored twice: the cursor per bot and run, and the catch-up that fills gaps.

A hive_core bot journals every log line, notification, market event and PnL point it publishes, with a seq per
run (hive_core/remote/journal.py), and its heartbeat carries the journal's head. The fleet accepts a live
message only when it is the next one of the run it follows (`JournalTracker.live`); a gap, an unknown run (a
backend or bot restart), or a heartbeat ahead of the cursor starts a catch-up: the `JournalCatchup` thread asks
the bot for what is missing with the `journal` command, run by run, oldest first, in bounded chunks, until it has
the head. Live messages heard meanwhile are held (boundedly) and looked at again once caught up. The cursors
start from what the store has (`Store.journal_cursors`), which is written with the records themselves.

A bot that cannot be asked (it does not serve commands) is followed as it is heard after a failed catch-up,
skipping what it missed, and asked again after RETRY_AFTER.
"""
from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from backend.errors import HiveError, OperationFailed

log = logging.getLogger(__name__)

HELD_MAX = 5_000  # live messages held per bot while it is caught up; beyond it they are fetched again
CHUNK = 500  # records asked per `journal` request
RETRY_AFTER = 10.0  # s after a failed catch-up before the bot is asked again
MAX_REQUESTS = 100_000  # per catch-up: a bound, far above any journal's size in chunks

Held = tuple[str, dict[str, Any], float]  # (topic kind, payload, receive time)
Request = Callable[[str, str, dict[str, Any]], dict[str, Any]]  # (bot, command, data) -> reply data


class Verdict(Enum):
    ACCEPT = "accept"  # the next record of the run followed: store it
    SKIP = "skip"  # already had (or given up on)
    HOLD = "hold"  # held until the catch-up under way is done


@dataclass
class BotJournal:
    cursors: dict[str, int] = field(default_factory=dict)  # run -> last seq accepted
    live_run: str | None = None
    catching_up: bool = False
    held: deque[Held] = field(default_factory=lambda: deque(maxlen=HELD_MAX))
    retry_at: float = 0.0  # monotonic; after a failed catch-up, followed as heard until then


@dataclass
class JournalFigures:
    catchups: int = 0
    replayed: int = 0  # records stored from `journal` replies
    skipped: int = 0  # duplicates not stored again
    lost: int = 0  # records a bot no longer had (deleted for space) or that could not be fetched
    last_catchup_s: float = 0.0


class JournalTracker:
    """The cursors of every bot's journal; not thread-safe: the fleet calls it under its own lock."""

    def __init__(self, start_catchup: Callable[[str], None]) -> None:
        self._start_catchup = start_catchup
        self._bots: dict[str, BotJournal] = {}
        self._changed: dict[tuple[str, str], int] = {}
        self.figures = JournalFigures()

    def load(self, cursors: dict[tuple[str, str], int]) -> None:
        """Start from what the store has."""
        for (bot, run), seq in cursors.items():
            state = self._bots.setdefault(bot, BotJournal())
            state.cursors[run] = max(seq, state.cursors.get(run, 0))

    def cursor(self, bot: str, run: str) -> int:
        state = self._bots.get(bot)
        return state.cursors.get(run, 0) if state is not None else 0

    def live(self, bot: str, run: str, seq: int, held: Held) -> Verdict:
        """What to do with a live message of `bot` (record `seq` of `run`)."""
        state = self._bots.setdefault(bot, BotJournal())
        if state.catching_up:
            state.held.append(held)
            return Verdict.HOLD
        expected = state.cursors.get(run, 0) + 1
        if run == state.live_run and seq < expected:
            self.figures.skipped += 1
            return Verdict.SKIP
        if run == state.live_run and seq == expected:
            self._advance(bot, state, run, seq)
            return Verdict.ACCEPT
        if time.monotonic() < state.retry_at:  # cannot be asked now: follow it as heard
            if seq < expected:
                return Verdict.SKIP
            self.figures.lost += seq - expected
            state.live_run = run
            self._advance(bot, state, run, seq)
            return Verdict.ACCEPT
        self._catch_up(bot, state)
        state.held.append(held)
        return Verdict.HOLD

    def head(self, bot: str, run: str, seq: int) -> None:
        """A heartbeat said the bot's journal is at `seq` of `run`: catch up when that is ahead of us."""
        state = self._bots.setdefault(bot, BotJournal())
        if state.catching_up or time.monotonic() < state.retry_at:
            return
        if run != state.live_run or seq > state.cursors.get(run, 0):
            self._catch_up(bot, state)

    def replayed(self, bot: str, run: str, seq: int) -> bool:
        """Whether record `seq` of `run`, fetched by a catch-up, is new (records missing before it are lost)."""
        state = self._bots.setdefault(bot, BotJournal())
        cursor = state.cursors.get(run, 0)
        if seq <= cursor:
            self.figures.skipped += 1
            return False
        self.figures.lost += seq - cursor - 1
        self.figures.replayed += 1
        self._advance(bot, state, run, seq)
        return True

    def caught_up(self, bot: str, run: str | None, failed: bool = False) -> list[Held]:
        """The catch-up ended: follow `run` live from now on; returns the messages held meanwhile, oldest first."""
        state = self._bots.setdefault(bot, BotJournal())
        state.catching_up = False
        if run is not None:
            state.live_run = run
        if failed:
            state.retry_at = time.monotonic() + RETRY_AFTER
        held = list(state.held)
        state.held.clear()
        return held

    def drain_cursors(self) -> dict[tuple[str, str], int]:
        changed, self._changed = self._changed, {}
        return changed

    def requeue_cursors(self, cursors: dict[tuple[str, str], int]) -> None:
        for key, seq in cursors.items():
            self._changed[key] = max(seq, self._changed.get(key, 0))

    def forget(self, bot: str) -> None:
        self._bots.pop(bot, None)

    def _advance(self, bot: str, state: BotJournal, run: str, seq: int) -> None:
        state.cursors[run] = seq
        self._changed[(bot, run)] = seq

    def _catch_up(self, bot: str, state: BotJournal) -> None:
        state.catching_up = True
        self.figures.catchups += 1
        self._start_catchup(bot)


class JournalCatchup:
    """One thread that catches bots up, one at a time, in the order they were found behind."""

    def __init__(self, request: Request, replay: Callable[[str, str, list[dict[str, Any]]], None],
                 cursor: Callable[[str, str], int], done: Callable[[str, str | None, bool], None]) -> None:
        """`request` asks a bot, `replay(bot, run, records)` digests fetched records, `cursor(bot, run)` says how
        far we are, `done(bot, run followed from now on, failed)` ends a catch-up."""
        self._request = request
        self._replay = replay
        self._cursor = cursor
        self._done = done
        self._pending: deque[str] = deque()
        self._wake = threading.Condition()
        self._thread: threading.Thread | None = None
        self._stopping = False
        self.figures_s: list[float] = []  # how long each catch-up took (the last 100)

    def want(self, bot: str) -> None:
        with self._wake:
            if bot not in self._pending:
                self._pending.append(bot)
            if self._thread is None and not self._stopping:
                self._thread = threading.Thread(target=self._run, name="hive-journal-catchup", daemon=True)
                self._thread.start()
            self._wake.notify()

    def stop(self, timeout: float = 5.0, abort: Callable[[], None] | None = None) -> None:
        """No catch-up after this; `abort` calls off the request under way (else it is waited for, up to `timeout`)."""
        with self._wake:
            self._stopping = True
            self._wake.notify()
            thread = self._thread
        if abort is not None:
            abort()
        if thread is not None:
            thread.join(timeout)

    def _run(self) -> None:
        while True:
            with self._wake:
                while not self._pending and not self._stopping:
                    self._wake.wait()
                if self._stopping:
                    return
                bot = self._pending.popleft()
            started = time.monotonic()
            run: str | None = None
            try:
                run = self.catch_up(bot)
            except HiveError as error:
                if self._stopping:
                    return
                log.warning("cannot catch up with %s's journal: %s", bot, error.detail)
                self._done(bot, None, True)
            except Exception:
                log.exception("catching up with %s's journal failed", bot)
                self._done(bot, None, True)
            else:
                self._done(bot, run, False)
                self.figures_s = [*self.figures_s[-99:], time.monotonic() - started]

    def catch_up(self, bot: str) -> str | None:
        """Fetch every record of `bot`'s runs on disk beyond our cursors, oldest run first; the current run."""
        listing = self._ask(bot, {"limit": 0})
        if listing.get("status") != 200:
            raise OperationFailed("journal_unavailable", str(listing.get("msg") or listing))
        current = listing.get("current") or {}
        current_run = current.get("run") if isinstance(current.get("run"), str) else None
        runs = [entry for entry in listing.get("runs") or [] if isinstance(entry, dict)]
        heads = {str(entry.get("run")): int(entry.get("last_seq") or 0) for entry in runs}
        if current_run is not None:
            heads[current_run] = max(heads.get(current_run, 0), int(current.get("seq") or 0))
        requests = 1
        for run, head in heads.items():
            since = self._cursor(bot, run) + 1
            while since <= head and requests < MAX_REQUESTS:
                reply = self._ask(bot, {"run": run, "since": since, "limit": CHUNK})
                requests += 1
                records = [r for r in reply.get("records") or [] if isinstance(r, dict)]
                if reply.get("status") != 200 or not records:
                    break
                self._replay(bot, run, records)
                since = max(since, int(records[-1].get("seq") or 0) + 1)
                if run == current_run:
                    head = max(head, int((reply.get("current") or {}).get("seq") or 0))
        if requests > 1:
            log.info("caught up with %s's journal in %d requests", bot, requests)
        return current_run

    def _ask(self, bot: str, data: dict[str, Any]) -> dict[str, Any]:
        return self._request(bot, "journal", data)
