"""An instance's start-up in steps (GET /instances/{name}/startup): from its real state history and launch, through
the API against a scripted bot, and each way a start can end as the pure function sees it."""
from __future__ import annotations

import pytest

from backend.client import BackendError
from backend.domain.instances import StateChange
from backend.orchestrator.lifecycle import State
from backend.orchestrator.startup import StartupFacts, startup_of
from tests.backend.test_api_instances import MM, NEVER, spec, wait_state
from tests.polling import wait_until


def _states(startup: dict) -> dict[str, str]:
    return {step["key"]: step["state"] for step in startup["steps"]}


@pytest.mark.usefixtures("running_broker")
def test_a_start_reports_each_step_with_its_time_up_to_the_first_heartbeat(client) -> None:
    created = client.create_instance(spec("bot1"))
    running = wait_state(client, "bot1", "running")
    startup = client.instance_startup("bot1", since=created["created_at"])

    assert startup["outcome"] == "running" and startup["failed_step"] is None and startup["log"] == []
    assert [step["label"] for step in startup["steps"]] == ["created", "image ready", "process started",
                                                            "first heartbeat"]
    assert _states(startup) == {"created": "done", "image": "skipped", "started": "done", "heartbeat": "done"}
    created_at, started_at, heartbeat_at = (step["at"] for step in startup["steps"] if step["state"] == "done")
    assert created_at <= started_at <= heartbeat_at <= running["state_since"] + 0.001
    history = {change["to_state"]: change["ts"] for change in client.instance_history("bot1")}
    assert (started_at, heartbeat_at) == (history["starting"], history["running"])
    assert startup["steps"][2]["detail"].startswith("pid ")


@pytest.mark.usefixtures("running_broker")
def test_a_process_that_dies_before_its_first_heartbeat_names_that_step_and_shows_its_log(client) -> None:
    created = client.create_instance(spec("bot1", {**MM, "params": {"fake_exit_after": 0.2, "fake_silent": True}},
                                          restart_policy=NEVER))
    wait_state(client, "bot1", "error")
    startup = client.instance_startup("bot1", since=created["created_at"])

    assert (startup["outcome"], startup["failed_step"]) == ("failed", "heartbeat")
    assert _states(startup) == {"created": "done", "image": "skipped", "started": "done", "heartbeat": "failed"}
    assert startup["steps"][3]["detail"] == "exited with code 1: RuntimeError: fake crash" == startup["reason"]
    assert "RuntimeError: fake crash" in startup["log"]


@pytest.mark.usefixtures("running_broker")
def test_an_instance_created_without_start_waits_and_a_later_start_is_reported(client) -> None:
    client.create_instance(spec("bot1", start=False))
    waiting = client.instance_startup("bot1")
    assert (waiting["outcome"], waiting["attempt_at"]) == ("not_started", None)
    assert _states(waiting) == {"created": "done", "image": "skipped", "started": "waiting", "heartbeat": "waiting"}

    client.start_instance("bot1")
    started = wait_until(lambda: (s := client.instance_startup("bot1"))["outcome"] == "running" and s, 15,
                         message="the start reported up to its first heartbeat")
    assert started["attempt_at"] is not None


def test_an_unknown_instance_has_no_startup(client) -> None:
    with pytest.raises(BackendError) as raised:
        client.instance_startup("nobody")
    assert (raised.value.status, raised.value.code) == (404, "not_found")


# --- the pure function: the ways a start ends ------------------------------------------------------------
def _change(ts: float, to: State, reason: str = "", before: State | None = None) -> StateChange:
    return StateChange(ts=ts, from_state=before, to_state=to.value, reason=reason)


def _lines(count: int) -> list[str]:
    return [f"line {index}" for index in range(count)][-2:]


def test_a_failed_start_that_is_the_latest_shows_its_process_s_last_lines() -> None:
    changes = [_change(10.0, State.CREATED), _change(11.0, State.STARTING), _change(13.0, State.ERROR, "exited 1")]
    startup = startup_of(StartupFacts("bot1", "process", State.ERROR, "exited 1", changes, started_at=11.0,
                                      locator={"log_file": "x"}), _lines, since=10.0)
    assert (startup.failed_step, startup.log) == ("heartbeat", ["line 18", "line 19"])


def test_docker_reports_when_the_runtime_found_the_image_and_started_the_container() -> None:
    facts = StartupFacts("bot1", "docker", State.STARTING, "waiting for its first heartbeat",
                         [_change(10.0, State.CREATED), _change(12.0, State.STARTING, before=State.CREATED)],
                         started_at=12.0, locator={"image_ready_at": 11.5})
    startup = startup_of(facts, _lines)
    assert [(step.label, step.state, step.at) for step in startup.steps] == [
        ("created", "done", 10.0), ("image ready", "done", 11.5), ("container started", "done", 12.0),
        ("first heartbeat", "running", None)]
    assert startup.outcome == "starting" and startup.log == []


def test_a_start_the_runtime_refused_names_the_image_step_for_a_missing_image() -> None:
    reason = "created, not started: image 'hive/hive-core:9' is no longer on Docker host 'local'; build it there"
    startup = startup_of(StartupFacts("bot1", "docker", State.CREATED, reason, [_change(10.0, State.CREATED)]),
                         _lines)
    assert (startup.outcome, startup.failed_step) == ("failed", "image")
    assert startup.steps[1].detail.startswith("image 'hive/hive-core:9' is no longer")
    assert [step.state for step in startup.steps] == ["done", "failed", "waiting", "waiting"]


def test_a_process_that_could_not_be_started_fails_the_started_step() -> None:
    changes = [_change(10.0, State.CREATED), _change(11.0, State.STARTING), _change(11.0, State.ERROR,
                                                                                   "could not start the process: x")]
    startup = startup_of(StartupFacts("bot1", "process", State.ERROR, "could not start the process: x", changes,
                                      started_at=None), _lines)
    assert (startup.outcome, startup.failed_step) == ("failed", "started")
    assert [step.state for step in startup.steps] == ["done", "skipped", "failed", "waiting"]
    assert startup.log == []  # no process, no log


def test_since_picks_the_first_start_and_a_crash_then_restart_still_shows_the_failure() -> None:
    changes = [_change(10.0, State.CREATED), _change(11.0, State.STARTING), _change(13.0, State.ERROR, "exited 1"),
               _change(15.0, State.STARTING, "restart 1 of 3")]
    facts = StartupFacts("bot1", "process", State.STARTING, "restart 1 of 3", changes, started_at=15.0,
                         locator={"log_file": "x"})
    first = startup_of(facts, _lines, since=10.0)
    assert (first.outcome, first.failed_step, first.attempt_at) == ("failed", "heartbeat", 11.0)
    assert first.log == []  # the log is the restart's now: not shown as this start's
    latest = startup_of(facts, _lines)
    assert (latest.outcome, latest.attempt_at) == ("starting", 15.0)


def test_a_stop_before_the_first_heartbeat_is_not_a_failure() -> None:
    changes = [_change(10.0, State.CREATED), _change(11.0, State.STARTING), _change(12.0, State.STOPPING, "stop")]
    startup = startup_of(StartupFacts("bot1", "process", State.STOPPING, "stop", changes, started_at=11.0), _lines)
    assert (startup.outcome, startup.failed_step) == ("stopped", None)
    assert startup.steps[3].state == "skipped"
