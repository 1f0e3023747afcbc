"""The broker's logins: the backend's, one per instance, and the operator's for bots and controllers."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.store.models import BrokerLoginRow


class BrokerLoginRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, username: str) -> BrokerLoginRow | None:
        return self.session.scalar(select(BrokerLoginRow).where(BrokerLoginRow.username == username))

    def all(self) -> list[BrokerLoginRow]:
        return list(self.session.scalars(select(BrokerLoginRow).order_by(BrokerLoginRow.id)))

    def of_role(self, role: str, scope: str | None = None) -> list[BrokerLoginRow]:
        query = select(BrokerLoginRow).where(BrokerLoginRow.role == role)
        if scope is not None:
            query = query.where(BrokerLoginRow.scope == scope)
        return list(self.session.scalars(query.order_by(BrokerLoginRow.id)))

    def add(self, row: BrokerLoginRow) -> None:
        self.session.add(row)

    def delete(self, row: BrokerLoginRow) -> None:
        self.session.delete(row)
