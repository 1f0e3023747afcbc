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
        rerun_until(at, lambda page: any("insufficient balance" in code.value for code in page.code), timeout=30)
        assert any("Hummingbot stopped." in code.value for code in at.code)  # its notifications, as log lines

        _open_tab(at, "Resources")
        assert any("Nothing is measured of an external bot" in info.value for info in at.info)
        assert not at.exception, at.exception
    finally:
        bot.close()
        client.close()
