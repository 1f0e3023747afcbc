"""The embedded broker: `python -m backend.broker.amqtt_server` as a detached process of its own.

Detached (its own session) so that restarting the backend keeps every bot connected; after a restart
the backend finds it again by pid, create time and command line. It reads its logins and ACL from
`<data>/broker/access/passwd` and `acl` (0600, written by the backend), and again whenever they change.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import psutil

from backend.broker.base import Liveness, ProcessUsage, answers, port_in_use_error
from backend.broker.private_files import write_private
from backend.errors import OperationFailed
from backend.host import REPO_ROOT, child_env, last_output_line, last_output_lines, live_process, port_in_use

SERVER_MODULE = "backend.broker.amqtt_server"
START_TIMEOUT = 20.0
STOP_GRACE = 5.0


class EmbeddedBroker:
    kind = "embedded"

    def __init__(self, host: str, port: int, log_dir: Path, access: Callable[[], dict[str, str]],
                 sys_interval: int = 5, pid: int | None = None, create_time: float | None = None) -> None:
        """`access` gives the password and ACL files' texts (BrokerLogins.files), written into `log_dir/access`."""
        self.host = host
        self.port = port
        self.log_file = log_dir / "broker.log"
        self.access_dir = log_dir / "access"
        self.access = access
        self.sys_interval = sys_interval
        self.pid = pid
        self.create_time = create_time
        self._popen: subprocess.Popen | None = None
        self._probe: psutil.Process | None = None

    # --- lifecycle -------------------------------------------------------------------------------
    def start(self) -> None:
        if port_in_use(self.host, self.port):
            raise port_in_use_error(self.host, self.port)
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        self.reload_access()
        argv = [sys.executable, "-m", SERVER_MODULE, "--host", self.host, "--port", str(self.port),
                "--sys-interval", str(self.sys_interval), "--password-file", str(self.access_dir / "passwd"),
                "--acl-file", str(self.access_dir / "acl")]
        with open(self.log_file, "ab") as log:
            log.write(f"=== hive: broker start on {self.host}:{self.port} ===\n".encode())
            log.flush()
            self._popen = subprocess.Popen(argv, cwd=REPO_ROOT, stdin=subprocess.DEVNULL, stdout=log,
                                           stderr=subprocess.STDOUT, start_new_session=True, env=child_env())
        self.pid = self._popen.pid
        try:
            self.create_time = psutil.Process(self.pid).create_time()
        except psutil.Error:
            self.create_time = None
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self._popen.poll() is not None:
                line = last_output_line(self.log_file)
                raise OperationFailed("broker_failed",
                                      f"the embedded broker exited at start with code {self._popen.returncode}"
                                      + (f": {line}" if line else f" (see {self.log_file})"))
            if answers(self.host if self.host not in ("0.0.0.0", "::") else "127.0.0.1", self.port, 0.5):
                return
            time.sleep(0.1)
        self.stop()
        raise OperationFailed("broker_failed",
                              f"the embedded broker did not listen on {self.host}:{self.port} "
                              f"within {START_TIMEOUT:.0f} s (see {self.log_file})")

    def reload_access(self) -> None:
        """Write the logins and ACL; the running broker reads them again at its next look (amqtt_access.py)."""
        write_private(self.access_dir, self.access())

    def stop(self) -> None:
        process = self._process()
        if process is None:
            return
        try:
            os.killpg(process.pid, signal.SIGTERM)
        except (ProcessLookupError, PermissionError):
            process.terminate()
        try:
            process.wait(STOP_GRACE)
        except psutil.TimeoutExpired:
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                process.kill()
            try:
                process.wait(STOP_GRACE)
            except psutil.TimeoutExpired:
                pass
        if self._popen is not None:
            self._popen.poll()

    # --- finding it again ------------------------------------------------------------------------
    def _process(self) -> psutil.Process | None:
        if self._popen is not None:
            self._popen.poll()  # reap it if it has ended
        return live_process(self.pid, self.create_time)

    def adopt(self) -> bool:
        """Is the recorded pid still our broker (same create time, same command, same port)?"""
        process = self._process()
        if process is None:
            return False
        try:
            cmdline = process.cmdline()
        except psutil.Error:
            return False
        return SERVER_MODULE in cmdline and str(self.port) in cmdline

    def liveness(self) -> Liveness:
        if self._process() is not None:
            return Liveness(True, f"embedded broker running (pid {self.pid})")
        line = last_output_line(self.log_file)
        code = self._popen.returncode if self._popen is not None else None
        words = f"the embedded broker (pid {self.pid}) is gone" + (f", exit code {code}" if code is not None else "")
        return Liveness(False, words + (f": {line}" if line else ""))

    def usage(self) -> ProcessUsage:
        process = self._process()
        if process is None:
            return ProcessUsage()
        if self._probe is None or self._probe.pid != process.pid:
            self._probe = process
        try:
            with self._probe.oneshot():
                return ProcessUsage(
                    pid=process.pid, uptime_s=max(0.0, time.time() - self._probe.create_time()),
                    cpu_percent=round(self._probe.cpu_percent(interval=None), 1),
                    memory_bytes=self._probe.memory_info().rss,
                )
        except psutil.Error:
            return ProcessUsage(pid=process.pid)

    def log_lines(self, count: int) -> list[str]:
        return last_output_lines(self.log_file, count)

    def record(self) -> dict:
        return {"kind": self.kind, "host": self.host, "port": self.port, "pid": self.pid,
                "create_time": self.create_time}
