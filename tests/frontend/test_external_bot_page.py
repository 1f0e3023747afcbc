"""An external bot (a sim bot speaking like a headless Hummingbot) on the instances page: its detail shows its trades,
logs and state as an instance's, its start and stop are commands whose error replies show in the bot's words, and
what Hive cannot know of it says why it is absent."""
from __future__ import annotations

import pytest

from backend.client import HiveClient
from tests.backend.conftest import broker_login
from tests.backend.sim_bots import HummingbotSim
from tests.frontend.helpers import badges, errors, rerun_until, table_with
from tests.polling import wait_until

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]


def _open_tab(at, label: str):
    at.session_state["instances_detail_tab"] = label
    return at.run()


def test_an_external_bots_detail_shows_what_it_reported_and_its_error_replies(app, backend):
    client = HiveClient(backend.url, backend.username, backend.password)
    client.start_broker()
    bot = HummingbotSim("127.0.0.1", backend.broker_port, "hbpage", login=broker_login(client, "bot", "hbpage"))
    try:
        wait_until(lambda: any(i["name"] == "hbpage" and i["state"] == "running" for i in client.list_instances()),
                   20, message="the bot heard and running")
        bot.log("ERROR", "Order o2 failed: insufficient balance")
        bot.fill("o1", "SELL", 2000.0, 0.5)
        wait_until(lambda: client.instance_trades_count("hbpage") == 1, 15, message="its trade stored")

        at = app.switch_page("pages/instances/app.py").run()
        rerun_until(at, lambda page: "instances_stop" in [button.key for button in page.button], timeout=30)
        assert "Running" in badges(at)
        assert any("Strategy controls" in caption.value and "its own" in caption.value for caption in at.caption)

        at.button(key="instances_start").click().run()  # it runs already: Hummingbot answers 400
        [error] = errors(at)
        assert error.startswith("**Could not start hbpage.** hbpage answered start with status 400: ")
        assert 'The bot is already running - please run "stop" first' in error

        at.button(key="instances_stop").click().run()
        rerun_until(at, lambda page: "Stopped" in badges(page), timeout=30)
        assert any(caption.value.startswith("Reason: external bot; connected, strategy stopped (")
                   for caption in at.caption)

        _open_tab(at, "Trades")
        rerun_until(at, lambda page: any("Fee" in frame.value.columns for frame in page.dataframe), timeout=30)
        assert len(table_with(at, "Fee")) == 1

        _open_tab(at, "Logs")
        # its notifications, as log lines ("Hummingbot stopped." follows the stop's reply: it may come a refresh later)
        rerun_until(at, lambda page: any("Hummingbot stopped." in code.value for code in page.code), timeout=30)
        assert any("insufficient balance" in code.value for code in at.code)

        _open_tab(at, "Resources")
        assert any("Nothing is measured of an external bot" in info.value for info in at.info)
        assert not at.exception, at.exception
    finally:
        bot.close()
        client.close()


def test_bulk_stop_and_start_reach_an_external_bot_by_command(app, backend):
    """Selected with an instance Hive runs, an external bot's strategy is stopped and started by its commands (the
    backend refuses to stop its process: it is not Hive's); the confirmation says so."""
    client = HiveClient(backend.url, backend.username, backend.password)
    client.start_broker()
    client.create_instance({"name": "alpha", "strategies": [{"id": "mm", "strategy": "market_maker"}],
                            "restart_policy": {"policy": "never"}})
    bot = HummingbotSim("127.0.0.1", backend.broker_port, "hbbulk", login=broker_login(client, "bot", "hbbulk"))
    try:
        def states() -> dict[str, tuple[str, str]]:
            return {i["name"]: (i["state"], i["reason"]) for i in client.list_instances()}

        wait_until(lambda: {name: state for name, (state, _) in states().items()} == {"alpha": "running",
                                                                                     "hbbulk": "running"},
                   60, message=lambda: f"alpha and the external bot running; states and reasons: {states()}")
        at = app.switch_page("pages/instances/app.py").run()
        rerun_until(at, lambda page: list(table_with(page, "Heartbeat")["Name"]) == ["alpha", "hbbulk"], timeout=30)
        at.session_state["instances_table"] = {"selection": {"rows": [0, 1], "columns": [], "cells": []}}
        at.run()
        assert "hbbulk: the strategy, by command (external)" in at.button(key="instances_bulk_stop").help

        at.button(key="instances_bulk_stop").click().run()
        assert any("Stop **2 instances**: alpha, hbbulk? For the external bots (hbbulk) this stops their strategy "
                   "by command" in warning.value for warning in at.warning)
        at.button(key="instances_bulk_confirm").click().run()
        assert any(s.value.startswith("Stopped 2: alpha, hbbulk") for s in at.success), errors(at)
        wait_until(lambda: client.get_instance("hbbulk")["state"] == "stopped", 15, message="the bot's stop heard")
        assert bot._client.is_connected()   # its process is not Hive's: it stays on the broker

        at.button(key="instances_bulk_dismiss").click().run()
        at.button(key="instances_bulk_start").click().run()   # a start asks nothing
        assert any(s.value.startswith("Started 2: alpha, hbbulk") for s in at.success), errors(at)
        wait_until(lambda: client.get_instance("hbbulk")["state"] == "running", 15, message="the bot's start heard")
        assert not at.exception, at.exception
    finally:
        client.stop_instance("alpha")
        bot.close()
