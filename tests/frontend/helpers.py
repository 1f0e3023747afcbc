"""Helpers for the AppTest suite: start the dashboard, log in, rerun until the page shows something."""
from __future__ import annotations

from collections.abc import Callable

from streamlit.testing.v1 import AppTest

from tests.conftest import REPO_ROOT
from tests.frontend.backend_process import BackendProcess
from tests.polling import wait_until

MAIN = REPO_ROOT / "main.py"
RUN_TIMEOUT_S = 30.0


def new_app() -> AppTest:
    return AppTest.from_file(MAIN, default_timeout=RUN_TIMEOUT_S)


def log_in(at: AppTest, username: str, password: str) -> AppTest:
    at.text_input(key="login_username").input(username)
    at.text_input(key="login_password").input(password)
    return at.button[0].click().run()  # the form's "Log in"


def logged_in_app(backend: BackendProcess, dashboard_url: Callable[[str], None]) -> AppTest:
    """The dashboard, logged in to `backend` (the dashboard pointed at it by `dashboard_url`), on its default page
    (Broker)."""
    dashboard_url(backend.url)
    at = log_in(new_app().run(), backend.username, backend.password)
    assert not at.exception, at.exception
    assert at.session_state["client"] is not None, [e.value for e in at.error]
    return at


def rerun_until(at: AppTest, check: Callable[[AppTest], bool], timeout: float = 60.0, every: float = 0.5) -> AppTest:
    """Rerun the page (as its live fragments would) until `check` holds; fail with what was shown."""
    def rerun_and_check() -> bool:
        at.run()
        return check(at)

    def shown() -> str:
        texts = [m.value for m in at.markdown] + [c.value for c in at.caption] + [e.value for e in at.error]
        tables = [list(frame.value.columns) for frame in at.dataframe]
        return (f"the page showing what the test waits for; it showed: {texts}; warnings: "
                f"{[w.value for w in at.warning]}; sections: {[e.label for e in at.expander]}; tables: {tables}")

    wait_until(rerun_and_check, timeout, interval=every, message=shown)
    return at


def badges(at: AppTest) -> list[str]:
    """Labels of the state badges on the page (st.badge renders as `:colour-badge[Label]`)."""
    return [m.value.split("[", 1)[1].rstrip("]") for m in at.markdown if "-badge[" in m.value]


def errors(at: AppTest) -> list[str]:
    return [e.value for e in at.error]


def table_with(at: AppTest, column: str):
    """The first table on the page that has `column` (the page may show several)."""
    return next(frame.value for frame in at.dataframe if column in frame.value.columns)
