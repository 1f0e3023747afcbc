"""Instances and their state history."""
from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from backend.store.models import (
    InstanceRow,
    JournalCursorRow,
    LogRow,
    MarketEventRow,
    NotificationRow,
    PnlSnapshotRow,
    ResourceSampleRow,
    StateChangeRow,
    TradeRow,
)


class InstanceRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, name: str) -> InstanceRow | None:
        return self.session.scalar(select(InstanceRow).where(InstanceRow.name == name))

    def exists(self, name: str) -> bool:
        return self.session.scalar(select(InstanceRow.id).where(InstanceRow.name == name)) is not None

    def all(self) -> list[InstanceRow]:
        return list(self.session.scalars(select(InstanceRow).order_by(InstanceRow.name)))

    def names(self) -> list[str]:
        return list(self.session.scalars(select(InstanceRow.name)))

    def names_in(self, states: Iterable[str]) -> list[str]:
        return list(self.session.scalars(select(InstanceRow.name).where(InstanceRow.state.in_(list(states)))))

    def with_handle(self) -> list[InstanceRow]:
        """The instances that have (or had) a process."""
        return list(self.session.scalars(select(InstanceRow).where(InstanceRow.handle.is_not(None))))

    def add(self, row: InstanceRow) -> None:
        self.session.add(row)

    def delete(self, row: InstanceRow) -> None:
        """The row with everything stored about it: logs, trades, PnL, resource use, state history, notifications,
        events, journal cursors."""
        for table in (LogRow, TradeRow, PnlSnapshotRow, ResourceSampleRow, StateChangeRow):
            self.session.execute(delete(table).where(table.instance_id == row.id))
        for by_name in (NotificationRow, MarketEventRow, JournalCursorRow):
            self.session.execute(delete(by_name).where(by_name.instance == row.name))
        self.session.delete(row)

    def add_state_change(self, instance_id: int, ts: float, from_state: str | None, to_state: str,
                         reason: str) -> None:
        self.session.add(StateChangeRow(instance_id=instance_id, ts=ts, from_state=from_state, to_state=to_state,
                                        reason=reason))

    def state_changes(self, instance_id: int) -> list[StateChangeRow]:
        """Newest first."""
        return list(self.session.scalars(select(StateChangeRow).where(StateChangeRow.instance_id == instance_id)
                                         .order_by(StateChangeRow.id.desc())))

    def credential_users(self) -> dict[str, list[str]]:
        """The instances naming each credential in their create spec, by credential name."""
        users: dict[str, list[str]] = {}
        for name, spec in self.session.execute(select(InstanceRow.name, InstanceRow.spec).order_by(InstanceRow.name)):
            credential = (spec or {}).get("create", {}).get("credential")
            if credential:
                users.setdefault(credential, []).append(name)
        return users

    def host_users(self, host: str) -> list[str]:
        """The instances whose create spec puts them on the Docker host `host` (`local` when it names none)."""
        return [name for name, spec in self.session.execute(select(InstanceRow.name, InstanceRow.spec)
                                                            .order_by(InstanceRow.name))
                if (spec or {}).get("create", {}).get("host", "local") == host]
