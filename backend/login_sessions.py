"""Sessions opened with the login: a random token, given out once, that stands for the login until it expires or
is logged out (the dashboard keeps it in a cookie so a reload or a second tab stays logged in).

The store keeps only an HMAC of each token, keyed with the login itself (HIVE_USERNAME and HIVE_PASSWORD): the
store or a backup of it cannot be used to log in, and changing the password ends every session. Sessions outlive a
backend restart; logging out ends one everywhere. Opening and ending one is audited; a token is never logged.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from backend.domain.sessions import SessionOpened
from backend.errors import Unauthorized
from backend.store import LoginSessionRow, Store
from backend.store.repositories.login_sessions import LoginSessionRepository

TOKEN_BYTES = 32
MAX_TOKEN_CHARS = 128   # a longer bearer value is no token of ours: refused without hashing it
MAX_LIVE_SESSIONS = 1000  # beyond it, opening one ends the oldest

Audit = Callable[[str, str, str, str], None]   # actor, action, outcome, detail (EventService.audit)


@dataclass(frozen=True)
class LoginSession:
    """A checked session: who it is for and until when (never its token)."""
    id: int
    username: str
    expires_at: float


def _utc(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


class LoginSessions:
    def __init__(self, store: Store, username: str, password: str, lifetime_s: float, audit: Audit, *,
                 clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.lifetime_s = lifetime_s
        self._key = f"{username}\n{password}".encode()
        self._audit = audit
        self._clock = clock
        self._lock = threading.Lock()   # the cap on live sessions is counted and enforced in one go

    def _hash(self, token: str) -> str:
        return hmac.new(self._key, token.encode(), hashlib.sha256).hexdigest()

    def open(self, username: str, address: str) -> SessionOpened:
        """A new session for `username`, who has just given the password from `address`."""
        now = self._clock()
        token = secrets.token_urlsafe(TOKEN_BYTES)
        expires_at = now + self.lifetime_s
        with self._lock, self.store.session() as session:
            sessions = LoginSessionRepository(session)
            sessions.forget_expired(now)
            beyond = sessions.live(now) - MAX_LIVE_SESSIONS + 1
            for oldest in sessions.oldest_live(now, beyond) if beyond > 0 else []:
                oldest.ended_at = now
            sessions.add(LoginSessionRow(token_hash=self._hash(token), username=username, address=address[:64],
                                         created_at=now, expires_at=expires_at))
        self._audit(f"user:{username}", "login", "ok", f"session opened from {address}, until {_utc(expires_at)}")
        return SessionOpened(token=token, username=username, expires_at=expires_at)

    def check(self, token: str) -> LoginSession:
        """The live session of `token`; raises Unauthorized saying why it is not (unknown, expired, logged out)."""
        row = None
        if len(token) <= MAX_TOKEN_CHARS:
            with self.store.session() as session:
                row = LoginSessionRepository(session).get(self._hash(token))
        if row is None:
            raise Unauthorized("unauthorized", "unknown session token (or the password changed since): log in again")
        if row.ended_at is not None:
            raise Unauthorized("session_ended", f"this session was logged out at {_utc(row.ended_at)}: log in again")
        if row.expires_at <= self._clock():
            raise Unauthorized("session_expired", f"this session expired at {_utc(row.expires_at)}: log in again")
        return LoginSession(row.id, row.username, row.expires_at)

    def end(self, login: LoginSession, actor: str) -> None:
        """Log out: the session's token is refused from now on, wherever it is used."""
        now = self._clock()
        with self.store.session() as session:
            row = session.get(LoginSessionRow, login.id)
            if row is not None and row.ended_at is None:
                row.ended_at = now
        self._audit(actor, "logout", "ok", f"session until {_utc(login.expires_at)} ended")
