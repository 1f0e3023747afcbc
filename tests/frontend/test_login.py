"""The login gate in main.py, against the real backend: the backend session it opens, resumed from the browser's
cookie and ended by Log out or by the backend; and the offline banner while the backend is stopped."""
from __future__ import annotations

import re
import time
from collections.abc import Iterator

import pytest

import CONFIG
from backend.client import BackendError, HiveClient
from frontend import session_cookie
from tests.conftest import free_port
from tests.frontend.backend_process import BackendProcess
from tests.frontend.helpers import badges, errors, log_in, logged_in_app, new_app, rerun_until
from tests.polling import wait_until

# One backend for the module's tests, on one xdist worker: each test opens and ends sessions of its own, and one wrong
# password is far from the lock-out (5 by default). The tests that need other settings, or stop their backend, start
# one of their own.
pytestmark = pytest.mark.xdist_group("frontend-login")


@pytest.fixture
def backend(module_backend: BackendProcess) -> BackendProcess:
    return module_backend


@pytest.fixture
def own_backend(tmp_path) -> Iterator[BackendProcess]:
    server = BackendProcess(tmp_path / "data")
    server.start()
    yield server
    server.stop()


def test_wrong_password_says_so_and_stays_on_the_login_form(backend, dashboard_url):
    dashboard_url(backend.url)
    at = log_in(new_app().run(), backend.username, "not-the-password")

    assert errors(at) == ["Wrong username or password"]
    assert at.session_state["client"] is None
    assert [button.label for button in at.button] == ["Log in"]


def test_right_password_opens_the_broker_page_with_navigation(app):
    labels = [button.label for button in app.button]
    assert "Start Broker" in labels and "Stop Broker" in labels
    assert "Log out" in [button.label for button in app.sidebar.button]
    assert not errors(app)


def test_backend_down_names_the_url_and_how_to_start_it(dashboard_url):
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens here
    dashboard_url(url)
    at = log_in(new_app().run(), "operator", "secret")

    [message] = errors(at)
    assert url in message
    assert "make run" in message
    assert at.session_state["client"] is None


def test_log_out_returns_to_the_login_form(app):
    app.sidebar.button(key="logout").click().run()

    assert app.session_state["client"] is None
    assert [button.label for button in app.button] == ["Log in"]


def test_a_locked_out_address_is_told_how_long_to_wait(tmp_path, dashboard_url):
    backend = BackendProcess(tmp_path / "data", settings={"HIVE_LOGIN_FREE_ATTEMPTS": "1",
                                                          "HIVE_LOGIN_BACKOFF_BASE": "60"})
    backend.start()
    try:
        dashboard_url(backend.url)
        at = log_in(new_app().run(), backend.username, "not-the-password")
        assert errors(at) == ["Wrong username or password"]
        at = log_in(at, backend.username, backend.password)  # the right one, but within the lock-out

        assert errors(at) == ["Too many attempts, try again in 60 s"]
        assert at.session_state["client"] is None
    finally:
        backend.stop()


def warnings(at) -> list[str]:
    return [w.value for w in at.warning]


def ended_elsewhere(token: str, url: str) -> None:
    """Log the session out as another tab would."""
    other_tab = HiveClient(url, token=token)
    other_tab.end_session()
    other_tab.close()


def test_logging_in_opens_a_backend_session_and_keeps_no_password(app, backend):
    client = app.session_state["client"]
    assert client.token and client.check_login()["username"] == backend.username
    assert client._http.auth is None, "the client logs in with the token alone"
    assert "login_password" not in app.session_state, "the form's password is gone with the form"


def test_a_saved_session_logs_a_new_browser_session_in(backend, dashboard_url, monkeypatch):
    dashboard_url(backend.url)
    token = HiveClient(backend.url, backend.username, backend.password).open_session()["token"]
    monkeypatch.setattr(session_cookie, "read", lambda: token)  # the cookie a reload or a second tab sends

    at = new_app().run()

    assert not at.exception and not errors(at)
    assert at.session_state["client"].token == token
    assert "Log out" in [button.label for button in at.sidebar.button]


def test_a_saved_session_ended_since_shows_the_login_form_saying_why(backend, dashboard_url, monkeypatch):
    dashboard_url(backend.url)
    token = HiveClient(backend.url, backend.username, backend.password).open_session()["token"]
    ended_elsewhere(token, backend.url)
    monkeypatch.setattr(session_cookie, "read", lambda: token)

    at = new_app().run()

    assert at.session_state["client"] is None and at.session_state["session_cookie_clear"] == token
    assert warnings(at) == ["Your session was logged out (in another tab or window): log in again."]
    assert [button.label for button in at.button] == ["Log in"]


def test_a_session_logged_out_elsewhere_sends_back_to_the_login_form(app, backend):
    ended_elsewhere(app.session_state["client"].token, backend.url)

    app.run()  # the page's next read gets 401

    assert not app.exception and not errors(app)
    assert warnings(app) == ["Your session was logged out (in another tab or window): log in again."]
    assert [button.label for button in app.button] == ["Log in"]


def test_an_expired_session_sends_back_to_the_login_form_saying_so(tmp_path, dashboard_url):
    backend = BackendProcess(tmp_path / "data", settings={"HIVE_SESSION_HOURS": str(3 / 3600)})
    backend.start()
    try:
        dashboard_url(backend.url)
        at = log_in(new_app().run(), backend.username, backend.password)
        assert at.session_state["client"] is not None
        expires_at = at.session_state["session_expires_at"]
        wait_until(lambda: time.time() > expires_at + 0.5, 10, interval=0.2, message="the session's expiry passed")

        at.run()

        assert not at.exception and not errors(at)
        assert warnings(at) == ["Your session expired: log in again."]
        assert at.session_state["client"] is None
    finally:
        backend.stop()


def test_log_out_ends_the_session_at_the_backend(app, backend):
    token = app.session_state["client"].token
    app.sidebar.button(key="logout").click().run()

    with pytest.raises(BackendError) as raised:
        HiveClient(backend.url, token=token).check_login()
    assert raised.value.code == "session_ended"
    assert app.session_state["session_cookie_clear"] == token  # the browser forgets it too
    assert not warnings(app)


def test_a_stopped_backend_keeps_the_last_page_under_a_banner_until_it_is_back(own_backend, dashboard_url):
    backend = own_backend
    app = logged_in_app(backend, dashboard_url)
    assert badges(app) == ["Stopped"] and not warnings(app)
    backend.stop()

    app.run()

    [banner] = warnings(app)
    assert re.fullmatch(r"\*\*Backend unreachable\*\* since \d\d:\d\d:\d\d, showing data from \d\d:\d\d:\d\d — "
                        rf"retrying every {CONFIG.REFRESH_SECONDS:g} s\. \(backend: {re.escape(backend.url)}\)", banner)
    assert badges(app) == ["Stopped"], "the broker's last known state stays on the page"
    assert not errors(app) and not app.exception
    assert app.session_state["client"] is not None, "still logged in"

    backend.start()  # same port, same data dir: the session is still good
    rerun_until(app, lambda at: not warnings(at), timeout=30)

    assert badges(app) == ["Stopped"] and not errors(app)
