"""A 30 s broker outage mid-run: the trading loop never waits for the broker. A real broker subprocess
(tests/conftest.py EmbeddedBroker) is stopped for 30 s and started again on the same port; the ticks
continue on time throughout (tick counts and lag from P/performance), the bot comes back online, the log
lines of the outage are delivered from the bounded backlog, and a command works afterwards."""
from __future__ import annotations

import time

import pytest

from tests.conftest import EmbeddedBroker
from tests.hive_core.conftest import instance_config

pytestmark = [pytest.mark.slow, pytest.mark.fault, pytest.mark.timeout(150)]

OUTAGE_S = 30.0
INTERVAL = 0.5


def test_ticks_continue_on_time_through_a_30s_broker_outage_and_the_bot_comes_back(spawn_hive):
    broker = EmbeddedBroker()
    broker.start()
    probe = None
    try:
        hive = spawn_hive(instance_config(broker, [{"id": "mm1", "strategy": "market_maker", "interval": INTERVAL},
                                                   {"id": "mm2", "strategy": "market_maker", "interval": 1.0}]))
        prefix = hive.prefix
        probe = broker.probe()
        probe.subscribe(f"{prefix}/#")
        probe.wait_for(f"{prefix}/status_updates", lambda m: m.json()["msg"] == "online", timeout=20)
        [before] = probe.wait_for(f"{prefix}/performance", lambda m: m.json()["mm1"]["custom_info"]["ticks"] >= 4,
                                  timeout=15)
        ticks_before = before.json()["mm1"]["custom_info"]["ticks"]
        probe.close()
        probe = None

        broker.stop()                                  # the broker goes away for 30 s
        down_at = time.time()
        time.sleep(OUTAGE_S)
        assert hive.process.poll() is None, hive.output()
        broker.start()                                 # same port
        up_at = time.time()

        probe = broker.probe()
        probe.subscribe(f"{prefix}/#")
        online = probe.wait_for(f"{prefix}/status_updates", lambda m: m.json()["msg"] == "online", timeout=20)[0]
        assert online.at - up_at < 15
        [after] = probe.wait_for(f"{prefix}/performance", timeout=10)
        report = after.json()
        for strategy_id in ("mm1", "mm2"):
            info = report[strategy_id]["custom_info"]
            assert report[strategy_id]["status"] == "running"
            assert info["starvation"] == 0 and info["skipped"] == 0, info
            assert info["lag_max_ms"] < 250, info
        # mm1 ticked every 0.5 s all through the outage (the report's own time against its tick count)
        elapsed = after.json()["mm1"]["custom_info"]["ticks"] - ticks_before
        expected = (after.at - before.at) / INTERVAL
        assert abs(elapsed - expected) <= 4, (elapsed, expected)

        # what was logged while the broker was down arrives now (from the bounded backlog)
        probe.wait_for(f"{prefix}/log", lambda m: down_at < m.json()["timestamp"] < up_at, timeout=10)
        metrics = probe.wait_for(f"{prefix}/metrics", timeout=10)[0].json()["instance"]
        assert metrics["mqtt_connects"] >= 2 and metrics["mqtt_connected"] == 1
        assert metrics["mqtt_dropped_replies"] == 0

        # a command works afterwards
        reply_to = "rpc-after-outage"
        probe.subscribe(reply_to)
        probe.publish(f"{prefix}/status", {"header": {"reply_to": reply_to, "timestamp": 0, "agent": "commlib"},
                                           "data": {"async_backend": False}})
        [reply] = probe.wait_for(reply_to, timeout=10)
        data = reply.json()["data"]
        assert data["status"] == 200 and "mm1 (market_maker, BTC-USDT): running" in data["data"]
    finally:
        if probe is not None:
            probe.close()
        broker.stop()
