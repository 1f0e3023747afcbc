"""`make run`'s launcher: the dashboard outlives the backend, which is started again when it dies; Ctrl-C stops
both and says what keeps running (the embedded broker here)."""
from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import psutil
import pytest

from backend.launcher import Child
from tests.backend.conftest import kill_leftovers
from tests.conftest import REPO_ROOT, free_port
from tests.polling import wait_until


def answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2.0).status_code == 200
    except httpx.TransportError:
        return False


def backend_child(launcher: subprocess.Popen) -> psutil.Process | None:
    for child in psutil.Process(launcher.pid).children():
        try:
            if child.cmdline()[1:3] == ["-m", "backend"]:
                return child
        except psutil.Error:
            continue
    return None


def test_a_child_that_keeps_exiting_is_started_again_later_each_time_until_it_stays_up(capsys):
    now = [0.0]
    child = Child("dashboard", [sys.executable, "-c", "raise SystemExit(3)"], dict(os.environ), clock=lambda: now[0])
    child.start()
    delays = []
    for _ in range(7):
        assert child.process is not None and child.process.wait(10) == 3
        child.watch()  # sees the exit
        assert child.restart_at is not None
        delays.append(child.restart_at - now[0])
        now[0] = child.restart_at
        child.watch()  # starts it again
    assert delays == [1, 2, 4, 8, 16, 30, 30]

    assert child.process is not None and child.process.wait(10) == 3
    now[0] += 60  # it ran a minute: counts afresh
    child.watch()
    assert child.restart_at == now[0] + 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[:2] == ["hive: the dashboard exited with code 3; starting it again in 1 s",
                         "hive: starting the dashboard again (restart 1)"]
    assert lines[-1] == "hive: the dashboard exited with code 3; starting it again in 1 s"


@pytest.mark.integration
@pytest.mark.timeout(240)
def test_the_backend_is_restarted_under_a_live_dashboard_and_ctrl_c_says_what_keeps_running(tmp_path: Path):
    data_dir = tmp_path / "data"
    backend_port, dashboard_port, broker_port = free_port(), free_port(), free_port()
    password = secrets.token_urlsafe(12)
    env = {**os.environ, "HIVE_ENV": "development", "HIVE_USERNAME": "operator", "HIVE_PASSWORD": password,
           "HIVE_DATA_DIR": str(data_dir), "HIVE_BACKEND_HOST": "127.0.0.1", "HIVE_BACKEND_PORT": str(backend_port),
           "HIVE_DASHBOARD_PORT": str(dashboard_port), "HIVE_BROKER_PORT": str(broker_port),
           "PYTHONUNBUFFERED": "1"}
    env.pop("DATABASE_URL", None)
    env.pop("HIVE_BACKEND_URL", None)
    output = tmp_path / "launcher.log"
    backend_url, dashboard_url = f"http://127.0.0.1:{backend_port}", f"http://127.0.0.1:{dashboard_port}"
    with open(output, "wb") as log:
        launcher = subprocess.Popen([sys.executable, "-m", "backend.launcher"], cwd=REPO_ROOT, env=env,
                                    stdout=log, stderr=subprocess.STDOUT)
    try:
        def printed() -> str:
            return output.read_text(errors="replace")

        wait_until(lambda: "Hive is running." in printed() and answers(f"{dashboard_url}/_stcore/health"), 90,
                   interval=0.3, message=lambda: f"both up; the launcher printed:\n{printed()}")
        broker = httpx.post(f"{backend_url}/broker/start", json={}, auth=("operator", password), timeout=30).json()
        assert broker["state"] == "running", broker

        first = backend_child(launcher)
        assert first is not None
        first.kill()
        first.wait(10)
        assert answers(f"{dashboard_url}/_stcore/health"), "the dashboard stays up without its backend"
        wait_until(lambda: answers(f"{backend_url}/health"), 60, interval=0.3,
                   message=lambda: f"the backend started again; the launcher printed:\n{printed()}")
        assert "hive: the backend exited with code -9; starting it again in 1 s" in printed()
        assert "hive: starting the backend again (restart 1)" in printed()
        assert launcher.poll() is None and answers(f"{dashboard_url}/_stcore/health")

        launcher.send_signal(signal.SIGINT)
        assert launcher.wait(60) == 0
        lines = printed().splitlines()
        report = lines.index("hive: stopped the backend and the dashboard; still running (detached, the next "
                             "`make run` finds them again):")
        assert lines[report + 1:] == [f"  the embedded broker on 127.0.0.1:{broker_port}, pid {broker['pid']}"]
        assert not answers(f"{backend_url}/health") and not answers(f"{dashboard_url}/_stcore/health")
        assert psutil.pid_exists(broker["pid"]), "the broker is left running, as said"
    finally:
        if launcher.poll() is None:
            launcher.kill()
            launcher.wait(10)
        kill_leftovers(data_dir)
