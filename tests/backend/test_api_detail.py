"""What the detail view and the fleet-wide page read, from a REAL hive_core instance: open orders and balances per
strategy, the fleet's open orders and errors (with stack traces), log search, and trades numbered by run."""
from __future__ import annotations

import pytest

from backend.client import BackendError
from tests.backend.test_integration_real_core import wait_state
from tests.polling import wait_until

FAILING = '''from hive_core.strategy import Strategy


class Failing(Strategy):
    """Raises on every tick: its errors carry a stack trace."""

    def on_tick(self, now):
        self.ctx.logger.info("about to fail at %.0f", now)
        raise RuntimeError("boom-detail-test")
'''


@pytest.mark.timeout(180)
def test_orders_balances_errors_log_search_and_trade_runs_reach_the_api(real_backend) -> None:
    client = real_backend.client
    client.upload_strategy("failing.py", FAILING)
    client.create_instance({"name": "mm1", "strategies": [
        {"id": "mm", "strategy": "market_maker", "params": {"spread_bps": 5}},
        {"id": "bad", "strategy": "failing", "interval": 0.5},
    ], "restart_policy": {"policy": "never"}})
    wait_state(client, "mm1", "running")

    # open orders and balances of the market maker, as its P/performance reports them
    def quoting() -> dict:
        strategy = client.get_instance("mm1")["strategies"][0]
        return strategy if strategy["open_orders"] else {}
    mm = wait_until(quoting, 30, message="the market maker's open orders")
    assert mm["id"] == "mm" and mm["open_orders_count"] >= len(mm["open_orders"]) >= 1
    order = mm["open_orders"][0]
    assert order["order_id"].startswith("mm-") and order["side"] in ("BUY", "SELL")
    assert order["trading_pair"] == "BTC-USDT" and order["price"] > 0 and order["amount"] > 0
    assert {"BTC", "USDT"} <= set(mm["balances"]) and mm["balances"]["USDT"] > 0

    # the fleet's open orders: the same orders, each with its instance and strategy; filters
    fleet = client.open_orders()
    assert fleet and {(o["instance"], o["strategy"]) for o in fleet} == {("mm1", "mm")}
    assert client.open_orders("mm1") and client.open_orders(trading_pair="ETH-USDT") == []
    with pytest.raises(BackendError) as missing:
        client.open_orders("nobody")
    assert missing.value.status == 404

    # the fleet's errors: the failing strategy's, newest first, with the stack trace
    errors = wait_until(lambda: client.fleet_errors(limit=5), 20, message="an error line")
    assert all(line["instance"] == "mm1" and line["level_name"] in ("ERROR", "CRITICAL") for line in errors)
    first = errors[0]
    assert first["strategy"] == "bad" and "boom-detail-test" in first["msg"]
    # with its stack trace (the newest may already be the line saying it was quarantined after 5 failures)
    traced = next((line for line in errors if "Traceback" in line["msg"]), None)
    assert traced is not None and traced["strategy"] == "bad" and "boom-detail-test" in traced["msg"]
    assert [line["timestamp"] for line in errors] == sorted((line["timestamp"] for line in errors), reverse=True)
    assert client.fleet_errors(instance="mm1")

    # log search: by text (case-insensitive, stack traces included), by level, by strategy
    found = client.instance_logs("mm1", query="ABOUT TO FAIL")
    assert found and all("about to fail" in line["msg"] for line in found)
    assert all("RuntimeError" in line["msg"] for line in client.instance_logs("mm1", query="runtimeerror: boom"))
    assert {line["level_name"] for line in client.instance_logs("mm1", min_level="ERROR")} <= {"ERROR", "CRITICAL"}
    assert client.instance_logs("mm1", query="100%_not-there") == []  # % and _ are no wildcards
    with pytest.raises(BackendError) as refused:
        client.instance_logs("mm1", query="x" * 201)
    assert refused.value.status == 422

    # trades: counted, each with the run it belongs to; a restart starts run 2, its order ids start again at 1
    wait_until(lambda: client.instance_trades("mm1"), 60, message="a fill of the market maker")
    assert client.instance_trades_count("mm1") >= 1
    assert {trade["run"] for trade in client.instance_trades("mm1")} == {1}
    client.restart_instance("mm1")
    wait_state(client, "mm1", "running")
    wait_until(lambda: any(t["run"] == 2 for t in client.instance_trades("mm1")), 60, message="a fill of run 2")
    trades = client.instance_trades("mm1", limit=10000)
    assert len(trades) == client.instance_trades_count("mm1")
    keys = [(trade["run"], trade["order_id"], trade["trade_id"]) for trade in trades]
    assert len(set(keys)) == len(keys)
    client.stop_instance("mm1")
    assert all(not s["open_orders"] and not s["balances"] for s in client.get_instance("mm1")["strategies"])
