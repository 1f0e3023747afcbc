"""One strategy of a REAL running hive_core instance, through the backend's per-strategy routes: stop and resume
it while its neighbour runs on, change its params, hot-reload another library version of its code without a
restart and without losing its PnL; each shows in the strategy's history (who, when, version from -> to), and what
the operator chose outlives a restart of the instance. A version the bot refuses leaves the old one running and on
disk."""
from __future__ import annotations

import pytest

from backend.client import BackendError
from hive_core.strategies import market_maker
from tests.backend.conftest import USERNAME
from tests.polling import wait_until

pytestmark = pytest.mark.timeout(180)

SHIPPED = market_maker.__file__


def maker_source(version_words: str, extra_param: str = "") -> str:
    """The shipped market maker under another name, saying which version it is when it starts."""
    with open(SHIPPED) as file:
        source = file.read()
    source = source.replace("class MarketMaker(Strategy):", "class MyMaker(Strategy):")
    source = source.replace("MarketMaker.Params", "MyMaker.Params")
    source = source.replace("    def on_start(self) -> None:\n",
                            f"    def on_start(self) -> None:\n        self.ctx.logger.info({version_words!r})\n")
    if extra_param:
        source = source.replace("    class Params(Strategy.Params):\n",
                                f"    class Params(Strategy.Params):\n        {extra_param}\n")
    return source


def strategy(client, name: str, strategy_id: str) -> dict:
    return next(item for item in client.get_instance(name)["strategies"] if item["id"] == strategy_id)


def statuses(client, name: str) -> dict[str, str | None]:
    return {item["id"]: item["status"] for item in client.get_instance(name)["strategies"]}


@pytest.fixture
def two_strategies(real_backend):
    """`sc1`: s1 runs the uploaded my_maker (version 2 of 2), s2 the shipped market maker; both running, s1 traded."""
    client = real_backend.client
    client.upload_strategy("my_maker.py", maker_source("my_maker version one"))
    assert client.save_strategy("my_maker", maker_source("my_maker version two"))["version"] == 2
    client.create_instance({"name": "sc1", "restart_policy": {"policy": "never"}, "strategies": [
        {"id": "s1", "strategy": "my_maker", "params": {"spread_bps": 5}},
        {"id": "s2", "strategy": "market_maker", "params": {"spread_bps": 5}}]})
    wait_until(lambda: statuses(client, "sc1") == {"s1": "running", "s2": "running"}, 30, message="sc1 running")
    wait_until(lambda: strategy(client, "sc1", "s1")["pnl"]["volume"] > 0, 60, message="s1 traded")
    return client


def test_stop_resume_params_and_hot_reload_of_one_strategy_keep_its_pnl_and_outlive_a_restart(two_strategies):
    client = two_strategies
    assert strategy(client, "sc1", "s1")["version"] == 2

    assert client.stop_strategy("sc1", "s1")["strategy"] == "s1"
    wait_until(lambda: statuses(client, "sc1") == {"s1": "stopped", "s2": "running"}, 15, message="s1 alone stopped")
    assert client.get_instance("sc1")["state"] == "running"
    client.resume_strategy("sc1", "s1")
    wait_until(lambda: statuses(client, "sc1") == {"s1": "running", "s2": "running"}, 15, message="s1 resumed")

    changed = client.change_strategy_params("sc1", "s1", {"spread_bps": 7})
    assert changed["params"]["spread_bps"] == 7 and changed["detail"] == "config for s1: spread_bps 5 → 7"
    assert strategy(client, "sc1", "s1")["params"]["spread_bps"] == 7

    pid = client.get_instance("sc1")["pid"]
    before = strategy(client, "sc1", "s1")["pnl"]
    reloaded = client.reload_strategy("sc1", "s1", 1)
    assert reloaded["version"] == 1 and reloaded["strategy_status"] == "running"
    assert reloaded["detail"] == "strategy/reload for s1: my_maker version 2 → 1"
    after = wait_until(lambda: (item := strategy(client, "sc1", "s1"))["pnl"]["volume"] > before["volume"] and item,
                       30, message="s1 trading on after the reload")
    assert after["version"] == 1 and client.get_instance("sc1")["pid"] == pid     # no restart of the instance
    assert after["pnl"]["volume"] >= before["volume"]                               # its metrics were kept
    assert strategy(client, "sc1", "s2")["version"] is None                         # the shipped one untouched
    wait_until(lambda: any(line["msg"] == "my_maker version one" for line in client.instance_logs("sc1", 500, "s1")),
               15, message="the reloaded code runs")

    history = client.strategy_history("sc1", "s1")
    assert [(entry["detail"].split(";")[0], entry["outcome"]) for entry in history] == [   # (a report may add words)
        ("strategy/reload for s1: my_maker version 2 → 1", "ok"), ("config for s1: spread_bps 5 → 7", "ok"),
        ("strategy/resume for s1", "ok"), ("stop for s1", "ok")]
    assert {entry["actor"] for entry in history} == {f"user:{USERNAME}"}
    assert {entry["strategy"] for entry in history} == {"s1"} and client.strategy_history("sc1", "s2") == []

    client.restart_instance("sc1")    # a later start runs what the operator chose: version 1, spread 7
    wait_until(lambda: statuses(client, "sc1") == {"s1": "running", "s2": "running"}, 30, message="sc1 restarted")
    again = strategy(client, "sc1", "s1")
    assert again["version"] == 1 and again["params"]["spread_bps"] == 7
    wait_until(lambda: sum(line["msg"] == "my_maker version one" for line in client.instance_logs("sc1", 1000, "s1"))
               >= 2, 15, message="version one started again")


def test_a_version_the_bot_refuses_leaves_the_old_one_running_and_on_disk(two_strategies, real_backend):
    client = two_strategies
    client.save_strategy("my_maker", maker_source("my_maker version three", "required_knob: int"))  # version 3
    with pytest.raises(BackendError) as refused:
        client.reload_strategy("sc1", "s1", 3)
    assert refused.value.status == 409 and "refuses its params" in refused.value.message
    assert strategy(client, "sc1", "s1")["version"] == 2 and statuses(client, "sc1")["s1"] == "running"
    on_disk = real_backend.settings.data_dir / "instances" / "sc1" / "strategies" / "my_maker.py"
    assert "my_maker version two" in on_disk.read_text()
    [entry] = client.strategy_history("sc1", "s1")
    assert entry["outcome"] == "error" and entry["detail"].startswith("strategy/reload for s1: my_maker version 2 → 3")

    with pytest.raises(BackendError) as unknown:
        client.reload_strategy("sc1", "s1", 9)
    assert unknown.value.status == 404
    with pytest.raises(BackendError) as shipped:
        client.reload_strategy("sc1", "s2", 1)
    assert shipped.value.status == 422 and "shipped example" in shipped.value.message
    with pytest.raises(BackendError) as missing:
        client.stop_strategy("sc1", "nope")
    assert missing.value.status == 404
