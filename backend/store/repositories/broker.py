"""The one broker the backend uses: which, where, and whether the operator wants it running."""
from __future__ import annotations

from sqlalchemy.orm import Session

from backend.store.models import BrokerRow

_ONLY = 1  # there is one broker at a time: one row


class BrokerRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self) -> BrokerRow | None:
        return self.session.get(BrokerRow, _ONLY)

    def get_or_add(self) -> BrokerRow:
        row = self.get()
        if row is None:
            row = BrokerRow(id=_ONLY)
            self.session.add(row)
        return row


LOGIN_FIELDS = ("external_login",)  # Fernet ciphertexts under the credentials key


def sealed_logins(row: BrokerRow | None) -> dict[str, str]:
    """The broker's encrypted logins by column, for the key rotation and the key check."""
    if row is None:
        return {}
    return {name: value for name in LOGIN_FIELDS if (value := getattr(row, name))}
