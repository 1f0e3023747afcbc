"""The fleet connection's digestion of the messages of docs/protocol.md, fed directly and through a real broker."""
from __future__ import annotations

import json
import time

from backend.orchestrator.fleet import Fleet, strategy_of_logger
from tests.polling import wait_until


def feed(fleet: Fleet, topic: str, payload, now: float) -> None:
    fleet.handle(topic, payload if isinstance(payload, bytes) else json.dumps(payload).encode(), now)


def test_heartbeat_and_availability_are_signs_of_life_with_receive_times() -> None:
    fleet = Fleet()
    feed(fleet, "hbot/b1/status_updates", {"timestamp": 1, "type": "availability", "msg": "online"}, 100.0)
    feed(fleet, "hbot/b1/hb", {"ts": 123}, 105.0)
    feed(fleet, "hbot/b1/status_updates", {"timestamp": 1, "type": "availability", "msg": "offline"}, 107.0)
    view = fleet.bot("b1")
    assert (view.last_online, view.last_heartbeat, view.last_offline, view.last_alive) == (100.0, 105.0, 107.0, 105.0)


def test_other_namespaces_and_malformed_payloads_are_ignored() -> None:
    fleet = Fleet(namespace="hbot")
    feed(fleet, "other/b1/hb", {"ts": 1}, 1.0)
    feed(fleet, "hbot/b2/hb", b"not json", 1.0)
    feed(fleet, "hbot/b3/hb", b"[1, 2]", 1.0)
    assert fleet.bot("b1") is None and fleet.bot("b2") is None and fleet.bot("b3") is None


def test_log_lines_are_attributed_to_their_strategy_by_logger_name() -> None:
    assert strategy_of_logger("hive.strategy.mm1") == "mm1"
    assert strategy_of_logger("hive.strategy.mm1.orders") == "mm1"
    assert strategy_of_logger("hive.runtime") is None
    fleet = Fleet()
    feed(fleet, "hbot/b1/log", {"timestamp": 10.5, "msg": "hi", "level_no": 40, "level_name": "ERROR",
                                "logger_name": "hive.strategy.mm1"}, 11.0)
    feed(fleet, "hbot/b1/notify", {"seq": 1, "timestamp": 1_700_000_000_000, "msg": "note"}, 12.0)
    logs = fleet.drain().logs
    assert [(e.ts, e.level_name, e.strategy, e.msg) for e in logs] == [(10.5, "ERROR", "mm1", "hi"),
                                                                       (1_700_000_000.0, "INFO", None, "note")]
    assert not fleet.drain()


def test_order_filled_events_become_trades_and_other_events_do_not() -> None:
    fleet = Fleet()
    feed(fleet, "hbot/b1/events", {"timestamp": 5, "type": "OrderFilled", "data": {
        "timestamp": 5.5, "order_id": "o1", "trading_pair": "BTC-USDT", "trade_type": "TradeType.SELL",
        "price": 101.0, "amount": 0.2, "fee_quote": 0.02, "controller_id": "mm1", "exchange_trade_id": 7}}, 6.0)
    feed(fleet, "hbot/b1/events", {"timestamp": 5, "type": "OrderCancelled", "data": {"order_id": "o2"}}, 6.0)
    trades = fleet.drain().trades
    assert [(t.ts, t.strategy, t.side, t.price, t.amount, t.fee, t.trade_id) for t in trades] == [
        (5.5, "mm1", "SELL", 101.0, 0.2, 0.02, "7")]


def test_performance_keeps_the_latest_view_but_stores_at_most_one_point_per_interval() -> None:
    fleet = Fleet(pnl_interval=5.0)
    feed(fleet, "hbot/b1/hb", {"ts": 1}, 999.0)  # a bot without a journal (its PnL points are sampled)
    for second in range(12):
        feed(fleet, "hbot/b1/performance", {
            "s1": {"performance": {"realized_pnl_quote": second, "unrealized_pnl_quote": 1,
                                   "global_pnl_quote": second + 1, "volume_traded": 3},
                   "custom_info": {"k": 1}, "status": "running"},
            "s2": {"performance": {}, "status": "error", "error": "ZeroDivisionError"}}, 1000.0 + second)
    view = fleet.bot("b1")
    assert view.strategies["s1"].performance["realized_pnl_quote"] == 11
    assert (view.strategies["s2"].status, view.strategies["s2"].error) == ("error", "ZeroDivisionError")
    pnl = fleet.drain().pnl
    assert [(p.strategy, p.ts, p.total) for p in pnl if p.strategy == "s1"] == [
        ("s1", 1000.0, 1.0), ("s1", 1005.0, 6.0), ("s1", 1010.0, 11.0)]


def test_sys_topics_of_amqtt_and_mosquitto_give_broker_stats_and_message_rate() -> None:
    fleet = Fleet()
    fleet.handle("$SYS/broker/clients/connected", b"3", 100.0)
    fleet.handle("$SYS/broker/messages/received", b"100", 100.0)
    fleet.handle("$SYS/broker/messages/sent", b"250", 100.0)
    fleet.handle("$SYS/broker/uptime", b"42 seconds", 100.0)  # Mosquitto's format
    fleet.handle("$SYS/broker/messages/received", b"150", 110.0)
    stats = fleet.broker_stats()
    figures = (stats.clients_connected, stats.messages_received, stats.messages_sent, stats.uptime_s)
    assert figures == (3, 150, 250, 42.0)
    assert stats.messages_per_s == 5.0


def test_fleet_connection_hears_a_bot_and_the_broker_through_a_real_broker(mqtt_broker, mqtt_probe) -> None:
    fleet = Fleet()
    fleet.connection.connect(mqtt_broker.host, mqtt_broker.port, login=mqtt_broker.credentials)
    try:
        assert fleet.connection.wait_connected(10)

        def beat_heard() -> bool:   # beats until one is heard: the first may precede the fleet's SUBACK
            mqtt_probe.publish("hbot/raw1/hb", {"ts": int(time.time() * 1e6)}, qos=0)
            return bool(fleet.bot("raw1") and fleet.bot("raw1").last_heartbeat)

        wait_until(beat_heard, 5, interval=0.1, message="heartbeat heard")
        wait_until(lambda: fleet.broker_stats().clients_connected, 10, message="$SYS statistics heard")
    finally:
        fleet.connection.disconnect()
    assert not fleet.connection.connected
