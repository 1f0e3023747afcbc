"""The broker over HTTP: start, status with $SYS statistics, stop, port in use, external broker."""
from __future__ import annotations

import os
import socket

import psutil
import pytest

from backend.client import BackendError
from tests.polling import wait_until


def test_broker_is_stopped_until_started(client) -> None:
    status = client.broker_status()
    assert (status["kind"], status["state"], status["fleet_connected"]) == ("embedded", "stopped", False)


def test_start_runs_a_detached_embedded_broker_with_health_and_statistics(hive_backend, client) -> None:
    status = client.start_broker()
    assert status["state"] == "running" and status["port"] == hive_backend.settings.broker_port
    assert status["fleet_connected"] is True
    process = psutil.Process(status["pid"])
    assert "backend.broker.amqtt_server" in process.cmdline()
    assert os.getsid(process.pid) == process.pid  # detached: a session of its own, outlives the backend
    status = wait_until(lambda: (s := client.broker_status())["clients_connected"] and s, 10, message="$SYS stats")
    assert status["clients_connected"] >= 1 and status["messages_received"] is not None
    assert status["memory_bytes"] > 0 and status["uptime_s"] > 0
    status = wait_until(lambda: (s := client.broker_status())["messages_per_s"] is not None and s, 10)
    assert status["messages_per_s"] >= 0


def test_start_is_idempotent_while_running(client, running_broker) -> None:
    again = client.start_broker()
    assert again["pid"] == running_broker["pid"] and again["state"] == "running"


def test_stop_ends_the_broker_process(client, running_broker) -> None:
    status = client.stop_broker()
    assert status["state"] == "stopped" and status["reason"] == "stopped by operator"
    wait_until(lambda: not psutil.pid_exists(running_broker["pid"])
               or psutil.Process(running_broker["pid"]).status() == psutil.STATUS_ZOMBIE, 10)
    assert client.broker_status()["fleet_connected"] is False


def test_port_in_use_gets_409_naming_the_port_and_the_setting(client) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        with pytest.raises(BackendError) as raised:
            client.start_broker(port)
    error = raised.value
    assert (error.status, error.code) == (409, "port_in_use")
    assert str(port) in error.message and "HIVE_BROKER_PORT" in error.message and "external" in error.message
    assert client.broker_status()["state"] == "stopped"


def test_an_already_running_broker_can_be_used_as_external(client, mqtt_broker) -> None:
    with pytest.raises(BackendError) as raised:
        client.start_broker(mqtt_broker.port)
    assert raised.value.code == "port_in_use"
    status = client.use_external_broker(mqtt_broker.host, mqtt_broker.port, *mqtt_broker.credentials)
    assert (status["kind"], status["state"], status["fleet_connected"]) == ("external", "running", True)
    assert status["pid"] is None
    wait_until(lambda: client.broker_status()["clients_connected"], 10, message="$SYS stats from the external broker")
    assert client.stop_broker()["state"] == "stopped"
    assert mqtt_broker.process.poll() is None  # an external broker is never stopped by us


def test_unreachable_external_broker_is_refused(client) -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    with pytest.raises(BackendError) as raised:
        client.use_external_broker("127.0.0.1", port)
    assert (raised.value.status, raised.value.code) == (409, "broker_unreachable")


def test_external_broker_is_refused_while_the_embedded_one_runs(client, running_broker, mqtt_broker) -> None:
    with pytest.raises(BackendError) as raised:
        client.use_external_broker(mqtt_broker.host, mqtt_broker.port, *mqtt_broker.credentials)
    assert raised.value.code == "broker_running"


@pytest.mark.fault
def test_backend_restart_re_adopts_the_running_broker(backend_factory, hive_backend, client, running_broker) -> None:
    hive_backend.stop()
    second = backend_factory(hive_backend.settings)
    status = second.client.broker_status()
    assert status["state"] == "running" and status["pid"] == running_broker["pid"]
    assert wait_until(lambda: second.client.broker_status()["fleet_connected"], 10)


@pytest.mark.fault
def test_backend_restart_after_the_broker_died_reports_it_stopped_with_reason(backend_factory, hive_backend, client,
                                                                              running_broker) -> None:
    hive_backend.stop()
    process = psutil.Process(running_broker["pid"])
    process.kill()
    process.wait(10)
    second = backend_factory(hive_backend.settings)
    status = second.client.broker_status()
    assert status["state"] == "stopped" and "no longer running" in status["reason"]
    assert second.client.start_broker()["state"] == "running"
