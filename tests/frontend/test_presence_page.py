"""The Instances page on bots that fall silent: a late one shows Late (table and badge) before any error, and an
external bot silent for longer than HIVE_EXTERNAL_GONE_AFTER leaves the table for the collapsed gone section, from
which it is forgotten."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from backend.client import HiveClient
from tests.backend.conftest import broker_login
from tests.backend.sim_bots import SimBot
from tests.frontend.backend_process import BackendProcess
from tests.frontend.helpers import badges, rerun_until, table_with
from tests.polling import wait_until

PAGE = "pages/instances/app.py"
HEARD_WITHIN = 15.0  # s: a bot heard, late or gone as the settings say (bounded, far below the heartbeat timeout)


@pytest.fixture
def backend(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[BackendProcess]:
    """The test backend with the HIVE_* settings the test gives (indirect parametrization); heartbeats every 1 s, so
    a bot is late after 2 s, and in error only after 10 minutes."""
    server = BackendProcess(tmp_path / "data", settings={"HIVE_HEARTBEAT_TIMEOUT": "600", **request.param})
    server.start()
    yield server
    server.stop()


def silent_bot(backend: BackendProcess, client: HiveClient, name: str) -> SimBot:
    bot = SimBot("127.0.0.1", backend.broker_port, name, login=broker_login(client, "bot", name))
    wait_until(lambda: name in [item["name"] for item in client.list_instances()], HEARD_WITHIN,
               message=f"{name} heard")
    bot.fall_silent()
    return bot


@pytest.mark.parametrize("backend", [{}], indirect=True)
def test_a_bot_whose_heartbeats_stopped_shows_late_in_the_table_and_its_badge(app, backend, client) -> None:
    bot = silent_bot(backend, client, "lagging")
    try:
        at = app.switch_page(PAGE).run()
        rerun_until(at, lambda at: list(table_with(at, "Heartbeat")["State"]) == ["Late"], HEARD_WITHIN)
        assert table_with(at, "Heartbeat")["Reason"][0].startswith("external bot; late: no heartbeat for ")
        assert badges(at) == ["Late"]
        assert not at.exception, at.exception
    finally:
        bot.close()


@pytest.mark.parametrize("backend", [{"HIVE_EXTERNAL_GONE_AFTER": "3"}], indirect=True)
def test_a_bot_silent_for_long_is_listed_gone_under_the_table_and_forgotten_from_there(app, backend, client) -> None:
    bot = silent_bot(backend, client, "faded")
    try:
        wait_until(lambda: client.gone_bots() != [], HEARD_WITHIN, message="faded gone")
        at = app.switch_page(PAGE).run()
        rerun_until(at, lambda at: "Gone external bots" in [e.label for e in at.expander], HEARD_WITHIN)
        assert list(table_with(at, "Last heard")["Name"]) == ["faded"]
        assert not any("Heartbeat" in frame.value.columns for frame in at.dataframe)  # not in the fleet table
        assert at.selectbox(key="instances_gone_chosen").value == "faded"
        at = at.button(key="instances_gone_forget").click().run()
        assert client.gone_bots() == []
        assert "Gone external bots" not in [e.label for e in at.expander]
        assert not at.exception, at.exception
    finally:
        bot.close()
