"""`make run`: start the backend and the dashboard together on the embedded defaults.

Both run as child processes; Ctrl-C stops them. Instances and the embedded broker are detached
processes of their own and keep running, so the next `make run` finds them again.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import httpx

from backend.host import REPO_ROOT, port_in_use
from backend.settings import CredentialsError, Settings, ensure_credentials

DASHBOARD_HOST = os.environ.get("HIVE_DASHBOARD_HOST", "127.0.0.1")
DASHBOARD_PORT = int(os.environ.get("HIVE_DASHBOARD_PORT", "8501"))
STARTUP_TIMEOUT_S = 60.0


def wait_until_healthy(url: str, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the backend exited with code {process.returncode} during start-up; see the lines above")
        try:
            if httpx.get(f"{url}/health", timeout=1.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    raise SystemExit(f"the backend did not answer at {url}/health within {STARTUP_TIMEOUT_S:.0f} s")


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
    print(f"starting the backend on {backend_url} ...", flush=True)
    backend = subprocess.Popen([sys.executable, "-m", "backend"], env=child_env)
    children = {"backend": backend}     # by the name the exit message gives
    try:
        wait_until_healthy(backend_url, backend)
        print(f"starting the dashboard on http://{DASHBOARD_HOST}:{DASHBOARD_PORT} ...", flush=True)
        children["streamlit"] = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", "main.py", "--server.address", DASHBOARD_HOST,
             "--server.port", str(DASHBOARD_PORT), "--server.headless", "true",
             "--browser.gatherUsageStats", "false"],
            env=child_env,
        )
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
        while all(child.poll() is None for child in children.values()):
            time.sleep(0.5)
        stopped = next(name for name, child in children.items() if child.poll() is not None)
        raise SystemExit(f"{stopped} exited with code {children[stopped].returncode}; stopping the rest")
    except KeyboardInterrupt:
        print("\nstopping ...", flush=True)
    finally:
        for child in children.values():
            if child.poll() is None:
                child.send_signal(signal.SIGINT)
        for child in children.values():
            try:
                child.wait(timeout=15)
            except subprocess.TimeoutExpired:
                child.kill()


if __name__ == "__main__":
    main()
