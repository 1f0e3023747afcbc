"""AppTest fixtures: a real backend per test (or one per module, for the modules whose tests share it), and the
dashboard logged in to it."""
from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

import CONFIG
from backend.client import HiveClient
from tests.frontend.backend_process import BackendProcess
from tests.frontend.helpers import logged_in_app


@pytest.fixture
def backend(tmp_path: Path) -> Iterator[BackendProcess]:
    server = BackendProcess(tmp_path / "data")
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def module_backend(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BackendProcess]:
    """One real backend for a module's tests (a start costs about 3 s of CPU): a module whose tests do not depend on
    what the others did to it overrides `backend` with this one, and keeps its tests on one xdist worker (an
    xdist_group mark), so that it starts once."""
    server = BackendProcess(tmp_path_factory.mktemp("module-backend") / "data")
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
    return logged_in_app(backend, dashboard_url)
