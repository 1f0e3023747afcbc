"""The strategy controls on an instance's detail: stop and resume one strategy while the other runs on, change
its params from the form built from its schema (prefilled with what it runs), reload its code; each lands in the
strategy's history table."""
from __future__ import annotations

import pytest

from backend.client import HiveClient
from tests.frontend.helpers import errors, rerun_until
from tests.polling import wait_until

PAGE = "pages/instances/app.py"
NAME = "ctl"


@pytest.fixture
def client(backend):
    hive = HiveClient(backend.url, backend.username, backend.password)
    hive.start_broker()
    hive.create_instance({"name": NAME, "restart_policy": {"policy": "never"}, "strategies": [
        {"id": "s1", "strategy": "market_maker", "params": {"spread_bps": 5}},
        {"id": "s2", "strategy": "market_maker", "params": {"spread_bps": 6}}]})
    wait_until(lambda: [s["status"] for s in hive.get_instance(NAME)["strategies"]] == ["running", "running"], 60,
               message="both strategies running")
    yield hive
    hive.close()


def statuses(client) -> dict[str, str]:
    return {item["id"]: item["status"] for item in client.get_instance(NAME)["strategies"]}


def history(at) -> list[str]:
    """The commands of the strategy history table (the first with a Command column, while it has rows)."""
    frames = [frame.value for frame in at.dataframe if "Command" in frame.value.columns]
    return list(frames[0]["Command"]) if frames else []


def test_one_strategy_is_stopped_resumed_reconfigured_and_reloaded_from_the_detail(app, client):
    at = app.switch_page(PAGE).run()
    at.selectbox(key="instances_selected").select(NAME).run()
    rerun_until(at, lambda page: any(c.value.startswith("market_maker · running") for c in page.caption), 30)
    assert at.selectbox(key="instances_strategy_pick").value == "s1"
    assert at.number_input(key=f"instances_strategy_params_{NAME}_s1_spread_bps").value == 5   # what it runs

    at.button(key="instances_strategy_stop").click().run()
    assert not errors(at)
    wait_until(lambda: statuses(client) == {"s1": "stopped", "s2": "running"}, 15, message="s1 alone stopped")
    rerun_until(at, lambda page: history(page) == ["stop for s1"], 15)

    at.button(key="instances_strategy_resume").click().run()
    wait_until(lambda: statuses(client) == {"s1": "running", "s2": "running"}, 15, message="s1 resumed")

    at.number_input(key=f"instances_strategy_params_{NAME}_s1_spread_bps").set_value(9)
    next(button for button in at.button if button.label == "Apply parameters").click().run()
    assert not errors(at)
    assert client.get_instance(NAME)["strategies"][0]["params"]["spread_bps"] == 9

    at.button(key="instances_strategy_reload_s1").click().run()
    assert not errors(at)
    expected = ["strategy/reload for s1", "config for s1: spread_bps 5 → 9", "strategy/resume for s1", "stop for s1"]
    wait_until(lambda: at.run() and history(at) == expected, 15,
               message=lambda: f"the strategy history {expected}; it showed {history(at)}")

    at.selectbox(key="instances_strategy_pick").select("s2").run()            # the other one: its own history
    assert at.number_input(key=f"instances_strategy_params_{NAME}_s2_spread_bps").value == 6
    assert any(c.value == "No stop, resume, parameter change or reload yet." for c in at.caption)
