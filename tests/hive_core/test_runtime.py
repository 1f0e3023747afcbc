"""The runtime in virtual time: strategies trade, stay isolated, start and stop on command."""
from __future__ import annotations

import logging
from pathlib import Path

import pytest
from pydantic import Field

from hive_core.config import parse_instance_config
from hive_core.loader import ResolvedStrategy, StrategyLoader, StrategySpec, resolve_instance
from hive_core.market.types import ExternalEvent, OrderStatus, Side, UpdateKind
from hive_core.protocol import HistoryRequest, StartRequest, StatusRequest, StopRequest
from hive_core.runtime import Runtime
from hive_core.scheduler import ERROR, RUNNING, STOPPED
from hive_core.strategy import Strategy

START = 1_700_000_000.0


def runtime_for(strategies: list[dict], classes: dict[str, type[Strategy]] | None = None, **venue) -> Runtime:
    """A virtual-time runtime; entries naming a key of `classes` use that class instead of a file."""
    config = parse_instance_config({"instance_id": "test", "strategies": strategies,
                                    "venue": {"seed": 5, **venue}})
    classes = classes or {}
    loader = StrategyLoader()
    resolved = []
    for entry in config.strategies:
        if entry.strategy in classes:
            spec = StrategySpec(entry.strategy, Path("<test>"), classes[entry.strategy], shipped=False)
        else:
            spec = loader.resolve(entry.strategy)
        resolved.append(ResolvedStrategy(entry, spec, spec.validate_params(entry.params), config.pair_of(entry)))
    return Runtime(config, resolved, realtime=False, start_time=START)


class Recording(Strategy):
    """Records the hooks it gets."""

    class Params(Strategy.Params):
        tag: str = "x"

    def on_start(self):
        self.ctx.state.setdefault("log", []).append("start")
        self.in_tick = False

    def on_tick(self, now):
        self.ctx.state["log"].append("tick")
        self.in_tick = True
        if len(self.ctx.state["log"]) == 2:
            self.ctx.orders.place_market(Side.BUY, 0.01)
        self.in_tick = False

    def on_order_update(self, update):
        assert not self.in_tick, "an order update was delivered inside on_tick"
        self.ctx.state["log"].append(f"update:{update.kind.value}")

    def on_event(self, event):
        self.ctx.state["log"].append(f"event:{event.name}")

    def on_stop(self):
        self.ctx.state["log"].append("stop")


class FailsToStart(Strategy):
    """on_start raises."""

    def on_start(self):
        raise RuntimeError("cannot start")

    def on_tick(self, now):
        raise AssertionError("never ticked")


class FailsEveryTick(Strategy):
    """Quotes once, then raises every tick."""

    def on_start(self):
        mid = self.ctx.market.mid_price()
        self.ctx.orders.place_limit(Side.BUY, 0.01, mid * 0.5)

    def on_tick(self, now):
        raise ValueError("bad tick")


class BookWatcher(Strategy):
    """Counts books and trades."""

    class Params(Strategy.Params):
        amount: float = Field(1.0)

    def on_start(self):
        self.books = self.trades = 0

    def on_tick(self, now):
        pass

    def on_order_book(self, book):
        self.books += 1

    def on_trade(self, trade):
        self.trades += 1


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_shipped_strategies_fill_and_make_nonzero_pnl_within_30_s_on_the_default_sim(seed):
    runtime = runtime_for([{"id": "mm", "strategy": "market_maker"}, {"id": "mo", "strategy": "momentum"}],
                          seed=seed)
    runtime.run_virtual(30.0)
    report = runtime.reports.performance_report()
    for strategy_id in ("mm", "mo"):
        performance = report[strategy_id]["performance"]
        assert report[strategy_id]["status"] == RUNNING
        assert runtime.host.slots[strategy_id].account.fill_count > 0, strategy_id
        assert performance["volume_traded"] > 0
        assert performance["global_pnl_quote"] != 0.0
        assert set(performance) >= {"realized_pnl_quote", "unrealized_pnl_quote", "global_pnl_quote",
                                    "volume_traded", "close_type_counts"}


def test_two_copies_of_one_strategy_keep_their_own_params_accounts_and_order_ids():
    runtime = runtime_for([
        {"id": "tight", "strategy": "market_maker", "params": {"spread_bps": 5, "order_amount_quote": 10}},
        {"id": "wide", "strategy": "market_maker", "params": {"spread_bps": 40, "order_amount_quote": 50}},
    ])
    runtime.run_virtual(5.0)
    tight, wide = runtime.host.slots["tight"], runtime.host.slots["wide"]
    assert type(tight.strategy) is type(wide.strategy) and tight.strategy is not wide.strategy
    assert (tight.ctx.params.spread_bps, wide.ctx.params.spread_bps) == (5, 40)
    assert tight.account is not wide.account
    mid = runtime.venue.mid_price("BTC-USDT")
    tight_orders, wide_orders = tight.handle.open_orders(), wide.handle.open_orders()
    assert tight_orders and wide_orders
    assert all(o.client_order_id.startswith("tight-") for o in tight_orders)
    assert all(o.client_order_id.startswith("wide-") for o in wide_orders)
    assert max(abs(o.price / mid - 1) for o in tight_orders) < 0.002
    assert min(abs(o.price / mid - 1) for o in wide_orders) > 0.002
    assert tight.ctx.logger.name == "hive.strategy.tight"


def test_order_updates_arrive_after_the_tick_and_are_attributed_by_id_prefix():
    runtime = runtime_for([{"id": "rec", "strategy": "recording"}, {"id": "other", "strategy": "recording"}],
                          classes={"recording": Recording})
    runtime.run_virtual(3.0)
    log = runtime.host.slots["rec"].ctx.state["log"]
    # The market order placed in the first tick is reported after that tick, before the next one.
    assert log[:5] == ["start", "tick", "update:created", "update:filled", "update:completed"]
    assert runtime.host.slots["rec"].job.errors == 0
    assert "update:created" in log and "update:filled" in log and "update:completed" in log
    fills = runtime.host.slots["rec"].handle.fills
    assert [f.order_id for f in fills][0] == "rec-000001"
    assert runtime.host.slots["rec"].account.position == pytest.approx(0.01)


def test_a_strategy_failing_in_on_start_fails_alone():
    runtime = runtime_for([{"id": "bad", "strategy": "fails"}, {"id": "mm", "strategy": "market_maker"}],
                          classes={"fails": FailsToStart})
    runtime.run_virtual(3.0)
    report = runtime.reports.performance_report()
    assert report["bad"]["status"] == ERROR
    assert "on_start: RuntimeError: cannot start" in report["bad"]["error"]
    assert report["mm"]["status"] == RUNNING and report["mm"]["custom_info"]["ticks"] >= 3
    assert "error" not in report["mm"]


def test_failing_ticks_quarantine_the_strategy_cancel_its_orders_and_spare_the_others(caplog):
    runtime = runtime_for([{"id": "bad", "strategy": "fails", "interval": 0.5},
                           {"id": "mm", "strategy": "market_maker"}], classes={"fails": FailsEveryTick})
    with caplog.at_level(logging.ERROR, logger="hive.strategy.bad"):
        runtime.run_virtual(10.0)
    bad = runtime.host.slots["bad"]
    assert bad.job.status == ERROR and bad.job.errors == 5
    assert runtime.clock.ticks(bad.job.slot) == 5            # not scheduled after the quarantine
    assert bad.handle.open_orders() == []
    assert "quarantined after 5 consecutive failures" in runtime.reports.performance_report()["bad"]["error"]
    assert runtime.host.slots["mm"].job.ticks >= 10
    tracebacks = [r for r in caplog.records if r.name == "hive.strategy.bad" and r.exc_info]
    assert len(tracebacks) == 5


def test_stop_command_stops_all_and_cancels_orders_start_restarts_them():
    runtime = runtime_for([{"id": "rec", "strategy": "recording"}, {"id": "mm", "strategy": "market_maker"}],
                          classes={"recording": Recording})
    runtime.run_virtual(3.0)
    assert runtime.host.slots["mm"].handle.open_orders()
    assert runtime.controller.command_stop(StopRequest()) == {"status": 200, "msg": ""}
    assert {slot.job.status for slot in runtime.host.slots.values()} == {STOPPED}
    assert runtime.host.slots["mm"].handle.open_orders() == []
    assert runtime.host.slots["rec"].ctx.state["log"][-1] == "stop"
    ticks = runtime.host.slots["mm"].job.ticks
    runtime.run_virtual(3.0)
    assert runtime.host.slots["mm"].job.ticks == ticks                       # no ticks while stopped
    assert runtime.reports.performance_report()["mm"]["status"] == STOPPED
    assert runtime.controller.command_status(StatusRequest())["status"] == 400

    assert runtime.controller.command_start(StartRequest())["status"] == 200
    again = runtime.controller.command_start(StartRequest())
    assert again["status"] == 400 and "already running" in again["msg"]
    runtime.run_virtual(3.0)
    assert runtime.host.slots["mm"].job.ticks > ticks
    assert runtime.host.slots["rec"].ctx.state["log"].count("start") == 2    # state survives a restart
    status = runtime.controller.command_status(StatusRequest())
    assert status["status"] == 200 and "mm (market_maker, BTC-USDT): running" in status["data"]


def test_stop_can_leave_orders_open():
    runtime = runtime_for([{"id": "mm", "strategy": "market_maker"}])
    runtime.run_virtual(2.0)
    runtime.controller.command_stop(StopRequest(skip_order_cancellation=True))
    assert runtime.host.slots["mm"].handle.open_orders()


def test_history_lists_fills_with_their_strategy():
    runtime = runtime_for([{"id": "rec", "strategy": "recording"}], classes={"recording": Recording})
    runtime.run_virtual(3.0)
    trades = runtime.controller.command_history(HistoryRequest())["trades"]
    assert trades and trades[0]["controller_id"] == "rec" and trades[0]["trade_type"] == "BUY"


def test_order_the_account_cannot_afford_is_rejected_locally():
    runtime = runtime_for([{"id": "rec", "strategy": "recording"}], classes={"recording": Recording})
    runtime.run_virtual(1.0)
    slot = runtime.host.slots["rec"]
    updates = []
    slot.strategy.on_order_update = updates.append
    order_id = slot.ctx.orders.place_limit(Side.BUY, 1_000.0, 100.0)       # 100,000 USDT > 10,000
    runtime.delivery.drain()
    assert order_id == "rec-000002"
    [update] = updates
    assert update.kind is UpdateKind.REJECTED and "USDT" in update.reason
    assert update.order.status is OrderStatus.REJECTED
    assert slot.account.available("USDT") == pytest.approx(slot.account.balances["USDT"])


def test_books_and_trades_go_only_to_strategies_that_want_them():
    runtime = runtime_for([{"id": "watch", "strategy": "watcher"}, {"id": "mm", "strategy": "market_maker"}],
                          classes={"watcher": BookWatcher}, trades_per_step=2.0)
    runtime.run_virtual(5.0)
    watcher = runtime.host.slots["watch"]
    assert watcher.strategy.books >= 19 and watcher.strategy.trades > 0
    assert watcher.wants_books and not runtime.host.slots["mm"].wants_books


def test_external_events_reach_strategies_implementing_on_event():
    runtime = runtime_for([{"id": "rec", "strategy": "recording"}], classes={"recording": Recording})
    runtime.run_virtual(1.0)
    runtime.delivery.deliver_event(ExternalEvent(name="tv.signal.buy", data={"price": 1}))
    assert runtime.host.slots["rec"].ctx.state["log"][-1] == "event:tv.signal.buy"


def test_momentum_trades_on_an_external_buy_signal():
    runtime = runtime_for([{"id": "mo", "strategy": "momentum"}])
    runtime.run_virtual(1.0)
    runtime.delivery.deliver_event(ExternalEvent(name="tv.alert", data={"action": "BUY"}))
    runtime.delivery.deliver_event(ExternalEvent(name="tv.alert", data={"note": "ignored"}))
    fills = list(runtime.host.slots["mo"].handle.fills)
    assert [f.side for f in fills] == [Side.BUY] and fills[0].order_type.value == "MARKET"


def test_example_instance_runs_in_virtual_time():
    path = Path(__file__).resolve().parents[2] / "examples" / "instance.yml"
    from hive_core.config import load_instance_config
    config = load_instance_config(path)
    runtime = Runtime(config, resolve_instance(config, base_dir=path.parent), realtime=False, start_time=START)
    runtime.run_virtual(60.0)
    report = runtime.reports.performance_report()
    assert set(report) == {"mm-tight", "mm-wide", "trend"}
    assert all(entry["status"] == RUNNING for entry in report.values())
    assert sum(runtime.host.slots[s].account.fill_count for s in report) > 0
