"""The audit trail of commands to bots, whatever path they took (docs/architecture.md, "Audit").

A command this backend sends for an operator is audited as it is sent (origin `api`, with its `msg_id`), and
its row gets the outcome of the reply. Every bot reports each command that acts on P/notify with the header
fields of the request (docs/protocol.md, "Command reports"). A report of one of this backend's requests (its
`msg_id` has an `api` row) is linked to that row, not audited again; any other is audited as origin `mqtt` on
the instance, its actor `mqtt:<agent>`. Each report is audited once: its key `<instance>:<run>:<seq>` is unique in
the store, so a report heard again (after a reconnect, or by a second backend on the same store) adds nothing.
Reads (`hive_core.protocol.only_reads`) are not audited.
"""
from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from typing import Any

from sqlalchemy.exc import IntegrityError

from backend.errors import TimedOut
from backend.orchestrator.connection import FleetConnection
from backend.orchestrator.fleet import CommandReport
from backend.store import AuditRow, Store
from backend.store.repositories.events import EventRepository
from hive_core.protocol import only_reads

log = logging.getLogger(__name__)

ACTION = "command"


def command_words(command: str, strategy: Any) -> str:
    return command + (f" for {strategy}" if isinstance(strategy, str) and strategy else "")


class CommandAudit:
    def __init__(self, store: Store, connection: FleetConnection,
                 replied: Callable[[str, str, dict[str, Any], dict[str, Any]], None] = lambda *_: None) -> None:
        """`replied(bot, command, data, reply)` is told every reply (Fleet.heard_reply notes what it says)."""
        self.store = store
        self.connection = connection
        self.replied = replied
        # The reply (a server thread) and the report (the recorder) of one command update its row: one at a time,
        # or the later commit undoes the other's change, read before it.
        self._writing = threading.Lock()

    def request(self, actor: str, bot: str, command: str, data: dict[str, Any],
                timeout: float | None = None, words: str | None = None) -> dict[str, Any]:
        """Send one command for `actor` and return the bot's reply; a command that acts is audited, in `words`
        when given (say, a reload's versions), else as the command and its strategy."""
        if only_reads(command, data):
            reply = self.connection.request(bot, command, data, timeout)
            self.replied(bot, command, data, reply)
            return reply
        msg_id = uuid.uuid4().hex
        strategy = data.get("strategy") if isinstance(data.get("strategy"), str) else None
        words = words or command_words(command, strategy)
        log.info("audit: %s %s %s on %s", actor, ACTION, words, bot)
        with self.store.session() as session:
            EventRepository(session).add_audit(AuditRow(
                ts=time.time(), actor=actor, action=ACTION, outcome="sent", detail=words, instance=bot,
                origin="api", msg_id=msg_id, strategy=strategy and strategy[:63]))
        try:
            reply = self.connection.request(bot, command, data, timeout, msg_id=msg_id)
        except TimedOut as error:
            self._answered(msg_id, "timeout", f"{words}: {error.detail}")
            raise
        self.replied(bot, command, data, reply)
        ok = reply.get("status") == 200
        self._answered(msg_id, "ok" if ok else "error", words if ok else f"{words}: {reply.get('msg', '')}")
        return reply

    async def read(self, bot: str, command: str, data: dict[str, Any], timeout: float | None = None) -> dict[str, Any]:
        """A command that only reads (`only_reads`: not audited), awaited on the event loop."""
        if not only_reads(command, data):
            raise ValueError(f"{command} acts: send it with request(), which audits it")
        reply = await self.connection.request_async(bot, command, data, timeout)
        self.replied(bot, command, data, reply)
        return reply

    def _answered(self, msg_id: str, outcome: str, detail: str) -> None:
        """The reply's outcome in the request's row. The bot's report of the command may have come first (it is
        another message): the reply's words are written over the report's note all the same, so that one command
        reads the same whichever came first; a timeout does not undo what the report told."""
        with self._writing, self.store.session() as session:
            row = EventRepository(session).audit_of_request(msg_id)
            if row is not None and (row.outcome == "sent" or outcome != "timeout"):
                row.outcome, row.detail = outcome, detail

    def record(self, reports: Iterable[CommandReport]) -> None:
        """Audit the bots' command reports: link those of this backend's requests, add the others (origin mqtt)."""
        for report in reports:
            try:
                with self._writing, self.store.session() as session:
                    self._record(EventRepository(session), report)
            except IntegrityError:
                pass     # another backend on the same store recorded the same report meanwhile

    @staticmethod
    def _record(audit: EventRepository, report: CommandReport) -> None:
        if audit.audit_of_report(report.key) is not None:
            return
        msg_id = report.origin.get("msg_id")
        own = audit.audit_of_request(msg_id) if msg_id else None
        if own is not None:
            if own.report_key is None:   # a resent request the bot ran twice is still one operator action
                own.report_key = report.key
                if own.outcome in ("sent", "timeout"):
                    own.detail += f"; the bot reported it {report.outcome}" + (
                        " after the timeout" if own.outcome == "timeout" else "")
                    own.outcome = report.outcome
            return
        detail = report.text.removeprefix("command ")
        log.info("audit: mqtt:%s %s %s on %s (%s)", report.sender, ACTION, detail, report.instance, report.outcome)
        audit.add_audit(AuditRow(ts=report.at, actor=f"mqtt:{report.sender}"[:255], action=ACTION,
                                 outcome=report.outcome, detail=detail, instance=report.instance, origin="mqtt",
                                 msg_id=(msg_id or None) and msg_id[:64], report_key=report.key,
                                 strategy=report.strategy and report.strategy[:63]))
