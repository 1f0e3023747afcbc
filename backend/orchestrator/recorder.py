"""Stores what the fleet heard (log lines, trades, PnL points, notifications, market events) in batches, and
audits the command reports among the notifications.

Each batch is one transaction with the journal cursors it advances (backend/orchestrator/journal.py), so a
record replayed from a bot's journal is never stored twice, also across backend restarts: the fleet starts
from the cursors the store has.
"""
from __future__ import annotations

import logging

from backend.orchestrator.command_audit import CommandAudit
from backend.orchestrator.fleet import Fleet
from backend.store import Store

log = logging.getLogger(__name__)


class FleetRecorder:
    def __init__(self, store: Store, fleet: Fleet, log_lines_per_instance: int, audit: CommandAudit) -> None:
        self.store = store
        self.fleet = fleet
        self.log_lines_per_instance = log_lines_per_instance
        self.audit = audit
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
