"""The host's market-data service (hive_core/feed/service.py), kept running by the backend next to the broker.

`python -m hive_core.feed --socket <data>/feed/feed.sock --pid-file <data>/feed/feed.pid`, a detached process of its
own like the embedded broker: restarting the backend keeps the instances' market data flowing, and the backend finds
it again by the pid in its pid file (and that file on its command line). `ensure()` starts it when it is not running
(at the backend's start, then every few seconds: a service that died is started again; the instances take their
market data from the venues meanwhile). Instances are given its address (`venue.feed`) where their runtime reaches
it (Runtime.feed_address): local processes, and containers on this machine's Docker engine, which are shown the
socket's folder; containers on other hosts take their own connections.
"""
from __future__ import annotations

import hashlib
import logging
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import psutil

from backend.host import REPO_ROOT, child_env, last_output_line, live_process

log = logging.getLogger(__name__)
MODULE = "hive_core.feed"
START_TIMEOUT = 10.0
MAX_SOCKET_PATH = 100   # bytes; sun_path holds 108 with its terminating zero
HEALTH_TIMEOUT = 1.0


def socket_path(folder: Path) -> Path:
    """<folder>/socket/feed.sock, unless that is longer than a Unix socket's address may be (108 bytes on Linux):
    then a folder of its own under the temporary directory, named after `folder`. The socket's folder holds nothing
    else: instances that run as users of their own are shown it (instance_user.py), containers mount it
    (runtimes/docker.py)."""
    inside = folder / "socket" / "feed.sock"
    if len(str(inside).encode()) < MAX_SOCKET_PATH:
        return inside
    digest = hashlib.sha256(str(folder).encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"hive-feed-{digest}" / "feed.sock"


class FeedManager:
    def __init__(self, data_dir: Path, enabled: bool = True) -> None:
        self.enabled = enabled
        self.folder = data_dir / "feed"
        self.socket = socket_path(self.folder)
        self.pid_file = self.folder / "feed.pid"
        self.log_file = self.folder / "feed.log"
        self.error: str | None = None
        self._lock = threading.Lock()

    @property
    def address(self) -> str | None:
        """What an instance's venue section names (`feed`) while the service runs; None when it does not."""
        return f"unix:{self.socket}" if self.enabled and self._process() is not None else None

    def ensure(self) -> None:
        """Start the service unless it runs (or is disabled); a failure is kept for status() and logged."""
        if not self.enabled:
            return
        with self._lock:
            if self._process() is not None:
                return
            try:
                self._start()
                self.error = None
            except RuntimeError as problem:
                self.error = str(problem)
                log.warning("market-data service: %s", problem)

    def _start(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        # The instances' users (instance_user.py) may pass through the socket's folder (not list it), and connect.
        self.socket.parent.mkdir(parents=True, exist_ok=True)
        self.socket.parent.chmod(0o711)
        self.socket.unlink(missing_ok=True)   # left by a service that was killed
        with open(self.log_file, "ab") as out:
            process = subprocess.Popen([sys.executable, "-m", MODULE, "--socket", str(self.socket), "--pid-file",
                                        str(self.pid_file)], cwd=REPO_ROOT, stdin=subprocess.DEVNULL, stdout=out,
                                       stderr=subprocess.STDOUT, start_new_session=True, env=child_env())
        deadline = time.monotonic() + START_TIMEOUT
        while self._health() is None:
            if process.poll() is not None:
                line = last_output_line(self.log_file)
                raise RuntimeError(f"it exited at start with code {process.returncode}"
                                   + (f": {line}" if line else f" (see {self.log_file})"))
            if time.monotonic() > deadline:
                process.kill()
                raise RuntimeError(f"it did not answer on {self.socket} within {START_TIMEOUT:g} s "
                                   f"(see {self.log_file})")
            time.sleep(0.1)
        log.info("market-data service started (pid %d) on %s", process.pid, self.socket)

    def _process(self) -> psutil.Process | None:
        """The service its pid file names, when that process runs and is it (its command line names the file)."""
        try:
            pid = int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return None
        process = live_process(pid, None)
        try:
            return process if process is not None and str(self.pid_file) in process.cmdline() else None
        except psutil.Error:
            return None

    def _health(self) -> dict | None:
        try:
            with httpx.Client(transport=httpx.HTTPTransport(uds=str(self.socket)), timeout=HEALTH_TIMEOUT) as http:
                answer = http.get("http://feed/health")
        except httpx.HTTPError:
            return None
        return answer.json() if answer.status_code == 200 else None

    def status(self) -> dict:
        """Whether it runs, where, and what it serves (its own /health)."""
        if not self.enabled:
            return {"state": "disabled", "address": None, "pid": None, "health": None, "error": None}
        process = self._process()
        health = self._health() if process is not None else None
        state = "running" if health is not None else "error" if process is not None or self.error else "stopped"
        return {"state": state, "address": f"unix:{self.socket}" if process is not None else None,
                "pid": process.pid if process is not None else None, "health": health, "error": self.error}

    def stop(self) -> None:
        """End it (the instances take their market data from the venues)."""
        process = self._process()
        if process is not None:
            process.terminate()
            try:
                process.wait(10)
            except Exception:
                process.kill()
        self.pid_file.unlink(missing_ok=True)
