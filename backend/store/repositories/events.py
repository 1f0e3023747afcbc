"""External events, TradingView webhooks with their receipts, and the audit trail."""
from __future__ import annotations

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from backend.store.models import AuditRow, EventRow, WebhookReceiptRow, WebhookRow


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
        query = select(AuditRow)
        if instance is not None:
            query = query.where(AuditRow.instance == instance)
        return list(self.session.scalars(query.order_by(AuditRow.id.desc()).limit(limit)))

    def audit_of_request(self, msg_id: str) -> AuditRow | None:
        """The row of a command this backend sent with `msg_id` (origin api)."""
        return self.session.scalar(select(AuditRow).where(AuditRow.msg_id == msg_id, AuditRow.origin == "api")
                                   .order_by(AuditRow.id).limit(1))

    def audit_of_report(self, report_key: str) -> AuditRow | None:
        return self.session.scalar(select(AuditRow).where(AuditRow.report_key == report_key))
