"""The Broker page's container choice, with the backend as its own process on the test engine: start the
Mosquitto container, see it healthy with its log, stop it; its password is in no line the backend logged."""
from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from streamlit.testing.v1 import AppTest

import CONFIG
from backend.docker.labels import BACKEND
from tests.docker_engine import Engine, remove_backend_containers
from tests.frontend.backend_process import BackendProcess
from tests.frontend.helpers import badges, errors, log_in, new_app, rerun_until

pytestmark = pytest.mark.slow


@pytest.fixture
def backend(tmp_path: Path, docker_engine: Engine, broker_image: str) -> Iterator[BackendProcess]:
    server = BackendProcess(tmp_path / "data")
    server.env["HIVE_DOCKER_HOST"] = docker_engine.url
    server.start()
    yield server
    server.stop()
    remove_backend_containers(docker_engine, server.data_dir)


def stored_passwords(data_dir: Path) -> list[str]:
    """The broker's passwords, decrypted from the store with the credentials key (as an operator could)."""
    with sqlite3.connect(data_dir / "hive.db") as db:
        sealed = [row[0] for row in db.execute("SELECT sealed_password FROM broker_logins")]
    key = (data_dir / "credentials.key").read_text().strip()
    return [Fernet(key.encode()).decrypt(text.encode()).decode() for text in sealed]


def described(at: AppTest) -> str:
    """The page's one-line description of the broker (kind, container, health, login)."""
    return next((c.value for c in at.caption if "fleet connection" in c.value), "")


def test_the_page_starts_the_mosquitto_container_shows_its_log_and_stops_it(
        backend: BackendProcess, monkeypatch: pytest.MonkeyPatch, docker_engine: Engine) -> None:
    monkeypatch.setattr(CONFIG, "BACKEND_URL", backend.url)
    at: AppTest = log_in(new_app().run(), backend.username, backend.password)
    assert badges(at) == ["Stopped"]

    at.radio(key="broker_kind").set_value("Container (Mosquitto)").run()
    at.button(key="broker_start").click().run()
    rerun_until(at, lambda page: badges(page) == ["Running"] and "healthy" in described(page), timeout=30)
    assert not errors(at)
    assert "Mosquitto container" in described(at) and "login required" in described(at)
    log_text = rerun_until(at, lambda page: any("mosquitto version" in c.value for c in page.code), timeout=10)
    assert any("mosquitto version" in c.value for c in log_text.code)
    backend_id = (backend.data_dir / "backend-id").read_text().strip()
    assert docker_engine.client().containers.list(filters={"label": [f"{BACKEND}={backend_id}"]})

    at.button(key="broker_stop").click().run()
    at.button(key="broker_stop_confirm").click().run()   # it asks first
    rerun_until(at, lambda page: badges(page) == ["Stopped"], timeout=30)
    assert not docker_engine.client().containers.list(all=True, filters={"label": [f"{BACKEND}={backend_id}"]})

    passwords = stored_passwords(backend.data_dir)
    logged = backend.log_file.read_text()
    assert "re-adopted" not in logged and "fleet connection up" in logged  # the backend's own log, at INFO
    assert not any(password in logged for password in passwords)
