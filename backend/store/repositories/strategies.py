"""Uploaded strategy files and their versions."""
from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from backend.store.models import StrategyFileRow, StrategyVersionRow


class StrategyRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def file(self, name: str) -> StrategyFileRow | None:
        return self.session.scalar(select(StrategyFileRow).where(StrategyFileRow.name == name))

    def names(self) -> list[str]:
        return list(self.session.scalars(select(StrategyFileRow.name)))

    def versions(self, file_id: int) -> list[StrategyVersionRow]:
        """Oldest first."""
        return list(self.session.scalars(select(StrategyVersionRow).where(StrategyVersionRow.file_id == file_id)
                                         .order_by(StrategyVersionRow.version)))

    def version(self, name: str, version: int) -> StrategyVersionRow | None:
        return self.session.scalar(select(StrategyVersionRow).join(StrategyFileRow)
                                   .where(StrategyFileRow.name == name, StrategyVersionRow.version == version))

    def latest_version(self, file_id: int) -> StrategyVersionRow | None:
        return self.session.scalar(select(StrategyVersionRow).where(StrategyVersionRow.file_id == file_id)
                                   .order_by(StrategyVersionRow.version.desc()).limit(1))

    def latest(self) -> list[tuple[StrategyFileRow, StrategyVersionRow]]:
        """Every uploaded file with its latest version, by name."""
        newest = (select(StrategyVersionRow.file_id, func.max(StrategyVersionRow.version).label("version"))
                  .group_by(StrategyVersionRow.file_id).subquery())
        query = (select(StrategyFileRow, StrategyVersionRow)
                 .join(StrategyVersionRow, StrategyVersionRow.file_id == StrategyFileRow.id)
                 .join(newest, (newest.c.file_id == StrategyVersionRow.file_id)
                       & (newest.c.version == StrategyVersionRow.version))
                 .order_by(StrategyFileRow.name))
        return [(file, version) for file, version in self.session.execute(query).all()]

    def add_file(self, name: str, now: float) -> int:
        file = StrategyFileRow(name=name, created_at=now)
        self.session.add(file)
        self.session.flush()
        return file.id

    def add_version(self, row: StrategyVersionRow) -> None:
        self.session.add(row)

    def delete_file(self, file: StrategyFileRow) -> None:
        self.session.delete(file)
