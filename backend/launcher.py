"""`make run`: start the backend and the dashboard together on the embedded defaults, each on its own.

Both run as child processes, but neither takes the other down: the dashboard keeps the last known state under a
banner while the backend is away. A child that exits unexpectedly is started again after 1 s, 2 s, 4 s ... (at
most 30 s), saying so; one that ran a minute since its start counts afresh. Ctrl-C stops both and says what keeps
running: instances and the embedded broker are detached processes of their own, so the next `make run` finds
them again.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable

import httpx

from backend.client import BackendError, BackendUnavailable, HiveClient
from backend.host import REPO_ROOT, port_in_use
from backend.settings import CredentialsError, Settings, ensure_credentials

DASHBOARD_HOST = os.environ.get("HIVE_DASHBOARD_HOST", "127.0.0.1")
DASHBOARD_PORT = int(os.environ.get("HIVE_DASHBOARD_PORT", "8501"))
STARTUP_TIMEOUT_S = 60.0
RESTART_FIRST_S = 1.0
RESTART_MAX_S = 30.0
STABLE_AFTER_S = 60.0   # a child up this long is fine again: its next exit waits RESTART_FIRST_S
STOP_TIMEOUT_S = 15.0   # for the backend and the dashboard to stop after Ctrl-C, before they are killed
LIVE_STATES = ("starting", "running", "stopping", "error")  # an instance in these may have a process


def say(line: str) -> None:
    print(f"hive: {line}", flush=True)


class Child:
    """A child process started again (with a growing delay) whenever it exits while the launcher runs."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], *,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.name = name
        self.argv = argv
        self.env = env
        self._clock = clock
        self.process: subprocess.Popen | None = None
        self.started_at = 0.0
        self.delay = RESTART_FIRST_S
        self.restart_at: float | None = None
        self.restarts = 0

    def start(self) -> None:
        # A session of its own: Ctrl-C in the terminal reaches the launcher alone, which asks the backend what
        # keeps running before it stops the children.
        self.process = subprocess.Popen(self.argv, env=self.env, start_new_session=True)
        self.started_at = self._clock()

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def watch(self) -> None:
        """Start it again when it has exited and its delay is over; say so when it exits."""
        now = self._clock()
        if self.restart_at is not None:
            if now >= self.restart_at:
                self.restart_at = None
                self.restarts += 1
                say(f"starting the {self.name} again (restart {self.restarts})")
                self.start()
            return
        if self.process is None or self.process.poll() is None:
            return
        if now - self.started_at >= STABLE_AFTER_S:
            self.delay = RESTART_FIRST_S
        say(f"the {self.name} exited with code {self.process.returncode}; starting it again in {self.delay:g} s")
        self.restart_at = now + self.delay
        self.delay = min(RESTART_MAX_S, self.delay * 2)

    def stop(self) -> None:
        self.restart_at = None
        if self.running():
            assert self.process is not None
            self.process.send_signal(signal.SIGINT)

    def wait(self, deadline: float) -> None:
        """Wait for the stopped child until `deadline` (time.monotonic()); kill it if it is still there then."""
        if self.process is None:
            return
        try:
            self.process.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=STOP_TIMEOUT_S)


def wait_until_healthy(url: str, backend: Child) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if not backend.running():
            code = backend.process.returncode if backend.process else None
            raise SystemExit(f"the backend exited with code {code} during start-up; see the lines above")
        try:
            if httpx.get(f"{url}/health", timeout=1.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    raise SystemExit(f"the backend did not answer at {url}/health within {STARTUP_TIMEOUT_S:.0f} s")


def still_running(url: str, settings: Settings) -> list[str]:
    """What of Hive keeps running once the backend and the dashboard are stopped, asked of the backend."""
    client = HiveClient(url, settings.username, settings.password_value() or "", timeout=5.0)
    try:
        broker = client.broker_status()
        instances = client.list_instances()
    except (BackendError, BackendUnavailable) as error:
        return [f"(the backend could not be asked: {error}; the broker and the instances it started may still "
                f"be running)"]
    finally:
        client.close()
    lines = []
    if broker["state"] in ("starting", "running") and broker["kind"] != "external":
        what = "the embedded broker" if broker["kind"] == "embedded" else "the broker container (Mosquitto)"
        pid = f", pid {broker['pid']}" if broker.get("pid") else ""
        lines.append(f"{what} on {broker['host']}:{broker['port']}{pid}")
    live = [i for i in instances if i["state"] in LIVE_STATES and i["runtime"] != "external"]
    if live:
        lines.append("instances: " + ", ".join(f"{i['name']} ({i['runtime']}, {i['state']})" for i in live))
    return lines


def _interrupt(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


def report_leftovers(lines: list[str]) -> None:
    if not lines:
        say("stopped; nothing of Hive keeps running")
        return
    say("stopped the backend and the dashboard; still running (detached, the next `make run` finds them again):")
    for line in lines:
        print(f"  {line}", flush=True)


def main() -> None:
    os.chdir(REPO_ROOT)
    env_file = REPO_ROOT / ".env"
    try:
        generated = ensure_credentials(env_file)
    except CredentialsError as error:
        raise SystemExit(str(error)) from None
    settings = Settings.from_env_file(env_file)
    for name, host, port, setting in (
        ("backend", settings.backend_host, settings.backend_port, "HIVE_BACKEND_PORT"),
        ("dashboard", DASHBOARD_HOST, DASHBOARD_PORT, "HIVE_DASHBOARD_PORT"),
    ):
        if port_in_use(host, port):
            raise SystemExit(f"port {port} on {host} is taken, so the {name} cannot start there: "
                             f"stop what uses it, or set {setting} to a free port (in .env or the environment)")

    backend_url = f"http://{settings.backend_host}:{settings.backend_port}"
    child_env = {**os.environ, "HIVE_BACKEND_URL": backend_url}
    backend = Child("backend", [sys.executable, "-m", "backend"], child_env)
    dashboard = Child("dashboard", [
        sys.executable, "-m", "streamlit", "run", "main.py", "--server.address", DASHBOARD_HOST,
        "--server.port", str(DASHBOARD_PORT), "--server.headless", "true", "--browser.gatherUsageStats", "false",
    ], child_env)
    children = (backend, dashboard)
    # Stopped as by Ctrl-C (the children are not in our group). SIGINT too: a launcher started in the background of
    # a script inherits SIGINT ignored, and Python then gives it no KeyboardInterrupt of its own.
    for stop_signal in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(stop_signal, _interrupt)
    print(f"starting the backend on {backend_url} ...", flush=True)
    backend.start()
    leftovers: list[str] | None = None  # asked of the backend on Ctrl-C
    try:
        wait_until_healthy(backend_url, backend)
        print(f"starting the dashboard on http://{DASHBOARD_HOST}:{DASHBOARD_PORT} ...", flush=True)
        dashboard.start()
        password_hint = (f"{generated.password}  (generated, saved in {env_file})" if generated
                         else "as set in HIVE_PASSWORD (.env or the environment)")
        print("\n".join([
            "",
            "Hive is running.",
            f"  dashboard: http://{DASHBOARD_HOST}:{DASHBOARD_PORT}",
            f"  backend:   {backend_url}  (API docs at {backend_url}/docs)",
            f"  login:     {settings.username} / {password_hint}",
            "Press Ctrl-C to stop the backend and dashboard (instances and the broker keep running).",
            "",
        ]), flush=True)
        while True:
            for child in children:
                child.watch()
            time.sleep(0.5)
    except KeyboardInterrupt:
        print("\nstopping ...", flush=True)
        leftovers = still_running(backend_url, settings)
    finally:
        for child in children:
            child.stop()
        deadline = time.monotonic() + STOP_TIMEOUT_S  # both stop side by side: one wait for the two
        for child in children:
            child.wait(deadline)
    if leftovers is not None:
        report_leftovers(leftovers)


if __name__ == "__main__":
    main()
