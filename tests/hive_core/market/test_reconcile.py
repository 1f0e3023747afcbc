"""An order in flight when the venue's API connection drops is found again after the reconnect, once
(hive_core/market/venue_client.py, reconciliation): the venue's order.status answer is replayed as the reports the
user data stream missed, and an order the venue never got is reported rejected. Over real sockets, the simulated
venue closing the connection at the order (drop_at_next_order)."""
from __future__ import annotations

import asyncio

import pytest

from hive_core.market.types import Order, OrderType, Side, UpdateKind
from hive_core.market.venue_client import commission_in_quote, execution_updates, missed_reports
from hive_core.sim.server import SimServer
from hive_core.strategy import Strategy
from tests.hive_core.market.conftest import run, venue_config
from tests.hive_core.market.test_runtime_on_network_venue import make_runtime
from tests.polling import wait_until_async

pytestmark = pytest.mark.integration


class OneQuote(Strategy):
    """One resting buy far below the market; every update it gets, kept."""

    def on_start(self) -> None:
        self.ctx.state["updates"] = []
        self.ctx.state["order"] = self.ctx.orders.place_limit(Side.BUY, 0.1, self.ctx.market.mid_price() * 0.5)

    def on_tick(self, now: float) -> None:
        pass

    def on_order_update(self, update) -> None:
        self.ctx.state["updates"].append((update.kind, update.reason))


def reconciled(when: str):
    async def scenario():
        server = SimServer(venue_config(step_interval=0.05))
        await server.start()
        server.drop_at_next_order(when)
        runtime = make_runtime([("q1", OneQuote, 0.2)], url=server.url)
        task = asyncio.create_task(runtime.run(install_signal_handlers=False))
        try:
            await wait_until_async(lambda: len(runtime.host.running) == 1, 10, message="started")
            slot = runtime.host.slots["q1"]
            client = runtime.venue_client
            await wait_until_async(lambda: server.stats["api_connections"] >= 2 and client.stats["reconciliations"] >= 2
                                   and slot.ctx.state["updates"], 15,
                                   message="reconnected, reconciled, and the order's outcome reported")
            return (list(slot.ctx.state["updates"]), slot.ctx.state["order"], server.exchange.open_orders(),
                    slot.handle.open_orders(), dict(client.stats), server.stats["api_connections"])
        finally:
            runtime.request_stop()
            await asyncio.wait_for(task, 10)
            await server.stop()
    return run(scenario(), timeout=60)


def test_an_order_the_venue_took_before_the_connection_dropped_is_found_once() -> None:
    updates, order_id, on_venue, open_here, stats, connections = reconciled("after")
    assert connections >= 2  # it reconnected
    assert updates == [(UpdateKind.CREATED, None)]
    assert [order.client_order_id for order in on_venue] == [order_id]
    assert [order.client_order_id for order in open_here] == [order_id]
    assert stats["reconciliations"] >= 1 and stats["lost"] == 0


def test_an_order_lost_with_the_connection_is_reported_rejected_once() -> None:
    updates, _order_id, on_venue, open_here, stats, connections = reconciled("before")
    assert connections >= 2
    assert updates == [(UpdateKind.REJECTED, "not on the venue: the order was lost with the connection")]
    assert on_venue == [] and open_here == []
    assert stats["lost"] == 1


def test_a_fill_replayed_by_reconciliation_and_reported_by_the_stream_counts_once() -> None:
    order = Order("q1-000001", "BTC-USDT", Side.BUY, OrderType.LIMIT, 1.0, 100.0, 0.0)
    status = {"status": "PARTIALLY_FILLED", "executedQty": "0.40000000", "cummulativeQuoteQty": "40.00000000",
              "updateTime": 5000}
    replayed = missed_reports(order, status, fee_rate=0.001, seen=True)
    assert [report["x"] for report in replayed] == ["TRADE"]
    fills = [u for report in replayed for u in execution_updates(order, report, 0.001) if u.kind is UpdateKind.FILLED]
    assert len(fills) == 1 and fills[0].fill.amount == pytest.approx(0.4) and fills[0].fill.price == pytest.approx(100)
    stream = {"e": "executionReport", "c": order.client_order_id, "x": "TRADE", "X": "PARTIALLY_FILLED", "l": "0.4",
              "L": "100.0", "z": "0.4", "Z": "40.0", "n": "0.04", "T": 5001, "t": 7}
    assert execution_updates(order, stream, 0.001) == []  # the same fill, by its cumulative quantity: counted once
    assert order.filled_amount == pytest.approx(0.4)
    assert missed_reports(order, status, fee_rate=0.001, seen=True) == []  # nothing missed any more


class TakeOnce(Strategy):
    """One market buy at start; every fill it gets, kept."""

    def on_start(self) -> None:
        self.ctx.state["fills"] = []
        self.ctx.orders.place_market(Side.BUY, 0.1)

    def on_tick(self, now: float) -> None:
        pass

    def on_order_update(self, update) -> None:
        if update.fill is not None:
            self.ctx.state["fills"].append(update.fill)


def test_a_fill_the_stream_missed_is_replayed_with_the_commission_the_venue_charged() -> None:
    """The venue charges 0.2 % where the instance expects 0.1 %: the replayed fill carries what the account's trades
    (myTrades) say was charged, not an estimate."""
    async def scenario():
        server = SimServer(venue_config(step_interval=0.05, fee_rate=0.002))
        await server.start()
        server.drop_at_next_order("after")   # the order fills on the venue; its answer and reports are lost
        runtime = make_runtime([("t1", TakeOnce, 0.2)], url=server.url)
        task = asyncio.create_task(runtime.run(install_signal_handlers=False))
        try:
            await wait_until_async(lambda: len(runtime.host.running) == 1, 10, message="started")
            state = runtime.host.slots["t1"].ctx.state
            await wait_until_async(lambda: state["fills"] and runtime.venue_client.stats["reconciliations"] >= 2, 15,
                                   message="the missed fill replayed")
            return list(state["fills"]), server.api.account_trades["BTCUSDT"]
        finally:
            runtime.request_stop()
            await asyncio.wait_for(task, 10)
            await server.stop()
    fills, trades = run(scenario(), timeout=60)
    assert len(fills) == len(trades) >= 1
    for fill, trade in zip(fills, trades, strict=True):
        assert fill.amount == pytest.approx(float(trade["qty"])) and fill.price == pytest.approx(float(trade["price"]))
        assert fill.fee_quote == pytest.approx(float(trade["commission"]))
        assert fill.fee_quote == pytest.approx(fill.price * fill.amount * 0.002)


def test_a_commission_is_counted_in_the_quote_asset() -> None:
    assert commission_in_quote("BTC-USDT", 0.05, "USDT", 100.0, 9.9) == 0.05
    assert commission_in_quote("BTC-USDT", 0.0001, "BTC", 100.0, 9.9) == pytest.approx(0.01)  # a buy's, in base
    assert commission_in_quote("BTC-USDT", 0.00002, "BNB", 100.0, 9.9) == 9.9  # not priced here: the estimate
    assert commission_in_quote("BTC-USDT", 0.05, None, 100.0, 9.9) == 0.05


def test_replayed_trades_skip_what_was_counted_and_a_short_list_falls_back_to_one_estimate() -> None:
    order = Order("q1-000001", "BTC-USDT", Side.BUY, OrderType.LIMIT, 1.0, 100.0, 0.0)
    status = {"status": "FILLED", "orderId": 4, "executedQty": "1.0", "cummulativeQuoteQty": "99.5", "updateTime": 9}
    trades = [{"id": 11, "price": "99.0", "qty": "0.5", "commission": "0.0005", "commissionAsset": "BTC",
               "time": 7000, "isMaker": True},
              {"id": 12, "price": "100.0", "qty": "0.5", "commission": "0.05", "commissionAsset": "USDT",
               "time": 8000, "isMaker": False}]
    first = {"e": "executionReport", "c": order.client_order_id, "x": "TRADE", "X": "PARTIALLY_FILLED", "l": "0.5",
             "L": "99.0", "z": "0.5", "Z": "49.5", "n": "0.0005", "N": "BTC", "T": 7000, "t": 11}
    execution_updates(order, first, 0.001)   # the stream reported the first trade
    replayed = missed_reports(order, status, fee_rate=0.001, seen=True, trades=trades)
    assert [(report["t"], report["X"]) for report in replayed] == [(12, "FILLED")]
    [fill] = [u.fill for report in replayed for u in execution_updates(order, report, 0.001) if u.fill is not None]
    assert (fill.price, fill.amount, fill.fee_quote, fill.is_maker) == (100.0, 0.5, 0.05, False)
    assert order.fee_quote == pytest.approx(0.0005 * 99.0 + 0.05)   # the base commission valued at its fill's price

    fresh = Order("q1-000002", "BTC-USDT", Side.BUY, OrderType.LIMIT, 1.0, 100.0, 0.0)
    short = missed_reports(fresh, status, fee_rate=0.001, seen=True, trades=trades[:1])
    assert [(report["l"], report["t"]) for report in short] == [(1.0, "reconciled-1.00000000")]
