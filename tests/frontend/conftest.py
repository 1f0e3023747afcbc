"""AppTest fixtures: a real backend per test, and the dashboard logged in to it."""
from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

import CONFIG
from backend.client import HiveClient
from tests.frontend.backend_process import BackendProcess
from tests.frontend.helpers import log_in, new_app


@pytest.fixture
def backend(tmp_path: Path) -> Iterator[BackendProcess]:
    server = BackendProcess(tmp_path / "data")
    server.start()
    yield server
    server.stop()


@pytest.fixture
def client(backend: BackendProcess) -> Iterator[HiveClient]:
    """A client of the test backend with its broker running (instances need it even to be created)."""
    hive = HiveClient(backend.url, backend.username, backend.password)
    hive.start_broker()
    yield hive
    hive.close()


@pytest.fixture
def dashboard_url(monkeypatch: pytest.MonkeyPatch) -> Callable[[str], None]:
    """Point the dashboard (CONFIG.BACKEND_URL, read at call time) at a URL for this test."""
    def point_at(url: str) -> None:
        monkeypatch.setattr(CONFIG, "BACKEND_URL", url)
    return point_at


@pytest.fixture
def app(backend: BackendProcess, dashboard_url: Callable[[str], None]) -> AppTest:
    """The dashboard, logged in to the test backend, on its default page (Broker)."""
    dashboard_url(backend.url)
    at = log_in(new_app().run(), backend.username, backend.password)
    assert not at.exception, at.exception
    assert at.session_state["client"] is not None, [e.value for e in at.error]
    return at
