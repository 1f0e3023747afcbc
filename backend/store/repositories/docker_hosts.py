"""The Docker endpoints the operator added (their URL, sealed TLS material and broker address)."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.store.models import DockerHostRow


class DockerHostRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, name: str) -> DockerHostRow | None:
        return self.session.scalar(select(DockerHostRow).where(DockerHostRow.name == name))

    def all(self) -> list[DockerHostRow]:
        return list(self.session.scalars(select(DockerHostRow).order_by(DockerHostRow.name)))

    def sealed(self) -> list[DockerHostRow]:
        """The hosts holding TLS material, which a key rotation encrypts again."""
        return list(self.session.scalars(select(DockerHostRow).where(DockerHostRow.tls_ciphertext.is_not(None))
                                         .order_by(DockerHostRow.id)))

    def add(self, row: DockerHostRow) -> None:
        self.session.add(row)

    def delete(self, row: DockerHostRow) -> None:
        self.session.delete(row)
