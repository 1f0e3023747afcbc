"""Remote control over the one fleet connection: discovery of any bot under the namespace, commands with
request/reply and timeouts, an external bot's logs, trades, PnL, notifications and market events stored and its state
taken from what it says (a bot speaking like Hummingbot), its error replies passed on as its own, and a 50-bot fleet
across a broker restart."""
from __future__ import annotations

import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from backend.client import BackendError
from tests.backend.conftest import PASSWORD, USERNAME
from tests.backend.sim_bots import HummingbotSim, SimBot
from tests.polling import wait_until


@pytest.fixture
def fleet_backend(hive_backend, mqtt_broker):
    """The backend connected to the test's own broker (which the test may stop and start)."""
    hive_backend.client.use_external_broker(mqtt_broker.host, mqtt_broker.port, *mqtt_broker.credentials)
    return hive_backend


def _external(client, name):
    return next((i for i in client.list_instances() if i["name"] == name), None)


def test_a_raw_bot_is_discovered_commanded_and_its_reply_matched(fleet_backend, mqtt_broker, mqtt_probe) -> None:
    client = fleet_backend.client
    bot = SimBot(mqtt_broker.host, mqtt_broker.port, "rawbot1", login=mqtt_broker.credentials)
    try:
        found = wait_until(lambda: _external(client, "rawbot1"), 10, message="raw bot listed")
        assert found["runtime"] == "external"
        wait_until(lambda: _external(client, "rawbot1")["state"] == "running", 10, message="running from heartbeats")
        assert "heartbeat" in _external(client, "rawbot1")["reason"]

        reply = client.command("rawbot1", "balance/paper", {"asset": "USDT", "amount": 1000}, strategy="mm1")
        assert reply["status"] == 200 and reply["bot"] == "rawbot1" and reply["command"] == "balance/paper"
        assert reply["echo"] == {"asset": "USDT", "amount": 1000, "strategy": "mm1"}

        request = mqtt_probe.wait_for("hbot/rawbot1/balance/paper")[0].json()
        header = request["header"]
        assert set(header) >= {"reply_to", "timestamp", "msg_id", "node_id", "agent"}
        assert header["reply_to"].endswith(header["msg_id"]) and isinstance(header["timestamp"], int)
        assert request["data"] == {"asset": "USDT", "amount": 1000, "strategy": "mm1"}
        assert client.command("rawbot1", "status")["command"] == "status"

        assert client.instance_logs("rawbot1") == [] and client.instance_history("rawbot1") == []
        with pytest.raises(BackendError) as caught:
            client.stop_instance("rawbot1")
        assert caught.value.status == 409 and caught.value.code == "external_instance"
    finally:
        bot.close()


def test_a_read_awaited_on_the_event_loop_is_called_off_at_once_when_the_backend_stops(fleet_backend,
                                                                                       mqtt_broker) -> None:
    """A status request waits on the server's event loop, not on a worker thread; stopping the backend calls it off
    from another thread (FleetConnection.abort_requests) instead of leaving it to its time limit."""
    client = fleet_backend.client
    bot = SimBot(mqtt_broker.host, mqtt_broker.port, "mutebot2", mute=True, login=mqtt_broker.credentials)
    connection = fleet_backend.services.fleet.connection
    try:
        wait_until(lambda: _external(client, "mutebot2"), 10, message="mute bot listed")
        with ThreadPoolExecutor(1) as pool:
            waiting = pool.submit(client.command, "mutebot2", "status", timeout=30.0)
            wait_until(lambda: len(connection._waiting) == 1, 10, message="the status request waiting for its reply")
            started = time.monotonic()
            connection.abort_requests()
            with pytest.raises(BackendError) as caught:
                waiting.result(timeout=10)
        assert time.monotonic() - started < 5
        assert caught.value.code == "backend_stopping" and "mutebot2" in caught.value.message
    finally:
        bot.close()


def test_a_silent_bot_times_out_with_504_naming_bot_command_and_time(fleet_backend, mqtt_broker) -> None:
    client = fleet_backend.client
    bot = SimBot(mqtt_broker.host, mqtt_broker.port, "mutebot", mute=True, login=mqtt_broker.credentials)
    try:
        wait_until(lambda: _external(client, "mutebot"), 10, message="mute bot listed")
        started = time.monotonic()
        with pytest.raises(BackendError) as caught:
            client.command("mutebot", "status", timeout=1.0)
        assert 0.9 < time.monotonic() - started < 5
        assert caught.value.status == 504 and caught.value.code == "command_timeout"
        assert "mutebot" in caught.value.message and "status" in caught.value.message and "1 s" in caught.value.message
    finally:
        bot.close()


def test_unknown_bot_and_unknown_command_are_404(fleet_backend) -> None:
    client = fleet_backend.client
    with pytest.raises(BackendError) as caught:
        client.command("nobody", "status")
    assert caught.value.status == 404
    with pytest.raises(BackendError) as caught:
        client.command("nobody", "selfdestruct")
    assert caught.value.status == 404


def test_notifications_and_market_events_are_stored_per_bot(fleet_backend, mqtt_broker, mqtt_probe) -> None:
    client = fleet_backend.client
    mqtt_probe.publish("hbot/noisy/notify", {"seq": 7, "timestamp": int(time.time() * 1000), "msg": "hello operator"})
    mqtt_probe.publish("hbot/noisy/events", {"timestamp": int(time.time()), "type": "OrderCancelled",
                                             "data": {"order_id": "o1"}})
    wait_until(lambda: client.instance_notifications("noisy"), 10, message="notification stored")
    assert client.instance_notifications("noisy")[0] | {"ts": 0} == {"ts": 0, "seq": 7, "msg": "hello operator"}
    events = wait_until(lambda: client.instance_events("noisy"), 10, message="market event stored")
    assert events[0]["type"] == "OrderCancelled" and events[0]["data"] == {"order_id": "o1"}


def test_a_hummingbots_logs_trades_pnl_and_errors_are_stored_and_served_like_an_instances(
        fleet_backend, mqtt_broker) -> None:
    client = fleet_backend.client
    bot = HummingbotSim(mqtt_broker.host, mqtt_broker.port, "hb-store", login=mqtt_broker.credentials)
    try:
        wait_until(lambda: (_external(client, "hb-store") or {}).get("state") == "running", 10, message="running")
        bot.log("INFO", "Creating BUY order for 0.5 ETH-USDT")
        bot.log("ERROR", "Order o2 failed: insufficient balance")
        bot.fill("o1", "BUY", 2000.0, 0.5)
        lines = wait_until(lambda: client.instance_logs("hb-store", query="insufficient"), 10, message="log stored")
        assert [(line["level_name"], line["msg"]) for line in lines] == [
            ("ERROR", "Order o2 failed: insufficient balance")]
        assert [line["msg"] for line in client.instance_logs("hb-store", min_level="INFO")] == [
            "Creating BUY order for 0.5 ETH-USDT", "Order o2 failed: insufficient balance"]
        [error] = client.fleet_errors(10, "hb-store")
        assert error["instance"] == "hb-store" and "insufficient balance" in error["msg"]

        [trade] = wait_until(lambda: client.instance_trades("hb-store"), 10, message="trade stored")
        assert (trade["order_id"], trade["side"], trade["price"], trade["amount"], trade["trading_pair"]) == (
            "o1", "BUY", 2000.0, 0.5, "ETH-USDT")
        assert trade["fee"] == pytest.approx(1.0) and trade["trade_id"] == "t-o1" and trade["run"] is None
        assert client.instance_trades_count("hb-store") == 1
        assert wait_until(lambda: _external(client, "hb-store")["trade_count"] == 1, 10, message="counted")

        def pnl_stored() -> list[dict]:
            bot.performance("pmm_eth", realized=3.0, unrealized=-1.0, volume=1000.0)
            return client.instance_performance("hb-store")
        point = wait_until(pnl_stored, 10, message="PnL point stored")[-1]
        assert (point["strategy"], point["realized"], point["unrealized"], point["total"], point["volume"]) == (
            "pmm_eth", 3.0, -1.0, 2.0, 1000.0)
        assert client.get_instance("hb-store")["pnl"]["total"] == 2.0
    finally:
        bot.close()


def test_a_hummingbots_state_follows_what_it_says_and_its_error_replies_reach_the_operator_as_its_own(
        fleet_backend, mqtt_broker) -> None:
    client = fleet_backend.client
    bot = HummingbotSim(mqtt_broker.host, mqtt_broker.port, "hb-state", login=mqtt_broker.credentials)
    try:
        wait_until(lambda: (found := _external(client, "hb-state") or {}).get("state") == "running"
                   and "heartbeat received" in found["reason"], 10, message="running, its heartbeats heard")
        assert client.command("hb-state", "stop") == {"status": 200, "msg": ""}
        stopped = wait_until(lambda: (found := _external(client, "hb-state"))["state"] == "stopped" and found, 10,
                             message="shown stopped")
        assert stopped["reason"].startswith("external bot; connected, strategy stopped (")
        assert "heartbeat received" in stopped["reason"]
        notes = wait_until(lambda: [n["msg"] for n in client.instance_notifications("hb-state")], 10,
                           message="notifications stored")
        assert "Hummingbot stopped." in notes
        assert "stop command initiated." in [line["msg"] for line in client.instance_logs("hb-state")]

        with pytest.raises(BackendError) as caught:
            client.command("hb-state", "status")
        assert caught.value.status == 409 and caught.value.code == "bot_refused"
        assert caught.value.message == "hb-state answered status with status 400: No strategy is currently running!"
        stopped_at = time.time()
        wait_until(lambda: time.time() - _external(client, "hb-state")["last_heartbeat_age_s"] > stopped_at + 0.5, 10,
                   message="heartbeats heard after the stop")
        assert _external(client, "hb-state")["state"] == "stopped"  # heartbeats alone do not make it run again

        assert client.command("hb-state", "start")["status"] == 200
        running = wait_until(lambda: (found := _external(client, "hb-state"))["state"] == "running" and found, 10,
                             message="shown running again")
        assert running["reason"].startswith("external bot; strategy running (")

        with pytest.raises(BackendError) as caught:
            client.command("hb-state", "config")
        assert caught.value.status == 409 and caught.value.code == "bot_refused"
        assert caught.value.message.endswith(f": {HummingbotSim.HEADLESS}")
        with pytest.raises(BackendError) as caught:
            client.command("hb-state", "start")
        assert 'The bot is already running - please run "stop" first' in caught.value.message
        assert client.get_instance("hb-state")["state"] == "running"
    finally:
        bot.close()


@pytest.mark.fault
def test_broker_down_reads_right_for_an_external_bot(fleet_backend, mqtt_broker) -> None:
    client = fleet_backend.client
    bot = SimBot(mqtt_broker.host, mqtt_broker.port, "lonely", login=mqtt_broker.credentials)
    try:
        wait_until(lambda: (_external(client, "lonely") or {}).get("state") == "running", 10, message="running")
        mqtt_broker.stop()
        found = wait_until(lambda: "unreachable" in _external(client, "lonely")["reason"] and
                           _external(client, "lonely"), 15, message="broker down shown")
        assert found["state"] == "error" and str(mqtt_broker.port) in found["reason"]
    finally:
        bot.close()


@pytest.mark.slow
@pytest.mark.fault
def test_fifty_bots_across_a_broker_restart_lose_no_command(fleet_backend, mqtt_broker) -> None:
    client = fleet_backend.client
    names = [f"sim{i:02d}" for i in range(50)]
    with ThreadPoolExecutor(16) as pool:
        bots = list(pool.map(lambda n: SimBot(mqtt_broker.host, mqtt_broker.port, n, login=mqtt_broker.credentials),
                             names))
    http = httpx.Client(base_url=fleet_backend.url, auth=(USERNAME, PASSWORD), timeout=60)
    try:
        def listed() -> bool:
            running = {i["name"] for i in client.list_instances() if i["state"] == "running"}
            return set(names) <= running
        wait_until(listed, 40, message="all 50 bots running in GET /instances")

        def command(name: str) -> tuple[str, dict]:
            nonce = uuid.uuid4().hex
            response = http.post(f"/instances/{name}/commands/config",
                                 json={"data": {"params": [["nonce", nonce]]}, "timeout": 40})
            return nonce, response.json() | {"http": response.status_code}

        with ThreadPoolExecutor(50) as pool:
            for nonce, reply in pool.map(command, names):
                assert reply["http"] == 200 and reply["echo"]["params"] == [["nonce", nonce]], reply

        mqtt_broker.stop()
        with ThreadPoolExecutor(50) as pool:
            futures = {name: pool.submit(command, name) for name in names}  # sent while the broker is down
            fleet = fleet_backend.services.fleet
            # (40 at a time: the server runs its sync routes in a pool of 40 threads)
            connection = fleet.connection
            wait_until(lambda: not connection.connected and len(connection._waiting) == 40, 30,
                       message=lambda: f"40 commands held by the disconnected fleet, not {len(connection._waiting)}")
            mqtt_broker.start()
            results = {name: future.result(timeout=60) for name, future in futures.items()}
            bots_by_name = {b.name: b for b in bots}
            failed = {n: (bots_by_name[n]._client.is_connected(), [c for c, _r in bots_by_name[n].requests])
                      for n, (_nonce, r) in results.items() if r["http"] != 200}
            assert not failed, failed
            for name, (nonce, reply) in results.items():
                assert reply["bot"] == name and reply["echo"]["params"] == [["nonce", nonce]]
        wait_until(listed, 60, message="all 50 bots running again after the broker restart")
    finally:
        http.close()
        with ThreadPoolExecutor(16) as pool:
            list(pool.map(lambda b: b.close(), bots))
