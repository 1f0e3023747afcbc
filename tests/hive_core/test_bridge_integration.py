"""hive_core as a real subprocess against a real broker; the wire format is read back raw (docs/protocol.md)."""
from __future__ import annotations

import json
import secrets
import signal
import time

import pytest

from backend.broker.access import grants
from backend.broker.mosquitto import Login
from tests.conftest import EmbeddedBroker
from tests.hive_core.conftest import instance_config, wait_answering
from tests.mqtt_probe import MqttProbe
from tests.polling import wait_until

pytestmark = pytest.mark.timeout(90)

MM = {"id": "mm1", "strategy": "market_maker", "params": {"spread_bps": 5}}
COMMLIB_HEADER = {"timestamp": 0, "content_type": "json", "encoding": "utf8", "agent": "commlib"}


def payloads(messages) -> list:
    return [m.json() for m in messages]


def wait_online(probe: MqttProbe, prefix: str, timeout: float = 20.0):
    return probe.wait_for(f"{prefix}/status_updates", lambda m: m.json()["msg"] == "online", timeout=timeout)[0]


def request(probe: MqttProbe, topic: str, data: dict, reply_to: str, header: dict | None = None) -> None:
    probe.publish(topic, {"header": {**(header or COMMLIB_HEADER), "reply_to": reply_to}, "data": data})


def test_heartbeat_is_sent_on_connect_and_then_every_interval(mqtt_broker, mqtt_probe, spawn_hive):
    hive = spawn_hive(instance_config(mqtt_broker, [MM]))
    beats = mqtt_probe.wait_for(f"{hive.prefix}/hb", count=4, timeout=20)
    for beat in beats:
        body = beat.json()
        assert list(body) == ["ts", "journal"] and isinstance(body["ts"], int)   # journal: the Hive extension
        assert set(body["journal"]) == {"run", "seq"} and isinstance(body["journal"]["seq"], int)
        assert abs(body["ts"] / 1e6 - beat.at) < 2.0          # microseconds since the epoch
        assert beat.retain is False
    stamps = [beat.json()["ts"] / 1e6 for beat in beats]
    gaps = [later - earlier for earlier, later in zip(stamps[1:], stamps[2:], strict=False)]
    assert all(0.6 < gap < 1.5 for gap in gaps), gaps


@pytest.mark.fault
def test_online_on_connect_and_last_will_offline_when_killed(mqtt_broker, mqtt_probe, spawn_hive):
    hive = spawn_hive(instance_config(mqtt_broker, [MM]))
    online = wait_online(mqtt_probe, hive.prefix)
    body = online.json()
    assert set(body) == {"timestamp", "type", "msg"}
    assert body["type"] == "availability" and isinstance(body["timestamp"], int)
    assert abs(body["timestamp"] / 1000 - online.at) < 5
    hive.signal(signal.SIGKILL)
    hive.wait(timeout=10)
    [offline] = mqtt_probe.wait_for(f"{hive.prefix}/status_updates", lambda m: m.json()["msg"] == "offline",
                                    timeout=15)
    assert offline.json()["type"] == "availability" and isinstance(offline.json()["timestamp"], int)


def test_sigterm_stops_strategies_cancels_orders_publishes_offline_and_exits_0(mqtt_broker, mqtt_probe, spawn_hive):
    hive = spawn_hive(instance_config(mqtt_broker, [MM]))
    wait_online(mqtt_probe, hive.prefix)
    mqtt_probe.wait_for(f"{hive.prefix}/events", lambda m: m.json()["type"] == "BuyOrderCreated", timeout=15)
    signalled = time.time()
    hive.signal(signal.SIGTERM)
    assert hive.wait(timeout=20) == 0, hive.output()
    mqtt_probe.wait_for(f"{hive.prefix}/status_updates",
                        lambda m: m.json()["msg"] == "offline" and m.at >= signalled, timeout=10)
    cancels = mqtt_probe.wait_for(f"{hive.prefix}/events",
                                  lambda m: m.json()["type"] == "OrderCancelled" and m.at >= signalled, timeout=5)
    assert cancels[0].json()["data"]["controller_id"] == "mm1"
    last = mqtt_probe.received(f"{hive.prefix}/performance")[-1].json()
    assert last["mm1"]["status"] == "stopped"
    assert "shutting down" in hive.output()


def test_log_messages_carry_the_protocol_fields_and_strategy_logger_names(mqtt_broker, mqtt_probe, spawn_hive):
    hive = spawn_hive(instance_config(mqtt_broker, [MM]))
    [log] = mqtt_probe.wait_for(f"{hive.prefix}/log", lambda m: m.json()["logger_name"] == "hive.strategy.mm1",
                                timeout=20)
    body = log.json()
    assert set(body) == {"timestamp", "msg", "level_no", "level_name", "logger_name", "journal"}
    assert body["journal"]["seq"] >= 1 and isinstance(body["journal"]["run"], str)
    assert isinstance(body["timestamp"], float) and abs(body["timestamp"] - log.at) < 5
    assert isinstance(body["msg"], str) and body["msg"]
    assert (body["level_no"], body["level_name"]) == (20, "INFO")


def test_failing_strategy_logs_its_traceback_and_is_reported_in_error_while_others_run(
        mqtt_broker, mqtt_probe, spawn_hive, strategy_dir):
    config = instance_config(mqtt_broker, [MM, {"id": "bad", "strategy": "broken_tick", "interval": 0.2}])
    config["strategy_dirs"] = [str(strategy_dir)]
    hive = spawn_hive(config)
    [error] = mqtt_probe.wait_for(f"{hive.prefix}/log", lambda m: m.json()["logger_name"] == "hive.strategy.bad"
                                  and m.json()["level_name"] == "ERROR" and "Traceback" in m.json()["msg"], timeout=20)
    assert error.json()["level_no"] == 40
    assert "ZeroDivisionError: tick failed on purpose" in error.json()["msg"]
    [report] = mqtt_probe.wait_for(f"{hive.prefix}/performance", lambda m: m.json()["bad"]["status"] == "error",
                                   timeout=20)
    bad, good = report.json()["bad"], report.json()["mm1"]
    assert "quarantined after 5 consecutive failures" in bad["error"]
    assert bad["custom_info"]["errors"] == 5
    assert good["status"] == "running" and "error" not in good


def test_performance_reports_two_copies_of_one_strategy_with_their_own_params(mqtt_broker, mqtt_probe, spawn_hive):
    hive = spawn_hive(instance_config(mqtt_broker, [
        {"id": "small", "strategy": "market_maker", "params": {"order_amount_quote": 10, "spread_bps": 5}},
        {"id": "large", "strategy": "market_maker", "params": {"order_amount_quote": 80, "spread_bps": 30}},
    ]))
    [report] = mqtt_probe.wait_for(f"{hive.prefix}/performance",
                                   lambda m: all(m.json()[s]["custom_info"]["ticks"] >= 2 for s in ("small", "large")),
                                   timeout=20)
    body = report.json()
    assert set(body) == {"small", "large"}
    for entry in body.values():
        performance = entry["performance"]
        for field in ("realized_pnl_quote", "unrealized_pnl_quote", "global_pnl_quote", "volume_traded"):
            assert isinstance(performance[field], float | int), field
        assert performance["close_type_counts"] == {}
        info = entry["custom_info"]
        assert info["strategy"] == "market_maker" and info["trading_pair"] == "BTC-USDT"
        assert {"position", "open_orders", "balances", "ticks", "errors"} <= set(info)
        assert info["balances"]["USDT"] > 0 and info["errors"] == 0
        assert entry["status"] == "running" and "error" not in entry
    created = [m.json()["data"] for m in mqtt_probe.received(f"{hive.prefix}/events")
               if m.json()["type"] == "BuyOrderCreated"]
    notional = {d["controller_id"]: d["amount"] * d["price"] for d in created}
    assert notional["small"] == pytest.approx(10, rel=0.01) and notional["large"] == pytest.approx(80, rel=0.01)
    assert all(d["order_id"].startswith(d["controller_id"] + "-") for d in created)


def test_order_filled_events_carry_the_fill_as_floats(mqtt_broker, mqtt_probe, spawn_hive, strategy_dir):
    config = instance_config(mqtt_broker, [{"id": "taker", "strategy": "taker", "interval": 0.5}])
    config["strategy_dirs"] = [str(strategy_dir)]
    hive = spawn_hive(config)
    [event] = mqtt_probe.wait_for(f"{hive.prefix}/events", lambda m: m.json()["type"] == "OrderFilled", timeout=20)
    body = event.json()
    assert set(body) == {"timestamp", "type", "data", "journal"} and isinstance(body["timestamp"], int)
    data = body["data"]
    assert data["order_id"] == "taker-000001" and data["controller_id"] == "taker"
    assert (data["trading_pair"], data["trade_type"], data["order_type"]) == ("BTC-USDT", "BUY", "MARKET")
    for field in ("timestamp", "price", "amount", "fee_quote"):
        assert isinstance(data[field], float), field
    assert data["amount"] <= 0.05 + 1e-12
    fee = data["trade_fee"]
    assert fee["flat_fees"] == [{"token": "USDT", "amount": data["fee_quote"]}]
    assert isinstance(fee["percent"], float)
    assert data["fee_quote"] == pytest.approx(data["price"] * data["amount"] * 0.001)
    names = {m.json()["type"] for m in mqtt_probe.wait_for(f"{hive.prefix}/events", count=3, timeout=10)}
    assert {"BuyOrderCreated", "OrderFilled"} <= names


def test_stop_and_start_commands_reply_with_the_rpc_envelope(mqtt_broker, mqtt_probe, spawn_hive):
    hive = spawn_hive(instance_config(mqtt_broker, [MM]))
    wait_answering(mqtt_probe, hive.prefix)

    def reply(topic: str, timeout: float = 10.0):
        [message] = mqtt_probe.wait_for(topic, timeout=timeout)
        return message

    request(mqtt_probe, f"{hive.prefix}/stop", {"skip_order_cancellation": False, "async_backend": False}, "t/r/stop")
    stopped = reply("t/r/stop")
    assert stopped.qos == 1
    assert stopped.json() == {"header": {"reply_to": "", "timestamp": stopped.json()["header"]["timestamp"],
                                         "content_type": "json", "encoding": "utf8", "agent": "commlib"},
                              "data": {"status": 200, "msg": ""}}
    assert isinstance(stopped.json()["header"]["timestamp"], int)
    mqtt_probe.wait_for(f"{hive.prefix}/performance",
                        lambda m: m.at > stopped.at and m.json()["mm1"]["status"] == "stopped", timeout=10)
    mqtt_probe.wait_for(f"{hive.prefix}/hb", lambda m: m.at > stopped.at + 0.5, timeout=10)   # still alive

    # The API server's header style works too: only reply_to and data are read.
    api_header = {"timestamp": 1, "msg_id": "abc", "node_id": "api", "agent": "hummingbot-api", "properties": {}}
    request(mqtt_probe, f"{hive.prefix}/start", {"async_backend": False}, "t/r/start", header=api_header)
    assert reply("t/r/start").json()["data"] == {"status": 200, "msg": ""}
    mqtt_probe.wait_for(f"{hive.prefix}/performance", lambda m: m.json()["mm1"]["status"] == "running"
                        and m.at > time.time() - 0.1, timeout=10)

    request(mqtt_probe, f"{hive.prefix}/start", {}, "t/r/again")
    again = reply("t/r/again").json()["data"]
    assert again["status"] == 400 and "already running" in again["msg"]

    mqtt_probe.publish(f"{hive.prefix}/stop", '{"header": {"reply_to": "t/r/badjson"}, "data": {')
    bad_json = reply("t/r/badjson").json()["data"]
    assert bad_json["status"] == 400 and bad_json["msg"].startswith("invalid JSON")

    request(mqtt_probe, f"{hive.prefix}/stop", {"skip_order_cancellation": "maybe"}, "t/r/badfield")
    bad_field = reply("t/r/badfield").json()["data"]
    assert bad_field["status"] == 400 and "data.skip_order_cancellation" in bad_field["msg"]

    request(mqtt_probe, f"{hive.prefix}/import", {}, "t/r/import")
    missing = reply("t/r/import").json()["data"]
    assert missing["status"] == 400 and "data.strategy: Field required" in missing["msg"]

    # No reply when reply_to is empty, but the command still runs.
    sent = time.time()
    request(mqtt_probe, f"{hive.prefix}/stop", {}, "")
    mqtt_probe.wait_for(f"{hive.prefix}/performance",
                        lambda m: m.at > sent and m.json()["mm1"]["status"] == "stopped", timeout=10)
    request(mqtt_probe, f"{hive.prefix}/status", {}, "t/r/after")   # answered in order, after any reply to the stop
    reply("t/r/after")
    replies = [m.topic for m in mqtt_probe.messages if m.at > sent and m.payload.startswith(b'{"header"')
               and "status" in json.loads(m.payload).get("data", {})]
    assert replies == ["t/r/after"]


@pytest.mark.fault
def test_bridge_keeps_connecting_until_the_broker_is_up_and_reconnects_after_it_restarts(spawn_hive):
    broker = EmbeddedBroker()           # a free port, nothing listening yet
    hive = spawn_hive(instance_config(broker, [MM]))
    wait_until(lambda: "MQTT bridge connecting" in hive.output(), 20, message="the bridge connecting, to nobody")
    assert hive.process.poll() is None, hive.output()
    broker.start()
    try:
        probe = broker.probe()
        probe.subscribe(f"{hive.prefix}/#")
        probe.wait_for(f"{hive.prefix}/hb", timeout=20)
        probe.close()
        broker.process.kill()           # the broker goes away abruptly
        broker.process.wait(timeout=10)
        wait_until(lambda: "lost the MQTT broker" in hive.output(), 20, message="the bridge noticing the broker gone")
        assert hive.process.poll() is None, hive.output()
        # `online` is not retained: the probe must be subscribed before the bridge is back, so the instance is held
        # still (SIGSTOP) while the broker starts and the probe subscribes, and goes on reconnecting after.
        hive.signal(signal.SIGSTOP)
        try:
            broker.start()
            probe = broker.probe()
            probe.subscribe(f"{hive.prefix}/#")
        finally:
            hive.signal(signal.SIGCONT)
        wait_online(probe, hive.prefix, timeout=25)
        probe.wait_for(f"{hive.prefix}/hb", timeout=10)
        probe.close()
    finally:
        hive.close()
        broker.stop()


@pytest.mark.fault
def test_a_refused_login_is_logged_once_and_retried_until_the_broker_knows_it(spawn_hive, mqtt_broker, mqtt_probe):
    login = Login("hive-instance-refused1", secrets.token_urlsafe(16))  # not known to the broker yet
    hive = spawn_hive(instance_config(mqtt_broker, [MM], instance_id="refused1", mqtt_username=login.username,
                                      mqtt_password=login.password))
    wait_until(lambda: "refused the connection" in hive.output(), 20, message="the refusal in the bot's log")
    first = hive.output()
    assert "Not authorized" in first and "hive-instance-refused1" in first and "check mqtt_username" in first
    assert login.password not in first
    mqtt_broker.grant(login, grants("instance", "refused1", "hbot"))  # the broker learns it; the bot retries
    mqtt_probe.wait_for("hbot/refused1/hb", timeout=20)
    output = hive.output()
    assert hive.process.poll() is None and "accepted the connection after" in output
    assert output.count("refused the connection") == 1  # retried in silence: no log line per attempt


def test_sigterm_without_a_broker_still_exits_0_promptly(spawn_hive):
    unused = EmbeddedBroker()           # its port: nobody listens
    hive = spawn_hive(instance_config(None, [MM], port=unused.port))
    wait_until(lambda: "MQTT bridge connecting" in hive.output(), 20, message="the bridge connecting, to nobody")
    started = time.monotonic()
    hive.signal(signal.SIGTERM)
    assert hive.wait(timeout=15) == 0, hive.output()
    assert time.monotonic() - started < 10


def test_external_event_reaches_a_listening_strategy(mqtt_broker, mqtt_probe, spawn_hive):
    hive = spawn_hive(instance_config(mqtt_broker, [{"id": "mo", "strategy": "momentum"}]))
    wait_answering(mqtt_probe, hive.prefix)
    # events reach running strategies only: the bridge answers before its strategies have started
    mqtt_probe.wait_for(f"{hive.prefix}/performance", lambda m: m.json().get("mo", {}).get("status") == "running",
                        timeout=30)
    mqtt_probe.publish(f"{hive.prefix}/external/event/tv/signal", {"data": {"action": "buy"}}, qos=0)
    [log] = mqtt_probe.wait_for(f"{hive.prefix}/log", lambda m: "external signal tv.signal: buy" in m.json()["msg"],
                                timeout=10)
    assert log.json()["logger_name"] == "hive.strategy.mo"
    mqtt_probe.wait_for(f"{hive.prefix}/events", lambda m: m.json()["type"] == "OrderFilled"
                        and m.json()["data"]["controller_id"] == "mo", timeout=10)
