"""Stores what the fleet heard: notifications (their command reports audited) and market events, then log lines,
trades and PnL points in batches."""
from __future__ import annotations

import logging

from backend.orchestrator.command_audit import CommandAudit
from backend.orchestrator.fleet import Fleet
from backend.store import MarketEventRow, NotificationRow, Store
from backend.store.repositories.telemetry import TelemetryRepository

log = logging.getLogger(__name__)


class FleetRecorder:
    def __init__(self, store: Store, fleet: Fleet, log_lines_per_instance: int, audit: CommandAudit) -> None:
        self.store = store
        self.fleet = fleet
        self.log_lines_per_instance = log_lines_per_instance
        self.audit = audit

    def flush(self) -> None:
        """Drain the fleet's queues into the store; a batch that cannot be stored is put back for the next try."""
        notes, events = self.fleet.drain_messages()
        if notes or events:
            try:
                with self.store.session() as session:
                    telemetry = TelemetryRepository(session)
                    telemetry.add_notifications(
                        NotificationRow(instance=n["instance"], ts=n["ts"], msg=n["msg"],
                                        seq=n["seq"] if isinstance(n["seq"], int) else None) for n in notes)
                    telemetry.add_market_events(
                        MarketEventRow(instance=e["instance"], ts=e["ts"], type=e["type"][:63], data=e["data"])
                        for e in events)
            except Exception:
                log.exception("cannot store %d notifications and %d market events", len(notes), len(events))
            try:
                self.audit.record(n["command"] for n in notes if n.get("command") is not None)
            except Exception:
                log.exception("cannot audit the command reports of %d notifications", len(notes))
        logs, trades, pnl = self.fleet.drain()
        try:
            self.store.write_batch(logs, trades, pnl, self.log_lines_per_instance)
        except Exception:
            log.exception("cannot store %d log lines, %d trades, %d PnL points; will retry",
                          len(logs), len(trades), len(pnl))
            self.fleet.requeue(logs, trades, pnl)
