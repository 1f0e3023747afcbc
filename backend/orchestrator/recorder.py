"""Stores what the fleet heard (log lines, trades, PnL points, notifications, market events) in batches, and
audits the command reports among the notifications.

Each batch is one transaction with the journal cursors it advances (backend/orchestrator/journal.py), so a
record replayed from a bot's journal is never stored twice, also across backend restarts: the fleet starts
from the cursors the store has. Log lines are capped per bot as they are stored; once a minute, each bot's
notifications and market events, and an external bot's trades and PnL points, are cut to their caps too.
"""
from __future__ import annotations

import logging
import time

from backend.orchestrator.command_audit import CommandAudit
from backend.orchestrator.fleet import Fleet
from backend.store import Store
from backend.store.repositories.telemetry import TelemetryRepository

log = logging.getLogger(__name__)
TRIM_EVERY = 60.0  # s between two cuts of the feeds and of the external bots' history to their caps


class FleetRecorder:
    def __init__(self, store: Store, fleet: Fleet, log_lines_per_instance: int, audit: CommandAudit,
                 external_rows_per_bot: int) -> None:
        self.store = store
        self.fleet = fleet
        self.log_lines_per_instance = log_lines_per_instance
        self.external_rows_per_bot = external_rows_per_bot
        self.audit = audit
        self._trimmed_at = float("-inf")
        fleet.resume_journals(store.journal_cursors())

    def flush(self) -> None:
        """Drain the fleet's queues into the store; a batch that cannot be stored is put back for the next try."""
        heard = self.fleet.drain()
        reports = self.fleet.drain_reports()
        if reports:
            try:
                self.audit.record(reports)
            except Exception:
                log.exception("cannot audit %d command reports", len(reports))
        try:
            self.store.write_batch(heard, self.log_lines_per_instance)
        except Exception:
            log.exception("cannot store %s; will retry", heard.counts())
            self.fleet.requeue(heard)
        if time.monotonic() - self._trimmed_at >= TRIM_EVERY:
            self._trimmed_at = time.monotonic()
            self.trim()

    def trim(self) -> None:
        """Cut what the bots said to its caps (failing, it is tried again at the next turn)."""
        try:
            with self.store.session() as session:
                telemetry = TelemetryRepository(session)
                deleted = (telemetry.trim_feeds(self.log_lines_per_instance)
                           + telemetry.trim_external_history(self.external_rows_per_bot))
        except Exception:
            log.exception("cannot cut the stored notifications, market events and external history to their caps")
            return
        if deleted:
            log.info("%d old notifications, market events and external trades and PnL points deleted (caps: %d "
                     "and %d per bot)", deleted, self.log_lines_per_instance, self.external_rows_per_bot)
