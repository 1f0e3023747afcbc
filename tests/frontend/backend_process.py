"""The real backend (`python -m backend`) in a subprocess, on free ports, with its own data dir.

Used by the AppTest suite and the browser journey. Instances and the embedded broker are detached
processes of the backend; on stop, the ones this backend started (found by its pid and by its unique
data dir on their command line) are ended too, by pid.
"""
from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import psutil

from tests.conftest import REPO_ROOT, free_port
from tests.polling import wait_until

STARTUP_TIMEOUT_S = 60.0


class BackendProcess:
    def __init__(self, data_dir: Path, broker_port: int | None = None, heartbeat_interval: float = 1.0,
                 settings: dict[str, str] | None = None) -> None:
        """`settings`: more HIVE_* variables for the backend's environment."""
        self.data_dir = data_dir.resolve()
        self.port = free_port()
        self.broker_port = broker_port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.username = "operator"
        self.password = secrets.token_urlsafe(12)
        self.log_file = self.data_dir / "backend.log"
        self.env = {
            **os.environ,
            "HIVE_ENV": "development",
            "HIVE_USERNAME": self.username,
            "HIVE_PASSWORD": self.password,
            "HIVE_DATA_DIR": str(self.data_dir),
            "HIVE_BACKEND_HOST": "127.0.0.1",
            "HIVE_BACKEND_PORT": str(self.port),
            "HIVE_BROKER_PORT": str(self.broker_port),
            "HIVE_HEARTBEAT_INTERVAL": str(heartbeat_interval),
            "HIVE_BROKER_SYS_INTERVAL": "1",
            "HIVE_PNL_SNAPSHOT_INTERVAL": "1",
            "HIVE_FEED_SERVICE": "false",  # one process more per backend: the tests that need it turn it on
            "PYTHONUNBUFFERED": "1",
            **(settings or {}),
        }
        self.env.pop("DATABASE_URL", None)
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with open(self.log_file, "ab") as log:
            self.process = subprocess.Popen([sys.executable, "-m", "backend"], cwd=REPO_ROOT, env=self.env,
                                            stdout=log, stderr=subprocess.STDOUT)
        try:
            wait_until(self._healthy, STARTUP_TIMEOUT_S, interval=0.2,
                       message=f"the backend answering at {self.url}/health")
        except AssertionError as error:
            self.stop()
            raise AssertionError(f"{error}\n{self.log_tail()}") from None

    def _healthy(self) -> bool:
        """Its /health answers, and the port is its own: another test's backend that took the same free port in the
        meantime answers /health too (and then this one cannot listen)."""
        assert self.process is not None
        if self.process.poll() is not None:
            raise RuntimeError(f"the backend exited with code {self.process.returncode}:\n{self.log_tail()}")
        try:
            answered = httpx.get(f"{self.url}/health", timeout=1.0).status_code == 200
        except httpx.TransportError:
            return False
        return answered and self._listens()

    def _listens(self) -> bool:
        assert self.process is not None
        try:
            sockets = psutil.Process(self.process.pid).net_connections(kind="tcp")
        except psutil.Error:
            return False
        return any(sock.status == psutil.CONN_LISTEN and sock.laddr and sock.laddr.port == self.port
                   for sock in sockets)

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no backend log)"

    def _spawned(self) -> list[psutil.Process]:
        """Processes this backend started: its descendants, and detached ones that name our data dir."""
        found: dict[int, psutil.Process] = {}
        if self.process is not None:
            try:
                for child in psutil.Process(self.process.pid).children(recursive=True):
                    found[child.pid] = child
            except psutil.NoSuchProcess:
                pass
        marker = str(self.data_dir)
        for candidate in psutil.process_iter(["pid", "cmdline"]):
            try:
                if any(marker in part for part in candidate.info["cmdline"] or []):
                    found[candidate.pid] = candidate
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
        found.pop(os.getpid(), None)
        return list(found.values())

    def stop(self) -> None:
        spawned = self._spawned()
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        spawned += [p for p in self._spawned() if p.pid not in {s.pid for s in spawned}]
        for proc in spawned:
            try:
                proc.terminate()
            except psutil.NoSuchProcess:
                pass
        _, alive = psutil.wait_procs(spawned, timeout=10)
        for proc in alive:
            try:
                proc.kill()
            except psutil.NoSuchProcess:
                pass
