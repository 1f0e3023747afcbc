"""Alerts about instances: add, list newest first, acknowledge."""
from __future__ import annotations

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from backend.store.models import AlertRow


class AlertRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, row: AlertRow) -> AlertRow:
        self.session.add(row)
        self.session.flush()
        return row

    def get(self, alert_id: int) -> AlertRow | None:
        return self.session.get(AlertRow, alert_id)

    def newest(self, limit: int, unacknowledged: bool) -> list[AlertRow]:
        query = select(AlertRow)
        if unacknowledged:
            query = query.where(AlertRow.acknowledged_at.is_(None))
        return list(self.session.scalars(query.order_by(AlertRow.id.desc()).limit(limit)))

    def open_count(self) -> int:
        return self.session.scalar(select(func.count()).select_from(AlertRow)
                                   .where(AlertRow.acknowledged_at.is_(None))) or 0

    def acknowledge_all(self, at: float, by: str) -> int:
        result = self.session.execute(update(AlertRow).where(AlertRow.acknowledged_at.is_(None))
                                      .values(acknowledged_at=at, acknowledged_by=by))
        return int(getattr(result, "rowcount", 0) or 0)
