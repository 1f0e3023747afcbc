"""How an instance's state is derived from its process, its MQTT messages and the broker, rule by rule.

The runtime is a scripted stand-in and messages are fed to the real Fleet directly, with chosen
receive times, so each rule is checked without waiting for real clocks.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from backend.credentials.key import KEY_FILE, KeyLocation
from backend.credentials.service import CredentialService
from backend.domain.instances import InstanceCreate
from backend.orchestrator.fleet import BotView, Fleet
from backend.orchestrator.instances import InstanceService
from backend.orchestrator.lifecycle import State, record_creation
from backend.orchestrator.state import external_state, is_late, late_by, reason_now
from backend.runtimes.base import ProcessState, Resources
from backend.sandbox.choice import SandboxChoice
from backend.store import InstanceRow, Store
from backend.strategies.library import StrategyLibrary
from tests.backend.conftest import make_settings


class ScriptedRuntime:
    name = "process"

    def __init__(self) -> None:
        self.alive = True
        self.exit_code: int | None = None
        self.detail = ""
        self.signals: list[str] = []
        self.adoptable = True

    def check(self, spec):
        return spec

    def instance_root(self, folder):
        return folder

    def broker_address(self, spec, default):
        return default

    def start(self, name, instance_dir, config_path, spec=None) -> dict:
        return {"pid": 4242, "config_path": str(config_path)}

    def remove(self, handle) -> None:
        pass

    def strays(self, known) -> list[str]:
        return []

    def close(self) -> None:
        pass

    def adopt(self, handle) -> bool:
        return self.adoptable and self.alive

    def poll(self, handle) -> ProcessState:
        return ProcessState(self.alive, self.exit_code, self.detail)

    def terminate(self, handle) -> None:
        self.signals.append("TERM")

    def kill(self, handle) -> None:
        self.signals.append("KILL")

    def resources(self, handle) -> Resources:
        return Resources(2.5, 1234)

    def pid(self, handle):
        return handle.get("pid")

    def exit(self, code: int, detail: str) -> None:
        self.alive, self.exit_code, self.detail = False, code, detail


class RunningBroker:
    def is_running(self) -> bool:
        return True

    def address(self) -> tuple[str, int]:
        return "127.0.0.1", 1883

    def instance_login(self, name: str) -> tuple[str, str]:
        return f"hive-instance-{name}", "its-password"

    def forget_instance(self, name: str) -> None:
        pass


def broker_lost(fleet: Fleet, at: float) -> None:
    """The fleet's connections to the broker went down at `at`, as their network threads would note it."""
    for link in (fleet.connection.telemetry, fleet.connection.control):
        link._connected.clear()
        link.disconnected_since = at


def broker_back(fleet: Fleet, at: float | None) -> None:
    """The fleet's connections are up again, since `at`."""
    for link in (fleet.connection.telemetry, fleet.connection.control):
        link._connected.set()
        link.disconnected_since, link.connected_since = None, at


@pytest.fixture
def world(tmp_path: Path):
    settings = make_settings(tmp_path, heartbeat_timeout=30.0, start_timeout=60.0, stop_grace=10.0)
    store = Store(settings.database())
    fleet = Fleet()
    broker_back(fleet, None)  # a connected fleet; the broker-down tests take it down
    runtime = ScriptedRuntime()
    service = InstanceService(settings, store, fleet, RunningBroker(), {"process": runtime},
                              StrategyLibrary(store, settings.core_argv(), SandboxChoice(settings, None)),
                              CredentialService(store, KeyLocation(tmp_path / KEY_FILE)))
    fleet.listening_since = 0.0
    with store.session() as session:
        spec = InstanceCreate(name="bot", strategies=[{"id": "s1", "strategy": "market_maker"}], start=False,
                              restart_policy={"policy": "never"})  # restarts: test_restart_policy.py
        row = InstanceRow(name="bot", runtime="process", spec={"create": spec.model_dump(mode="json"), "versions": {}},
                          config_path="", state="created", state_since=0.0, created_at=0.0)
        session.add(row)
        record_creation(session, row, "created by operator")
    yield service, fleet, runtime
    store.close()


def started(service: InstanceService) -> float:
    assert service.start("bot").state == "starting"
    with service.store.session() as session:
        return service._row(session, "bot").started_at


def hear(fleet: Fleet, kind: str, at: float, msg: str | None = None) -> None:
    availability = {"timestamp": int(at * 1000), "type": "availability", "msg": msg}
    payload = {"ts": int(at * 1e6)} if kind == "hb" else availability
    fleet.handle(f"hbot/bot/{kind}", json.dumps(payload).encode(), at)


def state_of(service: InstanceService) -> tuple[str, str]:
    with service.store.session() as session:
        row = service._row(session, "bot")
        return row.state, row.reason


def test_starting_becomes_running_on_online_but_not_on_a_heartbeat_from_before_the_start(world) -> None:
    service, fleet, _runtime = world
    hear(fleet, "hb", time.time() - 100)  # the previous run's last heartbeat
    t0 = started(service)
    assert service.evaluate("bot", now=t0 + 1) == State.STARTING
    hear(fleet, "status_updates", t0 + 2, "online")
    assert service.evaluate("bot", now=t0 + 2.5) == State.RUNNING


def test_starting_process_exit_is_an_error_with_the_exit_in_words(world) -> None:
    service, _fleet, runtime = world
    t0 = started(service)
    runtime.exit(2, "exited with code 2: config error: strategies.0.params.x: bad")
    assert service.evaluate("bot", now=t0 + 1) == State.ERROR
    assert state_of(service)[1] == "exited with code 2: config error: strategies.0.params.x: bad"


def test_starting_without_heartbeat_times_out(world) -> None:
    service, _fleet, _runtime = world
    t0 = started(service)
    assert service.evaluate("bot", now=t0 + 59) == State.STARTING
    assert service.evaluate("bot", now=t0 + 61) == State.ERROR
    assert state_of(service)[1] == "no heartbeat within 60 s of start"


def test_running_silence_is_an_error_and_heartbeats_again_bring_it_back(world) -> None:
    service, fleet, _runtime = world
    t0 = started(service)
    hear(fleet, "hb", t0 + 1)
    assert service.evaluate("bot", now=t0 + 1.5) == State.RUNNING
    assert service.evaluate("bot", now=t0 + 30) == State.RUNNING
    assert service.evaluate("bot", now=t0 + 35) == State.ERROR
    assert state_of(service)[1] == "no heartbeat for 34 s"
    hear(fleet, "hb", t0 + 40)
    assert service.evaluate("bot", now=t0 + 40.5) == State.RUNNING
    assert service.queries.history("bot")[0].reason.startswith("heartbeats again")


def test_offline_with_a_living_process_is_a_lost_connection(world) -> None:
    service, fleet, _runtime = world
    t0 = started(service)
    hear(fleet, "hb", t0 + 1)
    service.evaluate("bot", now=t0 + 1)
    hear(fleet, "status_updates", t0 + 5, "offline")
    assert service.evaluate("bot", now=t0 + 5.5) == State.RUNNING  # the process may be exiting: wait a moment
    assert service.evaluate("bot", now=t0 + 7) == State.ERROR
    assert state_of(service)[1] == "went offline (connection lost, last will)"


def test_offline_because_the_process_died_is_reported_as_its_exit(world) -> None:
    service, fleet, runtime = world
    t0 = started(service)
    hear(fleet, "hb", t0 + 1)
    service.evaluate("bot", now=t0 + 1)
    hear(fleet, "status_updates", t0 + 5, "offline")
    runtime.exit(-9, "killed by SIGKILL")
    assert service.evaluate("bot", now=t0 + 5.2) == State.ERROR
    assert state_of(service)[1] == "killed by SIGKILL"


def test_error_from_silence_takes_the_exit_reason_when_the_process_ends_later(world) -> None:
    service, fleet, runtime = world
    t0 = started(service)
    hear(fleet, "hb", t0 + 1)
    service.evaluate("bot", now=t0 + 1)
    service.evaluate("bot", now=t0 + 40)
    runtime.exit(1, "exited with code 1: MemoryError")
    assert service.evaluate("bot", now=t0 + 41) == State.ERROR
    assert state_of(service)[1] == "exited with code 1: MemoryError"


def test_broker_down_keeps_a_live_running_instance_running_saying_the_broker_is_unreachable(world) -> None:
    service, fleet, runtime = world
    t0 = started(service)
    hear(fleet, "hb", t0 + 1)
    service.evaluate("bot", now=t0 + 1)
    broker_lost(fleet, t0 + 2)
    assert service.evaluate("bot", now=t0 + 3) == State.RUNNING  # a short reconnect is not an outage
    assert service.evaluate("bot", now=t0 + 4.5) == State.RUNNING
    assert state_of(service)[1].startswith("broker unreachable; process alive")
    assert service.evaluate("bot", now=t0 + 100) == State.RUNNING  # far beyond the heartbeat timeout: still running
    assert service.queries.get("bot").reason.startswith("broker unreachable; process alive")

    broker_back(fleet, t0 + 101)  # the silence counts from the reconnection
    assert service.evaluate("bot", now=t0 + 102) == State.RUNNING
    assert not state_of(service)[1].startswith("broker unreachable")
    assert service.evaluate("bot", now=t0 + 125) == State.RUNNING
    hear(fleet, "hb", t0 + 126)
    assert service.evaluate("bot", now=t0 + 126) == State.RUNNING
    assert state_of(service)[1].startswith("heartbeat received")
    assert service.evaluate("bot", now=t0 + 157) == State.ERROR  # then silence is the bot's own again


def test_broker_down_does_not_hide_a_crash(world) -> None:
    service, fleet, runtime = world
    t0 = started(service)
    hear(fleet, "hb", t0 + 1)
    service.evaluate("bot", now=t0 + 1)
    broker_lost(fleet, t0 + 2)
    assert service.evaluate("bot", now=t0 + 5) == State.RUNNING
    runtime.exit(-9, "killed by SIGKILL")
    assert service.evaluate("bot", now=t0 + 6) == State.ERROR
    assert state_of(service)[1] == "killed by SIGKILL"


def test_stop_that_is_ignored_ends_with_sigkill_after_the_grace_period(world) -> None:
    service, fleet, runtime = world
    t0 = started(service)
    hear(fleet, "hb", t0 + 1)
    service.evaluate("bot", now=t0 + 1)
    assert service.stop("bot", wait=0).state == "stopping" and runtime.signals == ["TERM"]
    with service.store.session() as session:
        asked = service._row(session, "bot").stop_requested_at
    assert service.evaluate("bot", now=asked + 5) == State.STOPPING and runtime.signals == ["TERM"]
    service.evaluate("bot", now=asked + 11)
    assert runtime.signals == ["TERM", "KILL"]
    runtime.exit(-9, "killed by SIGKILL")
    assert service.evaluate("bot", now=asked + 12) == State.STOPPED
    assert state_of(service)[1] == "stopped by operator (killed after 10 s without stopping)"


def test_backend_restart_records_what_happened_while_it_was_down(world) -> None:
    service, fleet, runtime = world
    t0 = started(service)
    hear(fleet, "hb", t0 + 1)
    service.evaluate("bot", now=t0 + 1)
    runtime.exit(1, "exited with code 1: boom")
    service.adopt_all()
    state, reason = state_of(service)
    assert state == "error" and reason == "exited with code 1: boom (while the backend was down)"


def test_adopted_instance_is_given_a_heartbeat_timeout_from_the_backend_start(world) -> None:
    service, _fleet, _runtime = world
    t0 = started(service)
    with service.store.session() as session:
        row = service._row(session, "bot")
        row.state = "running"  # as a previous backend left it
    service.fleet.listening_since = t0 + 100  # this backend started much later and has heard nothing yet
    service.adopt_all()
    assert service.evaluate("bot", now=t0 + 120) == State.RUNNING
    assert service.evaluate("bot", now=t0 + 131) == State.ERROR


# --- late heartbeats and clients that left the broker ----------------------------------------------------------------
def test_running_silent_past_two_heartbeat_intervals_is_late_in_words_only_no_transition_no_alert(world) -> None:
    service, fleet, _runtime = world
    t0 = started(service)
    hear(fleet, "hb", t0 + 1)
    assert service.evaluate("bot", now=t0 + 1.5) == State.RUNNING
    late_after = service.settings.late_after()
    assert late_after == 2 * service.settings.heartbeat_interval  # the rule when HIVE_HEARTBEAT_LATE_AFTER is unset
    now = t0 + 1 + late_after + 0.5
    assert service.evaluate("bot", now=now) == State.RUNNING
    assert [change.to_state for change in service.queries.history("bot")] == ["running", "starting", "created"]
    assert service.alerts.newest(10) == []
    view = fleet.bot("bot")
    assert reason_now(State.RUNNING, "", t0, view, now, 0.0, late_after) == \
        f"late: no heartbeat for {late_after + 0.5:.0f} s"
    assert reason_now(State.RUNNING, "", t0, view, t0 + 1 + late_after, 0.0, late_after).startswith("heartbeat")


def test_late_counts_from_the_later_of_the_last_sign_of_life_and_since_listening() -> None:
    assert late_by(100.0, 0.0, 121.0, 20.0) == 21.0
    assert late_by(100.0, 0.0, 120.0, 20.0) is None  # exactly two intervals: the heartbeat may be on its way
    assert late_by(100.0, 110.0, 125.0, 20.0) is None  # the fleet reconnected at 110: silence counts from then
    assert late_by(None, 110.0, 131.0, 20.0) == 21.0
    assert is_late(State.RUNNING, "late: no heartbeat for 21 s")
    assert is_late(State.RUNNING, "external bot; late: no heartbeat for 21 s")
    assert not is_late(State.ERROR, "late: no heartbeat for 21 s")
    assert not is_late(State.RUNNING, "heartbeat received 1 s ago")


def test_a_running_bot_whose_client_left_is_an_error_after_the_grace_and_runs_again_when_it_speaks(world) -> None:
    service, fleet, _runtime = world
    t0 = started(service)
    hear(fleet, "hb", t0 + 1)
    service.evaluate("bot", now=t0 + 1)
    fleet.disconnected("bot", t0 + 5)  # the broker's log: its client left, no Will came (a clean DISCONNECT)
    assert service.evaluate("bot", now=t0 + 5.5) == State.RUNNING  # the process may be exiting: wait a moment
    assert service.evaluate("bot", now=t0 + 7) == State.ERROR
    assert state_of(service)[1] == "disconnected from the broker (its log says so), process alive"
    assert [alert.kind for alert in service.alerts.newest(10)] == ["error"]  # the existing error alert
    hear(fleet, "status_updates", t0 + 9, "online")  # it reconnected
    assert service.evaluate("bot", now=t0 + 9.5) == State.RUNNING
    assert state_of(service)[1].startswith("heartbeats again")


def test_a_departure_before_the_last_sign_of_life_or_of_an_unknown_bot_changes_nothing(world) -> None:
    service, fleet, _runtime = world
    t0 = started(service)
    hear(fleet, "hb", t0 + 5)
    fleet.disconnected("bot", t0 + 4)  # it left and came back (a reconnect) before its last heartbeat
    fleet.disconnected("stranger", t0 + 4)
    assert fleet.bot("stranger") is None  # a departure does not make a bot known
    assert service.evaluate("bot", now=t0 + 8) == State.RUNNING


def test_an_external_bot_is_late_then_in_error_and_stopped_once_its_client_left() -> None:
    def state(view: BotView, now: float) -> tuple[State, str]:
        return external_state(view, now, False, "the broker at 127.0.0.1:1883", 30.0, 20.0, 0.0)

    view = BotView(last_heartbeat=100.0, last_seen=100.0, first_seen=50.0)
    assert state(view, 110.0) == (State.RUNNING, "external bot; heartbeat received 10 s ago")
    assert state(view, 123.0) == (State.RUNNING, "external bot; late: no heartbeat for 23 s")
    assert state(view, 131.0) == (State.ERROR, "external bot; no heartbeat for 31 s")
    left = BotView(last_heartbeat=100.0, last_seen=100.0, first_seen=50.0, last_disconnect=104.0)
    assert state(left, 106.0) == (State.STOPPED, "external bot; disconnected from the broker 2 s ago (its log)")
    willed = BotView(last_heartbeat=100.0, last_offline=104.0, last_disconnect=104.0)
    assert state(willed, 106.0)[1] == "external bot; went offline 2 s ago"  # the Will says more than the log
    back = BotView(last_heartbeat=105.0, last_seen=105.0, last_disconnect=104.0)
    assert state(back, 106.0)[0] == State.RUNNING


def test_departures_of_a_broker_that_stopped_are_no_bots_fault(world) -> None:
    """A broker that stops drops every client: departures heard while the fleet's connection is down, or logged
    before its reconnection, count for nothing."""
    service, fleet, _runtime = world
    t0 = started(service)
    hear(fleet, "hb", t0 + 1)
    service.evaluate("bot", now=t0 + 1)
    fleet.disconnected("bot", t0 + 5)  # logged as the broker stopped, taken before the fleet noticed
    fleet.listening_since = t0 + 6  # the fleet connected again (silence_counts_from)
    assert service.evaluate("bot", now=t0 + 8) == State.RUNNING
    broker_lost(fleet, t0 + 9)
    fleet.disconnected("bot", t0 + 9)
    assert fleet.bot("bot").last_disconnect == t0 + 5
