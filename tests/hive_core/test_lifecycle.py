"""One strategy at a time, in virtual time: add, remove, stop, start, resume and hot-reload one
strategy while another keeps ticking and trading; quarantine (failures, overruns) and resume."""
from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest

from hive_core.config import parse_instance_config
from hive_core.host import StrategyError
from hive_core.loader import StrategyLoader, resolve_instance
from hive_core.protocol import (
    StartRequest,
    StopRequest,
    StrategyAddRequest,
    StrategyReloadRequest,
    StrategyRemoveRequest,
    StrategyRequest,
)
from hive_core.runtime import Runtime
from hive_core.scheduler import ERROR, RUNNING, STOPPED
from tests.hive_core.conftest import TAKER_STRATEGY

START = 1_700_000_000.0

VERSIONED = '''
from hive_core.strategy import Strategy

VERSION = {version}

class Versioned(Strategy):
    """Logs its hooks with its version."""

    def on_start(self):
        self.ctx.state.setdefault("log", []).append(f"start v{{VERSION}}")

    def on_tick(self, now):
        self.ctx.state["ticks_v{version}"] = self.ctx.state.get("ticks_v{version}", 0) + 1

    def on_stop(self):
        self.ctx.state["log"].append(f"stop v{{VERSION}}")
'''

SLOW = '''
import time
from pydantic import Field
from hive_core.strategy import Strategy

class Slow(Strategy):
    """Takes `sleep_ms` per tick."""

    class Params(Strategy.Params):
        sleep_ms: float = Field(5.0, ge=0)

    def on_tick(self, now):
        time.sleep(self.ctx.params.sleep_ms / 1000)
'''

FLAKY = '''
from hive_core.strategy import Strategy

class Flaky(Strategy):
    """Raises while ctx.state["fail"] is true."""

    def on_start(self):
        self.ctx.state.setdefault("fail", True)
        self.ctx.state.setdefault("objects", []).append(id(self))

    def on_tick(self, now):
        if self.ctx.state["fail"]:
            raise ValueError("not today")
        self.ctx.state["ok_ticks"] = self.ctx.state.get("ok_ticks", 0) + 1
'''

FAILS_START = '''
from hive_core.strategy import Strategy

class FailsStart(Strategy):
    """on_start raises."""

    def on_start(self):
        raise RuntimeError("no market for me")

    def on_tick(self, now):
        pass
'''


@pytest.fixture
def strategies(tmp_path: Path) -> Path:
    directory = tmp_path / "strategies"
    directory.mkdir()
    for name, source in {"taker": TAKER_STRATEGY, "versioned": VERSIONED.format(version=1), "slow": SLOW,
                         "flaky": FLAKY, "fails_start": FAILS_START}.items():
        (directory / f"{name}.py").write_text(textwrap.dedent(source))
    return directory


def build(strategy_dir: Path, entries: list[dict], **scheduler) -> Runtime:
    config = parse_instance_config({"instance_id": "life", "strategies": entries, "venue": {"seed": 3},
                                    "strategy_dirs": [str(strategy_dir)], "scheduler": scheduler})
    loader = StrategyLoader(config.strategy_dirs)
    return Runtime(config, resolve_instance(config, loader=loader), realtime=False, start_time=START, loader=loader)


TAKER = {"id": "taker", "strategy": "taker", "interval": 0.5}


def fills(runtime: Runtime, strategy_id: str) -> int:
    return runtime.host.slots[strategy_id].account.fill_count


def test_stop_and_start_one_strategy_while_the_other_keeps_trading(strategies):
    runtime = build(strategies, [TAKER, {"id": "v", "strategy": "versioned"}])
    runtime.run_virtual(3.0)
    runtime.host.stop_strategy("v")
    assert runtime.host.slots["v"].job.status == STOPPED and runtime.host.slots["taker"].job.status == RUNNING
    ticks_v, fills_taker = runtime.host.slots["v"].job.ticks, fills(runtime, "taker")
    runtime.run_virtual(3.0)
    assert runtime.host.slots["v"].job.ticks == ticks_v
    assert fills(runtime, "taker") >= fills_taker + 5
    assert runtime.host.start_strategy("v") is True
    runtime.run_virtual(2.0)
    assert runtime.host.slots["v"].job.ticks > ticks_v
    assert runtime.host.slots["v"].ctx.state["log"] == ["start v1", "stop v1", "start v1"]


def test_add_strategy_while_running_ticks_it_and_the_others_keep_trading(strategies):
    runtime = build(strategies, [TAKER])
    runtime.run_virtual(2.0)
    before = fills(runtime, "taker")
    slot = runtime.host.add_strategy({"id": "v2", "strategy": "versioned", "interval": 0.25, "priority": 3})
    assert slot.job.status == RUNNING and slot.job.priority == 3
    assert [entry.id for entry in runtime.config.strategies] == ["taker", "v2"]
    runtime.run_virtual(2.0)
    assert slot.ctx.state["ticks_v1"] >= 7
    assert fills(runtime, "taker") >= before + 3
    assert runtime.reports.performance_report()["v2"]["status"] == RUNNING


def test_added_strategy_can_wait_to_be_started(strategies):
    runtime = build(strategies, [TAKER])
    runtime.run_virtual(1.0)
    slot = runtime.host.add_strategy({"id": "later", "strategy": "versioned"}, start=False)
    runtime.run_virtual(2.0)
    assert slot.job.status == STOPPED and slot.job.ticks == 0


def test_remove_strategy_cancels_its_orders_frees_its_slot_and_the_others_keep_trading(strategies):
    runtime = build(strategies, [TAKER, {"id": "mm", "strategy": "market_maker"}])
    runtime.run_virtual(3.0)
    mm = runtime.host.slots["mm"]
    assert mm.handle.open_orders()
    clock_slot = mm.job.slot
    runtime.host.remove_strategy("mm")
    assert "mm" not in runtime.host.slots and "mm" not in runtime.reports.performance_report()
    assert mm.handle.open_orders() == [] and mm.job.status == "removed"
    assert runtime.clock.is_free(clock_slot)
    before = fills(runtime, "taker")
    runtime.run_virtual(3.0)
    assert fills(runtime, "taker") >= before + 5
    again = runtime.host.add_strategy({"id": "mm2", "strategy": "market_maker"})
    assert again.job.slot == clock_slot                # the freed slot is reused
    runtime.run_virtual(2.0)
    assert again.job.ticks >= 2 and again.handle.open_orders()


def test_reload_runs_the_new_file_version_keeps_state_and_calls_stop_then_start(strategies):
    runtime = build(strategies, [TAKER, {"id": "v", "strategy": "versioned"}])
    runtime.run_virtual(3.0)
    slot = runtime.host.slots["v"]
    old_object, ticks = slot.strategy, slot.job.ticks
    path = strategies / "versioned.py"
    path.write_text(textwrap.dedent(VERSIONED.format(version=2)))
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 1_000_000))
    fills_before = fills(runtime, "taker")
    assert runtime.host.reload_strategy("v") is True
    assert slot.strategy is not old_object and type(slot.strategy) is not type(old_object)
    runtime.run_virtual(2.0)
    state = slot.ctx.state
    assert state["log"] == ["start v1", "stop v1", "start v2"]
    assert state["ticks_v1"] == ticks and state["ticks_v2"] >= 2       # state kept across the reload
    assert slot.job.ticks >= ticks + 2                                   # metrics kept
    assert fills(runtime, "taker") >= fills_before + 3                   # the other traded on


def test_reload_can_drop_state_and_metrics(strategies):
    runtime = build(strategies, [{"id": "v", "strategy": "versioned"}])
    runtime.run_virtual(3.0)
    runtime.host.reload_strategy("v", keep_state=False, reset_metrics=True)
    slot = runtime.host.slots["v"]
    assert slot.ctx.state == {"log": ["start v1"]} and slot.job.ticks == 0


def test_reload_of_a_broken_file_is_refused_and_the_old_version_keeps_running(strategies):
    runtime = build(strategies, [{"id": "v", "strategy": "versioned"}])
    runtime.run_virtual(2.0)
    old_object = runtime.host.slots["v"].strategy
    (strategies / "versioned.py").write_text("def broken(:\n")
    with pytest.raises(StrategyError, match=r"^strategy: cannot reload 'v': SyntaxError at line 1"):
        runtime.host.reload_strategy("v")
    assert runtime.host.slots["v"].strategy is old_object and runtime.host.slots["v"].job.status == RUNNING
    ticks = runtime.host.slots["v"].job.ticks
    runtime.run_virtual(2.0)
    assert runtime.host.slots["v"].job.ticks > ticks


def test_a_strategy_failing_in_on_start_fails_alone_and_is_reported(strategies):
    runtime = build(strategies, [TAKER, {"id": "nostart", "strategy": "fails_start"}])
    runtime.run_virtual(2.0)
    report = runtime.reports.performance_report()
    assert report["nostart"]["status"] == ERROR
    assert "on_start: RuntimeError: no market for me" in report["nostart"]["error"]
    assert report["taker"]["status"] == RUNNING and fills(runtime, "taker") >= 3
    added = runtime.host.add_strategy({"id": "nostart2", "strategy": "fails_start"})
    assert added.job.status == ERROR and added.job.ticks == 0


def test_overrunning_strategy_is_quarantined_reported_and_can_be_resumed(strategies):
    runtime = build(strategies, [TAKER, {"id": "slow", "strategy": "slow", "params": {"sleep_ms": 3}}],
                    tick_budget_ms=1, max_consecutive_overruns=3)
    runtime.run_virtual(5.0)
    slow = runtime.host.slots["slow"]
    assert slow.job.status == ERROR and slow.job.ticks == 3 and slow.job.budget_overruns == 3
    entry = runtime.reports.performance_report()["slow"]
    assert entry["status"] == "error" and "3 consecutive budget overruns" in entry["error"]
    assert entry["custom_info"]["budget_overruns"] == 3 and entry["custom_info"]["quarantines"] == 1
    assert runtime.host.slots["taker"].job.status == RUNNING
    old_object = slow.strategy
    assert runtime.host.resume_strategy("slow") is True
    assert slow.strategy is old_object and slow.job.status == RUNNING     # resumed, not restarted
    runtime.run_virtual(5.0)
    assert slow.job.status == ERROR and slow.job.quarantines == 2         # still too slow: quarantined again


def test_failing_strategy_is_quarantined_and_resume_keeps_its_object(strategies):
    runtime = build(strategies, [TAKER, {"id": "flaky", "strategy": "flaky", "interval": 0.5}],
                    max_consecutive_failures=3)
    runtime.run_virtual(5.0)
    flaky = runtime.host.slots["flaky"]
    assert flaky.job.status == ERROR and flaky.job.errors == 3
    assert runtime.clock.ticks(flaky.job.slot) == 3
    flaky.ctx.state["fail"] = False
    assert runtime.host.resume_strategy("flaky") is True
    runtime.run_virtual(2.0)
    assert flaky.job.status == RUNNING and flaky.ctx.state["ok_ticks"] >= 3
    assert len(flaky.ctx.state["objects"]) == 1                            # on_start not called again
    with pytest.raises(StrategyError, match="already running"):
        runtime.host.resume_strategy("flaky")


@pytest.mark.parametrize(("entry", "message"), [
    ({"id": "taker", "strategy": "versioned"}, "id: duplicate strategy id 'taker'"),
    ({"id": "x", "strategy": "nope"}, "strategy: unknown strategy 'nope'"),
    ({"id": "x", "strategy": "versioned", "interval": "often"}, "interval: Input should be a valid number"),
    ({"id": "x", "strategy": "slow", "params": {"sleep_ms": -1}}, "params.sleep_ms: Input should be greater"),
    ({"id": "x", "strategy": "slow", "params": {"speed": 1}}, "params.speed: Extra inputs are not permitted"),
    ({"id": "x", "strategy": "versioned", "quota": {"orders_per_second": 1000}},
     "quota.orders_per_second: 1000/s cannot be met"),
    ({"id": "x", "strategy": "versioned", "trading_pair": "DOGE-USDT"}, "trading_pair: 'DOGE-USDT' is not traded"),
    ({"id": "bad id", "strategy": "versioned"}, "id: 'bad id' is not a valid id"),
    ({"strategy": "versioned"}, "id: Field required"),
    ({"id": "x", "strategy": "versioned", "colour": "red"}, "colour: Extra inputs are not permitted"),
])
def test_add_refuses_a_bad_entry_naming_the_field_and_changes_nothing(strategies, entry, message):
    runtime = build(strategies, [TAKER])
    runtime.run_virtual(1.0)
    with pytest.raises(StrategyError) as caught:
        runtime.host.add_strategy(entry)
    assert str(caught.value).startswith(message), str(caught.value)
    assert list(runtime.host.slots) == ["taker"] and [e.id for e in runtime.config.strategies] == ["taker"]


def test_unknown_strategy_id_is_refused_listing_the_known_ids(strategies):
    runtime = build(strategies, [TAKER, {"id": "v", "strategy": "versioned"}])
    host = runtime.host
    for action in (host.stop_strategy, host.start_strategy, host.resume_strategy, host.remove_strategy,
                   host.reload_strategy):
        with pytest.raises(StrategyError, match=r"^strategy: unknown strategy id 'zz'; known: taker, v$"):
            action("zz")


def test_commands_address_one_strategy_and_answer_400_naming_the_field(strategies):
    runtime = build(strategies, [TAKER, {"id": "v", "strategy": "versioned"}])
    runtime.run_virtual(1.0)
    controller = runtime.controller
    assert controller.command_stop(StopRequest(strategy="v"))["status"] == 200
    assert runtime.host.slots["v"].job.status == STOPPED and runtime.host.slots["taker"].job.status == RUNNING
    started = runtime.controller.command_start(StartRequest(strategy="v"))
    assert started == {"status": 200, "msg": "", "strategy": "v", "strategy_status": RUNNING}
    again = runtime.controller.command_start(StartRequest(strategy="v"))
    assert again["status"] == 400 and again["msg"] == "data.strategy: 'v' is already running"
    unknown = runtime.controller.command_stop(StopRequest(strategy="nope"))
    assert unknown == {"status": 400, "msg": "data.strategy: unknown strategy id 'nope'; known: taker, v"}

    added = controller.command_strategy_add(StrategyAddRequest.model_validate({"id": "v3", "strategy": "versioned"}))
    assert added == {"status": 200, "msg": "", "strategy": "v3", "strategy_status": RUNNING}
    bad = controller.command_strategy_add(StrategyAddRequest.model_validate({"id": "v3", "strategy": "versioned"}))
    assert bad["status"] == 400 and bad["msg"] == "data.id: duplicate strategy id 'v3'"
    failed = controller.command_strategy_add(StrategyAddRequest.model_validate({"id": "ns", "strategy": "fails_start"}))
    assert failed["status"] == 400 and "failed to start" in failed["msg"] and failed["strategy"] == "ns"

    reloaded = runtime.controller.command_strategy_reload(StrategyReloadRequest(strategy="v3"))
    assert reloaded["status"] == 200 and reloaded["strategy_status"] == RUNNING
    removed = runtime.controller.command_strategy_remove(StrategyRemoveRequest(strategy="v3"))
    assert removed == {"status": 200, "msg": "", "strategy": "v3", "strategy_status": "removed"}
    runtime.run_virtual(1.0)
    assert set(runtime.reports.performance_report()) == {"taker", "v", "ns"}
    resumed = runtime.controller.command_strategy_resume(StrategyRequest(strategy="taker"))
    assert resumed["status"] == 400 and "already running" in resumed["msg"]


def test_performance_report_carries_scheduling_metrics_and_instance_figures(strategies):
    runtime = build(strategies, [TAKER, {"id": "v", "strategy": "versioned", "priority": 2}], policy="priority")
    runtime.run_virtual(5.0)
    report = runtime.reports.performance_report()
    info = report["taker"]["custom_info"]
    for field in ("ticks", "errors", "overruns", "budget_overruns", "starvation", "skipped", "quarantines",
                  "lag_p50_ms", "lag_p99_ms", "run_time_total_s", "run_time_max_ms", "run_time_p99_ms",
                  "open_orders_count", "global_pnl_quote", "position", "interval", "priority"):
        assert field in info, field
    assert info["ticks"] >= 9 and info["starvation"] == 0 and info["lag_p99_ms"] == 0.0   # virtual time: on time
    assert info["run_time_total_s"] > 0 and report["v"]["custom_info"]["priority"] == 2
    assert all("instance" not in entry["custom_info"] for entry in report.values())   # once, in P/metrics
    payload = runtime.reports.metrics_report()
    assert isinstance(payload["timestamp"], int)
    instance = payload["instance"]
    assert instance["strategies"] == 2 and instance["running"] == 2 and instance["policy"] == "priority"
    assert instance["ticks"] == info["ticks"] + report["v"]["custom_info"]["ticks"]
    assert instance["starvation"] == 0 and instance["in_error"] == 0
