"""Sessions opened with the login, found by the hash of their token."""
from __future__ import annotations

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from backend.store.models import LoginSessionRow


class LoginSessionRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, token_hash: str) -> LoginSessionRow | None:
        return self.session.scalar(select(LoginSessionRow).where(LoginSessionRow.token_hash == token_hash))

    def add(self, row: LoginSessionRow) -> None:
        self.session.add(row)

    def forget_expired(self, now: float) -> None:
        """Expired sessions, logged out or not, are of no use any more."""
        self.session.execute(delete(LoginSessionRow).where(LoginSessionRow.expires_at <= now))

    def live(self, now: float) -> int:
        return self.session.scalar(select(func.count()).select_from(LoginSessionRow)
                                   .where(LoginSessionRow.ended_at.is_(None), LoginSessionRow.expires_at > now)) or 0

    def oldest_live(self, now: float, count: int) -> list[LoginSessionRow]:
        return list(self.session.scalars(
            select(LoginSessionRow).where(LoginSessionRow.ended_at.is_(None), LoginSessionRow.expires_at > now)
            .order_by(LoginSessionRow.created_at).limit(count)))
