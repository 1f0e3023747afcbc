"""Bot runs: one record per deployment of an instance, kept after the instance is deleted."""
from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.store.models import BotRunRow, InstanceRow


class BotRunRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, row: BotRunRow) -> None:
        self.session.add(row)

    def get(self, run_id: int) -> BotRunRow | None:
        return self.session.get(BotRunRow, run_id)

    def latest_of(self, instance_name: str) -> BotRunRow | None:
        return self.session.scalar(select(BotRunRow).where(BotRunRow.instance_name == instance_name)
                                   .order_by(BotRunRow.id.desc()).limit(1))

    def matching(self, filters: dict[str, Any]) -> list[BotRunRow]:
        """Newest deployment first; `filters` maps BotRunRow column names to the value they must have."""
        query = select(BotRunRow).order_by(BotRunRow.deployed_at.desc(), BotRunRow.id.desc())
        for column, value in filters.items():
            query = query.where(getattr(BotRunRow, column) == value)
        return list(self.session.scalars(query))

    def delete(self, row: BotRunRow) -> None:
        self.session.delete(row)

    def latest_run_ids(self) -> dict[str, int]:
        """instance name -> id of its latest run."""
        latest: dict[str, int] = {}
        for run_id, name in self.session.execute(select(BotRunRow.id, BotRunRow.instance_name).order_by(BotRunRow.id)):
            latest[name] = run_id
        return latest

    def instances(self) -> list[InstanceRow]:
        """The instances that exist, whose runs' status is derived from their state."""
        return list(self.session.scalars(select(InstanceRow)))
