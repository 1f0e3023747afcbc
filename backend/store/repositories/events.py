"""External events, TradingView webhooks with their receipts, and the audit trail."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, delete, func, or_, select
from sqlalchemy.orm import Session

from backend.store.models import AuditRow, EventRow, WebhookReceiptRow, WebhookRow


@dataclass(frozen=True)
class AuditQuery:
    """Which audit rows to read (backend/domain/events.py AuditFilter says what each field means)."""

    actor: str | None = None
    action: str | None = None
    outcome: str | None = None
    instance: str | None = None
    strategy: str | None = None
    since: float | None = None
    until: float | None = None
    q: str | None = None
    limit: int = 200
    offset: int = 0


class EventRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    # --- events ----------------------------------------------------------------------------------
    def add_event(self, row: EventRow) -> int:
        self.session.add(row)
        self.session.flush()
        return row.id

    def event(self, event_id: int) -> EventRow | None:
        return self.session.get(EventRow, event_id)

    def newest_events(self, limit: int) -> list[EventRow]:
        return list(self.session.scalars(select(EventRow).order_by(EventRow.id.desc()).limit(limit)))

    # --- webhooks --------------------------------------------------------------------------------
    def webhook(self, hook: str) -> WebhookRow | None:
        return self.session.scalar(select(WebhookRow).where(WebhookRow.hook == hook))

    def webhook_exists(self, hook: str) -> bool:
        return self.session.scalar(select(WebhookRow.id).where(WebhookRow.hook == hook)) is not None

    def add_webhook(self, row: WebhookRow) -> None:
        self.session.add(row)
        self.session.flush()

    def webhooks(self) -> list[WebhookRow]:
        return list(self.session.scalars(select(WebhookRow).order_by(WebhookRow.hook)))

    def delete_webhook(self, hook: str) -> bool:
        """False when there was no such webhook."""
        row = self.webhook(hook)
        if row is None:
            return False
        self.session.delete(row)
        return True

    # --- receipts (replay and rate checks) -------------------------------------------------------
    def forget_receipts_before(self, hook: str, ts: float) -> None:
        self.session.execute(delete(WebhookReceiptRow).where(WebhookReceiptRow.hook == hook, WebhookReceiptRow.ts < ts))

    def receipt_exists(self, hook: str, digest: str) -> bool:
        return self.session.scalar(select(WebhookReceiptRow.id).where(
            WebhookReceiptRow.hook == hook, WebhookReceiptRow.digest == digest).limit(1)) is not None

    def receipts_since(self, hook: str, ts: float) -> int:
        return self.session.scalar(select(func.count()).select_from(WebhookReceiptRow).where(
            WebhookReceiptRow.hook == hook, WebhookReceiptRow.ts >= ts)) or 0

    def add_receipt(self, hook: str, digest: str, ts: float) -> None:
        self.session.add(WebhookReceiptRow(hook=hook, digest=digest, ts=ts))

    # --- audit -----------------------------------------------------------------------------------
    def add_audit(self, row: AuditRow) -> None:
        self.session.add(row)

    def newest_audit(self, limit: int, instance: str | None = None) -> list[AuditRow]:
        return self.audit_entries(AuditQuery(limit=limit, instance=instance))

    def audit_entries(self, chosen: AuditQuery) -> list[AuditRow]:
        """The rows `chosen` selects, newest first, `offset` rows skipped."""
        query = select(AuditRow).where(*_audit_conditions(chosen))
        return list(self.session.scalars(query.order_by(AuditRow.id.desc()).offset(chosen.offset).limit(chosen.limit)))

    def audit_actions(self) -> list[str]:
        return list(self.session.scalars(select(AuditRow.action).distinct().order_by(AuditRow.action)))

    def audit_of_request(self, msg_id: str) -> AuditRow | None:
        """The row of a command this backend sent with `msg_id` (origin api)."""
        return self.session.scalar(select(AuditRow).where(AuditRow.msg_id == msg_id, AuditRow.origin == "api")
                                   .order_by(AuditRow.id).limit(1))

    def audit_of_report(self, report_key: str) -> AuditRow | None:
        return self.session.scalar(select(AuditRow).where(AuditRow.report_key == report_key))


def _contains(text: str) -> str:
    """A LIKE pattern matching `text` anywhere, its own % and _ taken literally (escape character \\)."""
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _audit_conditions(chosen: AuditQuery) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    for column, value in ((AuditRow.action, chosen.action), (AuditRow.outcome, chosen.outcome),
                          (AuditRow.instance, chosen.instance), (AuditRow.strategy, chosen.strategy)):
        if value is not None:
            conditions.append(column == value)
    if chosen.actor:
        conditions.append(func.lower(AuditRow.actor).like(_contains(chosen.actor), escape="\\"))
    if chosen.since is not None:
        conditions.append(AuditRow.ts >= chosen.since)
    if chosen.until is not None:
        conditions.append(AuditRow.ts < chosen.until)
    if chosen.q:
        pattern = _contains(chosen.q)
        conditions.append(or_(*(func.lower(column).like(pattern, escape="\\") for column in (
            AuditRow.actor, AuditRow.action, AuditRow.outcome, AuditRow.detail))))
    return conditions
