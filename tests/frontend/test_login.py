"""The login gate in main.py, against the real backend."""
from __future__ import annotations

from tests.conftest import free_port
from tests.frontend.backend_process import BackendProcess
from tests.frontend.helpers import errors, log_in, new_app


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
