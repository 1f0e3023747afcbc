"""Venue credentials (their ciphertext and what is shown of them)."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.store.models import CredentialRow


class CredentialRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, name: str) -> CredentialRow | None:
        return self.session.scalar(select(CredentialRow).where(CredentialRow.name == name))

    def all(self) -> list[CredentialRow]:
        return list(self.session.scalars(select(CredentialRow).order_by(CredentialRow.name)))

    def names(self) -> list[str]:
        return list(self.session.scalars(select(CredentialRow.name).order_by(CredentialRow.name)))

    def any(self) -> CredentialRow | None:
        """One stored credential, to check that the key in use decrypts what is stored."""
        return self.session.scalar(select(CredentialRow).order_by(CredentialRow.id).limit(1))

    def add(self, row: CredentialRow) -> None:
        self.session.add(row)

    def delete(self, row: CredentialRow) -> None:
        self.session.delete(row)
