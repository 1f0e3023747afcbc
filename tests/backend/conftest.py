"""Backend fixtures: the real app served by uvicorn on a free port, with its own data dir and broker port.

`hive_backend` starts one; `backend_factory` starts more on the same data dir (a backend restart).
Everything a test started (instances, the embedded broker) is stopped at teardown, by pid.
"""
from __future__ import annotations

import os
import signal
import socket
import sys
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import pytest
import uvicorn

from backend.api.app import create_app
from backend.client import HiveClient
from backend.settings import Settings
from tests.conftest import free_port
from tests.polling import wait_until

USERNAME = "tester"
PASSWORD = "test-password-123"
FAKE_CORE = f"{sys.executable} -m tests.backend.fake_core"
REAL_CORE = f"{sys.executable} -m hive_core"


@dataclass
class RunningBackend:
    settings: Settings
    url: str
    server: uvicorn.Server
    thread: threading.Thread
    client: HiveClient
    app: object = field(repr=False, default=None)

    @property
    def services(self):
        return self.app.state.services

    def stop(self) -> None:
        self.client.close()
        self.server.should_exit = True
        self.thread.join(timeout=20)
        assert not self.thread.is_alive(), "the backend did not shut down within 20 s"


def make_settings(data_dir: Path, **overrides) -> Settings:
    values = dict(
        env="development", username=USERNAME, password=PASSWORD, data_dir=data_dir, database_url=None,
        broker_host="127.0.0.1", broker_port=free_port(), broker_sys_interval=1, mqtt_namespace="hbot",
        heartbeat_interval=0.5, heartbeat_timeout=3.0, start_timeout=8.0, stop_grace=3.0,
        supervisor_interval=0.2, pnl_snapshot_interval=0.5, core_command=FAKE_CORE,
        feed_service=False,  # one process more per backend: the tests of the market-data service turn it on
    )
    values.update(overrides)
    return Settings(_env_file=None, **values)


def serve(settings: Settings) -> RunningBackend:
    """The backend on a port it holds from the start: bound here and handed to uvicorn (a port found free and bound
    later may be taken by another test's process in between)."""
    listening = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listening.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listening.bind(("127.0.0.1", 0))
    port = listening.getsockname()[1]
    app = create_app(settings)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listening]}, name="test-backend", daemon=True)
    thread.start()

    def started() -> bool:
        if not thread.is_alive():
            raise RuntimeError("the backend's server thread ended before it started")
        return server.started

    wait_until(started, 20, message="the backend started")
    url = f"http://127.0.0.1:{port}"
    return RunningBackend(settings, url, server, thread, HiveClient(url, USERNAME, PASSWORD, timeout=30), app)


def broker_login(client: HiveClient, role: str = "controller", bot_id: str | None = None) -> tuple[str, str]:
    """(username, password) of a broker login made through the API, as an operator makes one for a tool (role
    controller: every topic) or a bot Hive does not run (role bot: `bot_id`'s topics alone)."""
    created = client.create_broker_login(f"test-{role}-{uuid.uuid4().hex[:8]}", role, bot_id)
    return created["username"], created["password"]


def kill_leftovers(data_dir: Path, broker_pids: set[int] = frozenset()) -> None:
    """Kill, by pid, every process a test left behind: its embedded brokers, and the processes whose
    command line names its data dir (launchers and bots)."""
    marker = str(data_dir)
    for process in psutil.process_iter(["pid", "cmdline"]):
        try:
            cmdline = " ".join(process.info["cmdline"] or [])
        except psutil.Error:
            continue
        ours = marker in cmdline or (process.pid in broker_pids and "backend.broker.amqtt_server" in cmdline)
        if ours and process.pid != os.getpid():
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                try:
                    process.kill()
                except psutil.Error:
                    pass


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    path = tmp_path / "data"
    path.mkdir()
    return path


@contextmanager
def backends_on(data_dir: Path) -> Iterator[Callable[..., RunningBackend]]:
    """Start backends on `data_dir` (settings, or make_settings' with overrides); at the end, everything they started
    is stopped, and what is left of it killed by pid."""
    started: list[RunningBackend] = []

    def start(settings: Settings | None = None, **overrides) -> RunningBackend:
        backend = serve(settings or make_settings(data_dir, **overrides))
        started.append(backend)
        return backend

    try:
        yield start
    finally:
        broker_pids = set()
        for backend in started:
            broker = backend.services.broker._backend
            if broker is not None and broker.pid:
                broker_pids.add(broker.pid)
            if backend.thread.is_alive():
                _stop_everything(backend)
                backend.stop()
        kill_leftovers(data_dir, broker_pids)


@pytest.fixture
def backend_factory(data_dir: Path) -> Iterator[Callable[..., RunningBackend]]:
    with backends_on(data_dir) as start:
        yield start


@pytest.fixture(scope="module")
def module_backend_factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., RunningBackend]]:
    """backend_factory for a setup that a module's tests share (they only read it): its data dir is the module's."""
    with backends_on(tmp_path_factory.mktemp("module-data")) as start:
        yield start


def _stop_everything(backend: RunningBackend) -> None:
    try:
        for instance in backend.client.list_instances():
            if instance["state"] in ("starting", "running", "stopping", "error"):
                backend.client.stop_instance(instance["name"])
        backend.client.stop_broker()
    except Exception:
        pass  # the leftovers are killed by pid afterwards


@pytest.fixture
def hive_backend(backend_factory) -> RunningBackend:
    return backend_factory()


@pytest.fixture
def client(hive_backend: RunningBackend) -> HiveClient:
    return hive_backend.client


@pytest.fixture
def running_broker(client: HiveClient) -> dict:
    status = client.start_broker()
    assert status["state"] == "running", status
    return status


@pytest.fixture
def real_backend(backend_factory) -> RunningBackend:
    """A backend running the REAL hive_core, with its embedded broker started."""
    backend = backend_factory(core_command=REAL_CORE, heartbeat_interval=1.0, heartbeat_timeout=5.0, start_timeout=30.0)
    backend.client.start_broker()
    return backend
