"""The browser's `hive_session` cookie: the backend session token, so a reload or a second tab stays logged in.

Streamlit reads cookies only from the request that opened its websocket (`st.context.cookies`, once per browser
session) and cannot set any, so a line of JavaScript in the page writes and clears it (`st.html`, not iframed):
SameSite=Strict, expiring with the session, Secure over HTTPS; a session once forgotten is never written again.
Script can read it (no HttpOnly from JavaScript); what it holds ends at its expiry or at Log out, and never contains
the password.
"""
from __future__ import annotations

import hashlib
import json
import re
from email.utils import formatdate

import streamlit as st

NAME = "hive_session"
# The browser's note of the session it last forgot (a digest, not the token): a write of that same session's cookie
# that runs after the clear (an element of the page as it was before Log out, drawn again) does nothing.
ENDED = "hive_session_ended"
_TOKEN = re.compile(r"[A-Za-z0-9_-]{20,128}")  # secrets.token_urlsafe's alphabet; anything else is not ours


def read() -> str | None:
    """The token the browser sent when this Streamlit session opened, if it looks like one."""
    value = st.context.cookies.get(NAME)
    return value if isinstance(value, str) and _TOKEN.fullmatch(value) else None


def _script(body: str) -> None:
    st.html(f"<script>{body}</script>", unsafe_allow_javascript=True, width="content")


def write(token: str, expires_at: float) -> None:
    """Keep `token` in the browser until `expires_at` (epoch s). Drawn on every run: the same element each time."""
    if not _TOKEN.fullmatch(token):
        raise ValueError("not a session token")
    cookie = f"{NAME}={token}; Path=/; Expires={formatdate(expires_at, usegmt=True)}; SameSite=Strict"
    _script(f"if ({_ended_note()} !== {json.dumps(_digest(token))}) "
            f"document.cookie = {json.dumps(cookie)} + (location.protocol === 'https:' ? '; Secure' : '');")


def clear(token: str) -> None:
    """Forget the cookie when it still holds `token` (another tab may have logged in since with a new one)."""
    if not _TOKEN.fullmatch(token):
        return
    held = json.dumps(f"{NAME}={token}")
    gone = json.dumps(f"{NAME}=; Path=/; Max-Age=0; SameSite=Strict")
    _script(f"try {{ localStorage.setItem({json.dumps(ENDED)}, {json.dumps(_digest(token))}); }} catch (e) {{}} "
            f"if (document.cookie.split('; ').includes({held})) document.cookie = {gone};")


def _ended_note() -> str:
    """A JavaScript expression: the digest noted by the last clear, or null (none, or no storage: a browser that
    refuses it to the page)."""
    return f"(() => {{ try {{ return localStorage.getItem({json.dumps(ENDED)}); }} catch (e) {{ return null; }} }})()"


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()[:32]
