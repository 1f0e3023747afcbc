"""The whole path with the REAL hive_core: backend -> process runtime -> hive_core -> MQTT -> fleet -> API.

An uploaded strategy and a shipped one run side by side in one instance on the simulated venue.
"""
from __future__ import annotations

import os
import signal

import psutil
import pytest

from backend.client import BackendError
from tests.polling import wait_until

TICKER = '''from pydantic import Field

from hive_core.strategy import Strategy


class Ticker(Strategy):
    """Logs every tick: the smallest strategy there is."""

    class Params(Strategy.Params):
        word: str = Field("tick", description="what to log")

    def on_tick(self, now):
        self.ctx.logger.info("%s at %.0f", self.ctx.params.word, now)
'''


def wait_state(client, name: str, state: str, timeout: float = 30.0) -> dict:
    return wait_until(lambda: (i := client.get_instance(name))["state"] == state and i, timeout,
                      message=f"{name} {state}")


def test_real_core_strategies_are_described_and_validated(real_backend) -> None:
    client = real_backend.client
    shipped = {s["name"]: s for s in client.list_strategies()}
    assert {"market_maker", "momentum"} <= set(shipped)
    assert "spread_bps" in shipped["market_maker"]["params_schema"]["properties"]
    uploaded = client.upload_strategy("ticker.py", TICKER)
    assert uploaded["params_schema"]["properties"]["word"]["default"] == "tick"
    with pytest.raises(BackendError) as raised:
        client.upload_strategy("broken.py", TICKER.replace("def on_tick(self, now):", "def on_tick(self, now:"))
    assert raised.value.code == "invalid_strategy" and raised.value.message.startswith("SyntaxError at line")
    with pytest.raises(BackendError) as raised:
        client.create_instance({"name": "bad", "strategies": [
            {"id": "mm", "strategy": "market_maker", "params": {"spread_bps": -1}}]})
    assert raised.value.code == "invalid_config" and "strategies.0.params.spread_bps" in raised.value.message


@pytest.mark.fault
def test_real_instance_runs_trades_stops_crashes_and_survives_a_backend_restart(backend_factory, real_backend) -> None:
    client = real_backend.client
    client.upload_strategy("ticker.py", TICKER)
    created = client.create_instance({"name": "real1", "strategies": [
        {"id": "mm", "strategy": "market_maker", "params": {"spread_bps": 5}},
        {"id": "tk", "strategy": "ticker", "params": {"word": "hello"}, "interval": 0.5},
    ], "restart_policy": {"policy": "never"}})  # its crash below stays an error (test_self_healing restarts)
    assert created["state"] == "starting"
    running = wait_state(client, "real1", "running")
    assert running["strategies"][1]["version"] == 1

    # performance, trades and per-strategy logs arrive
    wait_until(lambda: {p["strategy"] for p in client.instance_performance("real1")} >= {"mm", "tk"}, 20,
               message="PnL points of both strategies")
    wait_until(lambda: client.instance_trades("real1"), 30, message="a fill of the market maker")
    trade = client.instance_trades("real1")[0]
    assert trade["strategy"] == "mm" and trade["trading_pair"] == "BTC-USDT" and trade["price"] > 0
    wait_until(lambda: any("hello at" in line["msg"] for line in client.instance_logs("real1", strategy="tk")), 10,
               message="a tick of the ticker in its logs")
    assert all(line["strategy"] == "tk" for line in client.instance_logs("real1", strategy="tk"))

    # stop -> stopped, start again
    stopped = client.stop_instance("real1")
    assert stopped["state"] == "stopped" and stopped["reason"] == "stopped by operator"
    client.start_instance("real1")
    running = wait_state(client, "real1", "running")

    # backend restart: the new backend finds it running, by its pid
    real_backend.stop()
    second = backend_factory(real_backend.settings)
    found = second.client.get_instance("real1")
    assert found["state"] == "running" and found["pid"] == running["pid"]
    wait_until(lambda: second.client.get_instance("real1")["last_heartbeat_age_s"] is not None, 10)

    # crash -> error with the reason
    os.kill(running["pid"], signal.SIGKILL)
    failed = wait_state(second.client, "real1", "error", timeout=15)
    assert failed["reason"].startswith("killed by SIGKILL")
    assert not psutil.pid_exists(running["pid"]) or psutil.Process(running["pid"]).status() == psutil.STATUS_ZOMBIE
    history = second.client.instance_history("real1")
    assert (history[0]["from_state"], history[0]["to_state"]) == ("running", "error")
