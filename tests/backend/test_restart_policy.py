"""The restart policy: the pure decision rule by rule, the policy's validation, and the service applying it
to a scripted runtime with injected times (the real processes: test_self_healing.py)."""
from __future__ import annotations

import time

import pytest
from pydantic import ValidationError

from backend.domain.instances import InstanceCreate, RestartPolicy
from backend.orchestrator.instances import InstanceService
from backend.orchestrator.lifecycle import State
from backend.orchestrator.restarts import (
    HEALTHY_AFTER,
    Action,
    backoff,
    decide_restart,
    restart_words,
    restarts_after,
    with_log_lines,
)
from tests.backend.test_state_derivation import ScriptedRuntime, hear, world  # noqa: F401  (world: a fixture)

ON_FAILURE = RestartPolicy()  # the default: on_failure, 3 retries, 2 s doubling up to 60 s
KILLED = "killed by SIGKILL: tick 41"


# --- the decision -----------------------------------------------------------------------------------
def test_the_default_policy_is_on_failure_with_three_retries() -> None:
    spec = InstanceCreate(name="bot", strategies=[{"id": "s1", "strategy": "market_maker"}])
    assert spec.restart_policy == RestartPolicy(policy="on_failure", max_retries=3, backoff_s=2.0, max_backoff_s=60.0)


def test_an_instance_stored_before_restart_policies_gets_the_default() -> None:
    stored = {"name": "bot", "runtime": "process", "strategies": [{"id": "s1", "strategy": "market_maker"}],
              "trading_pairs": ["BTC-USDT"], "balances": None, "start": True}
    assert InstanceCreate.model_validate(stored).restart_policy == ON_FAILURE


def test_policy_never_leaves_the_instance_in_error_with_the_exit_as_reason() -> None:
    decision = decide_restart(RestartPolicy(policy="never"), 0, 100.0, 200.0, KILLED)
    assert (decision.action, decision.at, decision.reason) == (Action.NONE, None, KILLED)


def test_with_retries_left_the_restart_comes_after_the_back_off() -> None:
    later = decide_restart(ON_FAILURE, 0, 100.0, 100.0, KILLED)
    assert (later.action, later.at) == (Action.LATER, 102.0)
    assert later.reason == f"{KILLED}; restart 1 of 3 in 2 s"
    assert decide_restart(ON_FAILURE, 0, 100.0, 101.9, KILLED).action == Action.LATER
    assert decide_restart(ON_FAILURE, 0, 100.0, 102.0, KILLED).action == Action.NOW


def test_the_back_off_doubles_per_restart_and_is_capped() -> None:
    assert [backoff(ON_FAILURE, n) for n in range(7)] == [2, 4, 8, 16, 32, 60, 60]
    assert decide_restart(ON_FAILURE, 2, 100.0, 100.0, KILLED).at == 108.0
    assert backoff(RestartPolicy(max_retries=100, backoff_s=1, max_backoff_s=5), 99) == 5


def test_at_the_limit_it_gives_up_saying_how_it_ended() -> None:
    decision = decide_restart(ON_FAILURE, 3, 100.0, 500.0, KILLED)
    assert (decision.action, decision.at) == (Action.GIVE_UP, None)
    assert decision.reason == f"{KILLED}; gave up after 3 restarts"
    assert decide_restart(RestartPolicy(max_retries=0), 0, 1.0, 1.0, KILLED).reason == \
        f"{KILLED}; gave up (restarts: 0 allowed)"
    assert with_log_lines("gave up", ["a", "b"]) == "gave up; last log lines: a | b"
    assert with_log_lines("gave up", []) == "gave up"


def test_an_instance_the_operator_was_stopping_is_never_restarted() -> None:
    decision = decide_restart(ON_FAILURE, 0, 100.0, 500.0, KILLED, operator_stopped=True)
    assert (decision.action, decision.at, decision.reason) == (Action.NONE, None, KILLED)


def test_the_count_starts_again_after_a_healthy_minute_running() -> None:
    assert restarts_after(2, State.RUNNING, 100.0, 100.0 + HEALTHY_AFTER - 1) == 2
    assert restarts_after(2, State.RUNNING, 100.0, 100.0 + HEALTHY_AFTER) == 0
    assert restarts_after(2, State.STARTING, 100.0, 1000.0) == 2
    assert restarts_after(2, State.ERROR, 100.0, 1000.0) == 2


def test_the_restart_says_which_one_and_why() -> None:
    assert restart_words(1, ON_FAILURE, -9) == "restart 1 of 3 after the process was killed by SIGKILL"
    assert restart_words(2, ON_FAILURE, 1) == "restart 2 of 3 after the process exited with code 1"
    assert restart_words(3, ON_FAILURE, None) == "restart 3 of 3 after the process exited (exit code unknown)"


@pytest.mark.parametrize(("policy", "words"), [
    ({"policy": "always"}, "'never' or 'on_failure'"),
    ({"max_retries": -1}, "greater than or equal to 0"),
    ({"backoff_s": 0}, "greater than 0"),
    ({"backoff_s": 10, "max_backoff_s": 5}, "max_backoff_s (5 s) must not be shorter than backoff_s (10 s)"),
    ({"retries": 3}, "Extra inputs are not permitted"),
])
def test_a_policy_that_makes_no_sense_is_refused_saying_why(policy: dict, words: str) -> None:
    with pytest.raises(ValidationError) as raised:
        RestartPolicy.model_validate(policy)
    assert words in str(raised.value)


# --- the service applying it (scripted runtime, injected times) --------------------------------------
class CrashingRuntime(ScriptedRuntime):
    """Counts its starts, and has a log to quote."""

    def __init__(self) -> None:
        super().__init__()
        self.starts = 0

    def start(self, name, instance_dir, config_path, spec=None) -> dict:
        self.starts += 1
        self.alive, self.exit_code, self.detail = True, None, ""
        return {"pid": 4242 + self.starts, "config_path": str(config_path)}

    def last_lines(self, handle, count: int) -> list[str]:
        return ["loading", "tick 41"][-count:]


@pytest.fixture
def crashing(world):  # noqa: F811  (the fixture imported above)
    service, fleet, _runtime = world
    runtime = CrashingRuntime()
    service.runtimes["process"] = runtime
    with service.store.session() as session:
        row = service._row(session, "bot")
        row.spec = {**row.spec, "create": {**row.spec["create"], "restart_policy": {"max_retries": 2}}}
    return service, fleet, runtime


def running_at(service: InstanceService, fleet, at: float) -> None:
    hear(fleet, "hb", at)
    assert service.evaluate("bot", now=at) == State.RUNNING


def started_running_then_killed(service: InstanceService, fleet, runtime) -> float:
    """Start the bot, hear it run at t0 + 1, then its process is killed; returns t0."""
    service.start("bot")
    t0 = time.time()
    running_at(service, fleet, t0 + 1)
    runtime.exit(-9, "killed by SIGKILL")
    return t0


def stored(service: InstanceService) -> tuple[str, str, int, float | None]:
    with service.store.session() as session:
        row = service._row(session, "bot")
        return row.state, row.reason, row.restarts, row.next_restart_at


def test_the_service_restarts_after_the_back_off_then_gives_up_with_the_log(crashing) -> None:
    service, fleet, runtime = crashing
    assert service.start("bot").restarts == 0
    t0 = time.time()
    running_at(service, fleet, t0 + 1)
    runtime.exit(-9, "killed by SIGKILL: tick 41")
    assert service.evaluate("bot", now=t0 + 2) == State.ERROR
    assert stored(service) == ("error", "killed by SIGKILL: tick 41; restart 1 of 2 in 2 s", 0, t0 + 4)
    assert service.evaluate("bot", now=t0 + 3.9) == State.ERROR and runtime.starts == 1
    assert service.evaluate("bot", now=t0 + 4) == State.STARTING and runtime.starts == 2
    state, reason, restarts, pending = stored(service)
    assert (state, restarts, pending) == ("starting", 1, None)
    assert reason == "restart 1 of 2 after the process was killed by SIGKILL; process started (pid 4244); " \
                     "waiting for its first heartbeat"

    running_at(service, fleet, t0 + 5)
    runtime.exit(1, "exited with code 1: boom")
    service.evaluate("bot", now=t0 + 6)
    assert stored(service)[1:] == ("exited with code 1: boom; restart 2 of 2 in 4 s", 1, t0 + 10)
    assert service.evaluate("bot", now=t0 + 10) == State.STARTING

    running_at(service, fleet, t0 + 11)
    runtime.exit(1, "exited with code 1: boom")
    assert service.evaluate("bot", now=t0 + 12) == State.ERROR
    assert stored(service) == ("error", "exited with code 1: boom; gave up after 2 restarts; "
                                        "last log lines: loading | tick 41", 2, None)
    assert service.evaluate("bot", now=t0 + 1000) == State.ERROR and runtime.starts == 3
    out = service.queries.get("bot")
    assert (out.restarts, out.next_restart_at, out.restart_policy.max_retries) == (2, None, 2)


def test_the_operators_start_and_a_healthy_minute_reset_the_count(crashing) -> None:
    service, fleet, runtime = crashing
    t0 = started_running_then_killed(service, fleet, runtime)
    service.evaluate("bot", now=t0 + 2)
    service.evaluate("bot", now=t0 + 4)
    hear(fleet, "hb", t0 + 5)
    assert service.evaluate("bot", now=t0 + 5) == State.RUNNING and stored(service)[2] == 1
    hear(fleet, "hb", t0 + 5 + HEALTHY_AFTER)
    service.evaluate("bot", now=t0 + 5 + HEALTHY_AFTER)
    assert stored(service)[2] == 0

    runtime.exit(-9, "killed by SIGKILL")
    service.evaluate("bot", now=t0 + 100)
    assert stored(service)[3] == t0 + 102
    assert service.start("bot").restarts == 0                  # the operator's start: a new count, nothing pending
    assert stored(service)[2:] == (0, None)


def test_a_pending_restart_is_called_off_by_the_operators_stop(crashing) -> None:
    service, fleet, runtime = crashing
    t0 = started_running_then_killed(service, fleet, runtime)
    service.evaluate("bot", now=t0 + 2)
    assert service.stop("bot", wait=0).state == "stopped"
    assert stored(service)[3] is None
    assert service.evaluate("bot", now=t0 + 100) == State.STOPPED and runtime.starts == 1


def test_a_process_that_ends_while_the_operator_stops_it_is_not_restarted(crashing) -> None:
    service, fleet, runtime = crashing
    service.start("bot")
    t0 = time.time()
    running_at(service, fleet, t0 + 1)
    service.stop("bot", wait=0)
    runtime.exit(-9, "killed by SIGKILL")
    assert service.evaluate("bot", now=t0 + 20) == State.STOPPED
    assert service.evaluate("bot", now=t0 + 100) == State.STOPPED and runtime.starts == 1
    assert stored(service)[2:] == (0, None)
