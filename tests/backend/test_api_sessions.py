"""Login sessions: POST /auth/session gives a token that stands for the login until it expires or is logged out
(DELETE /auth/session), across backend restarts; only a keyed hash of it is stored; logins and log outs are audited."""
from __future__ import annotations

import sqlite3
import time

import httpx
import pytest
from pydantic import ValidationError

from backend.client import BackendError, HiveClient
from backend.settings import Settings
from tests.backend.conftest import PASSWORD, USERNAME
from tests.polling import wait_until

RIGHT = (USERNAME, PASSWORD)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def open_session(url: str) -> dict:
    response = httpx.post(f"{url}/auth/session", auth=RIGHT)
    assert response.status_code == 201, response.text
    return response.json()


def refusal(url: str, token: str) -> tuple[int, str, str] | None:
    """(status, code, detail) when the token is refused; None while it is accepted."""
    response = httpx.get(f"{url}/auth/check", headers=bearer(token))
    if response.status_code == 200:
        return None
    return response.status_code, response.json()["code"], response.json()["detail"]


def test_a_session_token_stands_for_the_login_until_logged_out_everywhere(hive_backend) -> None:
    url = hive_backend.url
    before = time.time()
    opened = open_session(url)
    assert opened["username"] == USERNAME
    assert before + 12 * 3600 - 5 < opened["expires_at"] < time.time() + 12 * 3600 + 5  # HIVE_SESSION_HOURS' 12
    first, second = (HiveClient(url, token=opened["token"]) for _ in range(2))  # two tabs
    assert first.check_login() == {"ok": True, "username": USERNAME, "expires_at": opened["expires_at"]}
    assert second.list_instances() == []

    first.end_session()

    with pytest.raises(BackendError) as raised:
        second.check_login()
    assert (raised.value.status, raised.value.code) == (401, "session_ended")
    assert "logged out" in raised.value.message and "log in again" in raised.value.message
    assert httpx.get(f"{url}/instances", headers=bearer(opened["token"])).status_code == 401
    audit = hive_backend.services.events.audit_log(10)
    assert [(e.actor, e.action, e.outcome) for e in audit[:2]] == [(f"user:{USERNAME}", "logout", "ok"),
                                                                    (f"user:{USERNAME}", "login", "ok")]
    assert audit[1].detail.startswith("session opened from 127.0.0.1, until ")
    assert all(opened["token"] not in f"{e.actor} {e.detail}" for e in audit)
    first.close()
    second.close()


def test_sessions_outlive_a_backend_restart_and_the_store_holds_no_token(backend_factory, data_dir) -> None:
    first = backend_factory()
    token = open_session(first.url)["token"]
    first.stop()

    second = backend_factory()
    assert httpx.get(f"{second.url}/auth/check", headers=bearer(token)).json()["username"] == USERNAME
    with sqlite3.connect(data_dir / "hive.db") as db:
        rows = db.execute("SELECT * FROM login_sessions").fetchall()
    assert len(rows) == 1 and not any(token in str(value) for value in rows[0])


def test_a_session_expires(backend_factory) -> None:
    backend = backend_factory(session_hours=1.5 / 3600)
    token = open_session(backend.url)["token"]
    assert refusal(backend.url, token) is None

    status, code, detail = wait_until(lambda: refusal(backend.url, token), 10, interval=0.2,
                                      message="the session expired")
    assert (status, code) == (401, "session_expired")
    assert detail.startswith("this session expired at ") and detail.endswith(": log in again")


def test_changing_the_password_ends_every_session(backend_factory) -> None:
    first = backend_factory()
    token = open_session(first.url)["token"]
    first.stop()

    second = backend_factory(password="another-password-456")
    assert (refusal(second.url, token) or ())[:2] == (401, "unauthorized")


def test_only_the_password_opens_a_session_and_only_a_token_is_logged_out(hive_backend) -> None:
    url = hive_backend.url
    token = open_session(url)["token"]
    prolonged = httpx.post(f"{url}/auth/session", headers=bearer(token))
    assert prolonged.status_code == 403 and prolonged.json()["code"] == "password_required"
    basic = httpx.delete(f"{url}/auth/session", auth=RIGHT)
    assert basic.status_code == 400 and basic.json()["code"] == "no_session"
    for unknown in ("not-a-token", "x" * 10_000):
        assert (refusal(url, unknown) or ())[:2] == (401, "unauthorized")


def test_unknown_tokens_are_no_wrong_logins_but_the_session_route_is_throttled(backend_factory) -> None:
    backend = backend_factory(login_free_attempts=1, login_backoff_base=60.0)
    for _ in range(3):
        assert (refusal(backend.url, "guess") or ())[:1] == (401,)
    token = open_session(backend.url)["token"]  # no lock-out from the unknown tokens

    assert httpx.post(f"{backend.url}/auth/session", auth=(USERNAME, "wrong")).status_code == 401
    locked = httpx.post(f"{backend.url}/auth/session", auth=RIGHT)
    assert locked.status_code == 429 and locked.json()["code"] == "too_many_attempts"
    assert httpx.get(f"{backend.url}/auth/check", headers=bearer(token)).status_code == 429  # the address is locked
    refused = [e for e in backend.services.events.audit_log(10) if e.action == "login" and e.outcome == "refused"]
    assert len(refused) == 1


def test_the_session_lifetime_is_bounded() -> None:
    with pytest.raises(ValidationError):
        Settings(_env_file=None, session_hours=169)
    assert Settings(_env_file=None).session_hours == 12
