"""The sessions opened with the login (POST /auth/session), as the API gives them."""
from __future__ import annotations

from pydantic import BaseModel, Field


class SessionOpened(BaseModel):
    """The answer of POST /auth/session: the only time the token is ever given out."""
    token: str = Field(description="send it as `Authorization: Bearer <token>` until it expires or is logged out")
    username: str
    expires_at: float = Field(description="epoch seconds; HIVE_SESSION_HOURS after it was opened")


class LoginCheck(BaseModel):
    """The answer of GET /auth/check."""
    ok: bool = True
    username: str
    expires_at: float | None = Field(None, description="the session's expiry when called with its token; "
                                                       "null with HTTP Basic")
