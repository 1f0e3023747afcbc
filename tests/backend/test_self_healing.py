"""Self-healing instances end to end: a real backend, the real embedded broker and real hive_core processes,
killed with SIGKILL and restarted by the supervisor as their restart policy says."""
from __future__ import annotations

import os
import signal

import pytest

from tests.backend.conftest import RunningBackend
from tests.backend.test_api_instances import wait_state
from tests.polling import wait_until

pytestmark = pytest.mark.fault

FAST = {"policy": "on_failure", "max_retries": 2, "backoff_s": 0.2, "max_backoff_s": 1.0}
START_TIMEOUT = 40.0  # s for a real hive_core to be heard, on a busy machine


def create(client, name: str, policy: dict) -> dict:
    return client.create_instance({"name": name, "strategies": [{"id": "mm", "strategy": "market_maker"}],
                                   "restart_policy": policy})


def running_again(client, name: str, old_pid: int, restarts: int) -> dict:
    """Running with a new process, after `restarts` restarts."""
    def restarted():
        instance = client.get_instance(name)
        done = instance["state"] == "running" and instance["pid"] not in (None, old_pid)
        return done and instance["restarts"] == restarts and instance

    def seen() -> str:
        instance = client.get_instance(name)
        return f"{name} running again after {restarts} restarts (last: {instance['state']}, pid {instance['pid']}, " \
               f"restarts {instance['restarts']}: {instance['reason']})"

    return wait_until(restarted, START_TIMEOUT, interval=0.2, message=seen)


def supervised(backend: RunningBackend, rounds: int) -> None:
    """Wait until the supervisor has been round `rounds` more times."""
    supervisor = backend.services.supervisor
    until = supervisor.ticks + rounds
    wait_until(lambda: supervisor.ticks >= until, 30, message=f"{rounds} supervisor rounds")


def restart_reasons(client, name: str) -> list[str]:
    return [h["reason"] for h in client.instance_history(name) if (h["from_state"], h["to_state"]) == ("error",
                                                                                                       "starting")]


@pytest.mark.slow
def test_a_killed_instance_is_restarted_until_its_retries_are_used_up(real_backend) -> None:
    client = real_backend.client
    create(client, "heal1", FAST)
    first = wait_state(client, "heal1", "running", timeout=START_TIMEOUT)
    assert (first["restarts"], first["next_restart_at"], first["restart_policy"]) == (0, None, FAST)

    os.kill(first["pid"], signal.SIGKILL)
    second = running_again(client, "heal1", first["pid"], 1)
    [reason] = restart_reasons(client, "heal1")
    assert reason.startswith("restart 1 of 2 after the process was killed by SIGKILL; process started (pid ")
    crash = next(h for h in client.instance_history("heal1") if h["to_state"] == "error")
    assert crash["from_state"] == "running" and crash["reason"].startswith("killed by SIGKILL")
    assert crash["reason"].endswith("; restart 1 of 2 in 0.2 s")

    os.kill(second["pid"], signal.SIGKILL)
    third = running_again(client, "heal1", second["pid"], 2)
    assert restart_reasons(client, "heal1")[0].startswith("restart 2 of 2 after the process was killed by SIGKILL")

    os.kill(third["pid"], signal.SIGKILL)
    failed = wait_state(client, "heal1", "error", timeout=START_TIMEOUT)
    assert failed["reason"].startswith("killed by SIGKILL")
    assert "; gave up after 2 restarts; last log lines: " in failed["reason"]
    supervised(real_backend, rounds=10)  # ten times the first back-off
    given_up = client.get_instance("heal1")
    assert (given_up["state"], given_up["pid"], given_up["restarts"], given_up["next_restart_at"]) == \
        ("error", None, 2, None)
    assert given_up["reason"] == failed["reason"]


def test_policy_never_and_an_operators_stop_are_never_followed_by_a_restart(real_backend) -> None:
    client = real_backend.client
    create(client, "never1", {"policy": "never"})
    create(client, "stop1", FAST)
    never = wait_state(client, "never1", "running", timeout=START_TIMEOUT)
    wait_state(client, "stop1", "running", timeout=START_TIMEOUT)

    os.kill(never["pid"], signal.SIGKILL)
    failed = wait_state(client, "never1", "error", timeout=START_TIMEOUT)
    assert failed["reason"].startswith("killed by SIGKILL") and "restart" not in failed["reason"]
    assert client.stop_instance("stop1")["state"] == "stopped"
    supervised(real_backend, rounds=10)

    never = client.get_instance("never1")
    assert (never["state"], never["restarts"], never["next_restart_at"]) == ("error", 0, None)
    assert restart_reasons(client, "never1") == []
    stopped = client.get_instance("stop1")
    assert (stopped["state"], stopped["restarts"], stopped["next_restart_at"]) == ("stopped", 0, None)
    assert [h["to_state"] for h in client.instance_history("stop1")][:2] == ["stopped", "stopping"]


def test_the_count_and_a_pending_restart_survive_a_backend_restart(backend_factory, real_backend) -> None:
    client = real_backend.client
    create(client, "heal2", {**FAST, "max_retries": 3})
    first = wait_state(client, "heal2", "running", timeout=START_TIMEOUT)
    os.kill(first["pid"], signal.SIGKILL)
    second = running_again(client, "heal2", first["pid"], 1)

    real_backend.stop()
    os.kill(second["pid"], signal.SIGKILL)  # dies while no backend watches
    exit_file = real_backend.settings.data_dir / "instances" / "heal2" / "exit_code"
    wait_until(exit_file.exists, 10, message="the launcher noted the exit")

    again = backend_factory(real_backend.settings)
    running_again(again.client, "heal2", second["pid"], 2)  # 2: the first restart was remembered
    crash = next(h for h in again.client.instance_history("heal2") if h["to_state"] == "error")
    assert "while the backend was down" in crash["reason"] and crash["reason"].endswith("; restart 2 of 3 in 0.4 s")
    assert restart_reasons(again.client, "heal2")[0].startswith(
        "restart 2 of 3 after the process was killed by SIGKILL")
