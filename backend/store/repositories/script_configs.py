"""Script configs: named param sets, stored as they were sent."""
from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.store.models import ScriptConfigRow


class ScriptConfigRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def all(self) -> list[ScriptConfigRow]:
        return list(self.session.scalars(select(ScriptConfigRow).order_by(ScriptConfigRow.name)))

    def get(self, name: str) -> ScriptConfigRow | None:
        return self.session.scalar(select(ScriptConfigRow).where(ScriptConfigRow.name == name))

    def put(self, name: str, content: dict[str, Any], now: float) -> None:
        row = self.get(name)
        if row is None:
            self.session.add(ScriptConfigRow(name=name, content=content, updated_at=now))
        else:
            row.content, row.updated_at = content, now

    def delete(self, row: ScriptConfigRow) -> None:
        self.session.delete(row)
