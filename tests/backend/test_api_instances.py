"""Instances over HTTP against a scripted bot (tests/backend/fake_core.py) on the real embedded broker.

The state comes from what arrives over MQTT: these tests watch created -> starting -> running as the
bot's heartbeats arrive, and every way out of running, each with its reason.
"""
from __future__ import annotations

import os
import signal

import psutil
import pytest
import yaml

from backend.client import BackendError
from hive_core.config import StrategyQuota
from tests.polling import wait_until

MM = {"id": "mm1", "strategy": "market_maker"}
NEVER = {"policy": "never"}  # for the tests of a crash's error: no supervisor restart (see test_self_healing.py)


def spec(name: str = "bot1", *strategies: dict, **extra) -> dict:
    return {"name": name, "strategies": list(strategies) or [MM], **extra}


def refused(call, *args) -> BackendError:
    with pytest.raises(BackendError) as raised:
        call(*args)
    return raised.value


def wait_state(client, name: str, state: str, timeout: float = 15.0) -> dict:
    def seen() -> str:
        instance = client.get_instance(name)
        return f"{name} {state} (last: {instance['state']}: {instance['reason']})"

    return wait_until(lambda: (i := client.get_instance(name))["state"] == state and i, timeout, message=seen)


# --- refusals: nothing half-created --------------------------------------------------------------
def test_create_without_broker_is_refused_with_a_hint(hive_backend, client) -> None:
    error = refused(client.create_instance, spec())
    assert (error.status, error.code) == (409, "broker_not_running")
    assert "Start the broker on the Broker page first" in error.message
    assert client.list_instances() == []
    assert not (hive_backend.services.settings.data_dir / "instances" / "bot1").exists()


@pytest.mark.usefixtures("running_broker")
def test_create_refusals_have_status_and_code_and_leave_nothing(hive_backend, client) -> None:
    cases = [
        (spec("bad name"), 422, "validation_error"),
        (spec("bot1", {"id": "a", "strategy": "nope"}), 422, "unknown_strategy"),
        (spec("bot1", MM, {"id": "mm1", "strategy": "momentum"}), 422, "duplicate_strategy_id"),
        (spec("bot1", {"id": "mm1", "strategy": "market_maker", "params": {"bad": 1}}), 422, "invalid_config"),
        (spec("bot1", {"id": "bad id!", "strategy": "market_maker"}), 422, "validation_error"),
        ({"name": "bot1", "strategies": []}, 422, "validation_error"),
        (spec("bot1", {"id": "mm1", "strategy": "market_maker", "trading_pair": "ETH-USDT"}), 422,
         "validation_error"),
        (spec("bot1", MM) | {"trading_pairs": ["x" * 100]}, 422, "validation_error"),
        (spec("bot1", MM) | {"trading_pairs": ["BTC-USDT", "BTC-USDT"]}, 422, "validation_error"),
        (spec("bot1", MM) | {"balances": {"USDT": -5.0}}, 422, "validation_error"),
        (spec("bot1", MM) | {"balances": {"usdt": 5.0}}, 422, "validation_error"),
    ]
    for body, status, code in cases:
        error = refused(client.create_instance, body)
        assert (error.status, error.code) == (status, code), (body, error.message)
    assert client.list_instances() == []
    assert not (hive_backend.services.settings.data_dir / "instances" / "bot1").exists()


@pytest.mark.usefixtures("running_broker")
def test_unknown_strategy_lists_the_available_ones_and_bad_params_name_the_field(client) -> None:
    error = refused(client.create_instance, spec("bot1", {"id": "a", "strategy": "nope"}))
    assert "nope" in error.message and "market_maker" in error.message and "momentum" in error.message
    error = refused(client.create_instance, spec("bot1", {"id": "a", "strategy": "market_maker", "params": {"bad": 1}}))
    assert "strategies.0.params.bad" in error.message and "/tmp" not in error.message


def test_invalid_name_is_explained_in_words_not_as_a_pattern(client) -> None:
    error = refused(client.create_instance, spec("bad name"))
    assert error.message == "name: must be 1-63 letters, digits, '_' or '-', starting with a letter or digit " \
                            "(got 'bad name')"
    assert "^[" not in error.message


@pytest.mark.usefixtures("running_broker")
def test_duplicate_name_is_refused_with_409(client) -> None:
    client.create_instance(spec(start=False))
    error = refused(client.create_instance, spec())
    assert (error.status, error.code) == (409, "duplicate_name")


def test_unknown_instance_is_404(client) -> None:
    for call in (client.get_instance, client.start_instance, client.instance_history, client.delete_instance):
        error = refused(call, "ghost")
        assert (error.status, error.code) == (404, "not_found")


# --- the instance folder -------------------------------------------------------------------------
@pytest.mark.usefixtures("running_broker")
def test_created_instance_has_its_config_and_strategy_sources(hive_backend, client) -> None:
    source = ("from hive_core.strategy import Strategy\n\n"
              "class Grid(Strategy):\n    def on_tick(self, now):\n        pass\n")
    client.upload_strategy("grid.py", source)
    out = client.create_instance(spec("bot1", {"id": "g1", "strategy": "grid", "params": {"x": 1}, "interval": 2},
                                      trading_pairs=["ETH-USDT"], balances={"USDT": 500.0}, start=False))
    assert out["state"] == "created" and out["strategies"][0]["version"] == 1
    folder = hive_backend.services.settings.data_dir / "instances" / "bot1"
    config = yaml.safe_load((folder / "config.yml").read_text())
    assert config["instance_id"] == "bot1"
    [entry] = config["strategies"]
    assert {key: entry[key] for key in ("id", "strategy", "params", "interval", "trading_pair")} == {
        "id": "g1", "strategy": "grid", "params": {"x": 1}, "interval": 2.0, "trading_pair": None}
    assert (entry["priority"], entry["quota"]) == (0, StrategyQuota().model_dump())
    assert config["venue"]["trading_pairs"] == ["ETH-USDT"] and config["paper"]["balances"] == {"USDT": 500.0}
    assert config["mqtt_bridge"]["mqtt_port"] == hive_backend.settings.broker_port
    assert config["mqtt_bridge"]["mqtt_heartbeat_interval"] == hive_backend.settings.heartbeat_interval
    assert config["strategy_dirs"] == [str(folder / "strategies")]
    assert (folder / "strategies" / "grid.py").read_text() == source
    assert [h["to_state"] for h in client.instance_history("bot1")] == ["created"]


# --- the lifecycle -------------------------------------------------------------------------------
@pytest.mark.usefixtures("running_broker")
def test_instance_goes_running_on_heartbeats_reports_pnl_trades_logs_then_stops(client) -> None:
    created = client.create_instance(spec("bot1", MM, {"id": "mo1", "strategy": "momentum"}))
    assert created["state"] == "starting" and created["pid"]
    running = wait_state(client, "bot1", "running")
    assert running["reason"].startswith(("heartbeat received", "came online"))
    wait_until(lambda: client.get_instance("bot1")["last_heartbeat_age_s"] is not None, 5)
    wait_until(lambda: len(client.instance_performance("bot1")) >= 4, 10, message="PnL points")
    points = client.instance_performance("bot1")
    assert [p["ts"] for p in points] == sorted(p["ts"] for p in points)
    assert {p["strategy"] for p in points} == {"mm1", "mo1"}
    assert client.instance_performance("bot1", since=points[-1]["ts"]) == []
    instance = client.get_instance("bot1")
    assert instance["pnl"]["total"] > 0 and instance["strategies"][0]["status"] == "running"
    assert instance["memory_bytes"] > 0
    trades = wait_until(lambda: client.instance_trades("bot1", limit=3), 10, message="trades")
    assert len(trades) == 3 and trades[0]["ts"] >= trades[-1]["ts"] and trades[0]["side"] in ("BUY", "SELL")
    wait_until(lambda: client.instance_logs("bot1", strategy="mo1"), 10, message="logs of mo1")
    assert {line["strategy"] for line in client.instance_logs("bot1", strategy="mo1")} == {"mo1"}
    loggers = {line["logger_name"] for line in client.instance_logs("bot1", limit=50)}
    assert loggers >= {"hive.runtime", "hive.strategy.mm1"}
    assert len(client.instance_logs("bot1", limit=2)) == 2

    stopped = client.stop_instance("bot1")
    assert stopped["state"] == "stopped" and stopped["reason"] == "stopped by operator" and stopped["pid"] is None
    assert not psutil.pid_exists(created["pid"]) or psutil.Process(created["pid"]).status() == psutil.STATUS_ZOMBIE
    history = client.instance_history("bot1")
    assert [(h["from_state"], h["to_state"]) for h in history] == [
        ("stopping", "stopped"), ("running", "stopping"), ("starting", "running"), ("created", "starting"),
        (None, "created")]
    assert history[0]["ts"] >= history[-1]["ts"]


@pytest.mark.usefixtures("running_broker")
@pytest.mark.fault
def test_crashing_bot_goes_to_error_with_exit_code_and_last_line(client) -> None:
    client.create_instance(spec("bot1", {**MM, "params": {"fake_exit_after": 1.0}}, restart_policy=NEVER))
    failed = wait_state(client, "bot1", "error")
    assert failed["reason"] == "exited with code 1: RuntimeError: fake crash"
    assert failed["pid"] is None
    assert client.instance_history("bot1")[0]["reason"] == failed["reason"]


@pytest.mark.usefixtures("running_broker")
@pytest.mark.fault
def test_sigkilled_bot_goes_to_error_saying_so(client) -> None:
    running = (client.create_instance(spec(restart_policy=NEVER)), wait_state(client, "bot1", "running"))[1]
    os.kill(running["pid"], signal.SIGKILL)
    failed = wait_state(client, "bot1", "error")
    assert failed["reason"].startswith("killed by SIGKILL")


@pytest.mark.usefixtures("running_broker")
@pytest.mark.slow
def test_silent_bot_is_in_error_after_the_start_timeout(client) -> None:
    client.create_instance(spec("bot1", {**MM, "params": {"fake_silent": True}}))
    failed = wait_state(client, "bot1", "error", timeout=20)
    assert failed["reason"] == "no heartbeat within 8 s of start"
    assert failed["pid"]  # the process lives on; the operator decides
    error = refused(client.delete_instance, "bot1")
    assert (error.status, error.code) == (409, "instance_running")
    assert client.stop_instance("bot1")["state"] == "stopped"


@pytest.mark.usefixtures("running_broker")
def test_delete_of_a_running_instance_is_refused_and_of_a_stopped_one_removes_everything(hive_backend, client) -> None:
    client.create_instance(spec())
    wait_state(client, "bot1", "running")
    error = refused(client.delete_instance, "bot1")
    assert (error.status, error.code) == (409, "instance_running") and "stop it first" in error.message
    client.stop_instance("bot1")
    assert client.delete_instance("bot1") is None
    assert client.list_instances() == []
    assert not (hive_backend.services.settings.data_dir / "instances" / "bot1").exists()
    assert refused(client.instance_logs, "bot1").status == 404
    client.create_instance(spec(start=False))  # the name is free again
    assert client.instance_history("bot1")[0]["to_state"] == "created"


@pytest.mark.usefixtures("running_broker")
def test_start_of_a_running_instance_is_refused_and_restart_starts_a_new_process(client) -> None:
    first = (client.create_instance(spec()), wait_state(client, "bot1", "running"))[1]
    error = refused(client.start_instance, "bot1")
    assert (error.status, error.code) == (409, "invalid_transition")
    restarted = client.restart_instance("bot1")
    assert restarted["state"] == "starting" and restarted["pid"] != first["pid"]
    wait_state(client, "bot1", "running")
    transitions = [h["to_state"] for h in client.instance_history("bot1")]
    assert transitions[:4] == ["running", "starting", "stopped", "stopping"]


@pytest.mark.usefixtures("running_broker")
def test_created_instance_starts_on_request_and_stop_of_created_changes_nothing(client) -> None:
    assert client.create_instance(spec(start=False))["state"] == "created"
    assert client.stop_instance("bot1")["state"] == "created"
    assert client.start_instance("bot1")["state"] == "starting"
    wait_state(client, "bot1", "running")


@pytest.mark.fault
def test_broker_down_keeps_live_bots_running_as_unreachable_and_they_resume(client, running_broker) -> None:
    client.create_instance(spec())
    wait_state(client, "bot1", "running")
    client.stop_broker()
    unreachable = wait_until(lambda: (i := client.get_instance("bot1"))["reason"].startswith(
        "broker unreachable; process alive") and i, 15)
    assert unreachable["state"] == "running" and psutil.pid_exists(unreachable["pid"])
    assert "error" not in [h["to_state"] for h in client.instance_history("bot1")]
    client.start_broker(running_broker["port"])
    wait_until(lambda: client.get_instance("bot1")["reason"].startswith(("heartbeat received", "came online")), 30)
    assert client.get_instance("bot1")["state"] == "running"
    assert "error" not in [h["to_state"] for h in client.instance_history("bot1")]


@pytest.mark.fault
def test_backend_restart_finds_the_running_instance_again(backend_factory, hive_backend, client,
                                                           running_broker) -> None:
    first = (client.create_instance(spec(restart_policy=NEVER)), wait_state(client, "bot1", "running"))[1]
    hive_backend.stop()
    assert psutil.pid_exists(first["pid"])  # detached: the backend's shutdown leaves it running
    second = backend_factory(hive_backend.settings)
    found = second.client.get_instance("bot1")
    assert found["state"] == "running" and found["pid"] == first["pid"]
    wait_until(lambda: second.client.get_instance("bot1")["reason"].startswith("heartbeat received"), 10)
    os.kill(first["pid"], signal.SIGKILL)  # the new backend sees the exit of a process it did not start
    failed = wait_state(second.client, "bot1", "error")
    assert failed["reason"].startswith("killed by SIGKILL")


@pytest.mark.fault
def test_instance_that_exited_while_the_backend_was_down_is_in_error_after_restart(backend_factory, hive_backend,
                                                                                    client, running_broker) -> None:
    first = (client.create_instance(spec(restart_policy=NEVER)), wait_state(client, "bot1", "running"))[1]
    hive_backend.stop()
    os.kill(first["pid"], signal.SIGKILL)
    # The whole run has ended, launcher included, before the backend comes back.
    exit_file = hive_backend.settings.data_dir / "instances" / "bot1" / "exit_code"
    wait_until(exit_file.exists, 10)
    second = backend_factory(hive_backend.settings)
    failed = wait_state(second.client, "bot1", "error", timeout=10)
    assert failed["reason"].startswith("killed by SIGKILL") and "while the backend was down" in failed["reason"]
