"""The Create Instance form: each field's problem shown under it with nothing typed lost, a saved template filling
a strategy's params, the form cleared and collapsed after a success, and the start followed step by step."""
from __future__ import annotations

from collections.abc import Iterator

import pytest
from streamlit.testing.v1 import AppTest

from backend.client import HiveClient
from tests.frontend.backend_process import BackendProcess
from tests.frontend.helpers import errors, logged_in_app, rerun_until

PAGE = "pages/instances/app.py"

# One backend for the module's tests, on one xdist worker: each creates instances of its own names and checks only
# those; the one that counts every instance has a backend of its own (own_backend).
pytestmark = pytest.mark.xdist_group("frontend-create-form")


@pytest.fixture
def backend(module_backend: BackendProcess) -> BackendProcess:
    return module_backend


@pytest.fixture
def own_backend(tmp_path, dashboard_url) -> Iterator[tuple[AppTest, HiveClient]]:
    """A backend of the test's own with its broker running: the dashboard logged in to it, and a client."""
    server = BackendProcess(tmp_path / "data")
    server.start()
    hive = HiveClient(server.url, server.username, server.password)
    try:
        at = logged_in_app(server, dashboard_url)
        hive.start_broker()
        yield at, hive
    finally:
        hive.close()
        server.stop()


def _open(app):
    return app.switch_page(PAGE).run()


def _statuses(at) -> list[tuple[str, str]]:
    return [(status.label, status.state) for status in at.status]


def test_each_field_says_what_is_wrong_under_it_and_nothing_typed_is_lost(own_backend):
    app, client = own_backend
    client.create_instance({"name": "taken", "strategies": [{"id": "mm", "strategy": "market_maker"}],
                            "start": False})
    at = _open(app)
    at.text_input(key="instances_create_name").input("taken")
    at.text_input(key="instances_create_pair").input("BTCUSDT, ETH-USDT")
    at.button(key="instances_create_add").click().run()
    at.text_input(key="instances_create_id_0").input("same")
    at.text_input(key="instances_create_id_1").input("same").run()
    assert not errors(at)  # nothing is said before Create is tried

    at.button(key="instances_create_submit").click().run()

    assert errors(at) == [
        "An instance named 'taken' already exists: choose another name.",
        "'BTCUSDT' is not a trading pair: write BASE-QUOTE in capital letters or digits, 1-15 each, like BTC-USDT.",
        "Another strategy above already has the id 'same': ids must be unique within the instance.",
        "Not created: 3 fields to fix, marked above.",
    ]
    assert [item["name"] for item in client.list_instances()] == ["taken"]  # nothing was sent
    assert at.text_input(key="instances_create_name").value == "taken"
    assert at.text_input(key="instances_create_pair").value == "BTCUSDT, ETH-USDT"
    assert [at.text_input(key=f"instances_create_id_{index}").value for index in (0, 1)] == ["same", "same"]

    at.text_input(key="instances_create_name").input("").run()
    assert errors(at)[0] == ("Give it a name: 1-63 letters, digits, '_' or '-', starting with a letter or digit.")
    at.text_input(key="instances_create_name").input("a b").run()
    assert errors(at)[0] == ("Must be 1-63 letters, digits, '_' or '-', starting with a letter or digit "
                             "(got 'a b').")

    at.text_input(key="instances_create_name").input("fixed")
    at.text_input(key="instances_create_pair").input("ETH-USDT")
    at.text_input(key="instances_create_id_1").input("other")
    at.checkbox(key="instances_create_start").set_value(False).run()
    assert not errors(at)  # each message goes as soon as its field is right
    at.button(key="instances_create_submit").click().run()
    assert not errors(at)
    created = client.get_instance("fixed")
    assert [strategy["id"] for strategy in created["strategies"]] == ["same", "other"]


def test_a_success_collapses_the_form_clears_every_input_and_selects_the_instance(app, client):
    at = _open(app)
    at.text_input(key="instances_create_name").input("fresh")
    at.text_input(key="instances_create_pair").input("ETH-USDT")
    at.button(key="instances_create_add").click().run()
    at.text_input(key="instances_create_id_1").input("second")
    at.selectbox(key="instances_create_restart_policy").select("never")
    at.checkbox(key="instances_create_start").set_value(False).run()
    at.session_state["instances_create_open_0"] = True  # as when the operator opened it

    at.button(key="instances_create_submit").click().run()

    assert not errors(at)
    assert at.selectbox(key="instances_selected").value == "fresh"
    assert at.session_state["instances_create_open_0"] is False   # collapsed
    # the next run draws the next round's section, closed: the browser's "open" of this one cannot reopen it
    at.session_state["instances_create_open_0"] = True
    assert at.run().session_state["instances_create_open_1"] is False
    assert at.text_input(key="instances_create_name").value == ""
    assert at.text_input(key="instances_create_pair").value == "BTC-USDT"
    assert at.selectbox(key="instances_create_restart_policy").value == "on_failure"
    assert at.checkbox(key="instances_create_start").value is True
    assert at.session_state["instances_create_count"] == 1
    assert at.text_input(key="instances_create_id_0").value == ""
    assert not at.status  # no start asked: no progress


def test_a_saved_template_fills_the_params_which_stay_editable(app, client, backend):
    client._request("POST", "/scripts/configs/wide", json={"script_file_name": "market_maker.py",
                                                           "spread_bps": 42.0, "markets": {}})
    client._request("POST", "/scripts/configs/other", json={"script_file_name": "momentum.py"})
    at = _open(app)
    at.selectbox(key="instances_create_strategy_0").select("market_maker").run()
    templates = at.selectbox(key="instances_create_template_0_market_maker_0")
    assert templates.options == ["the strategy's defaults", "from the saved template wide"]  # market_maker's only

    templates.select("wide").run()
    assert any(caption.value == "Filled from wide: spread_bps." for caption in at.caption)
    spread = at.number_input(key="instances_create_0_market_maker_wide_0_spread_bps")
    assert spread.value == 42.0
    spread.set_value(43.5)
    at.text_input(key="instances_create_name").input("templated")
    at.checkbox(key="instances_create_start").set_value(False).run()
    at.button(key="instances_create_submit").click().run()

    assert not errors(at)
    assert client.get_instance("templated")["strategies"][0]["params"]["spread_bps"] == 43.5


@pytest.mark.timeout(120)
def test_create_with_start_shows_each_step_until_the_first_heartbeat_then_dismisses(app, client):
    at = _open(app)
    at.text_input(key="instances_create_name").input("progress")
    at.selectbox(key="instances_create_strategy_0").select("market_maker").run()
    at.button(key="instances_create_submit").click().run()
    assert not errors(at)

    rerun_until(at, lambda page: any(success.value.startswith("**progress is running**") for success in page.success),
                timeout=60)
    labels = [label.split(" · ")[0] for label, _state in _statuses(at)]
    assert labels == ["created", "process started", "first heartbeat"]
    assert {state for _label, state in _statuses(at)} == {"complete"}
    assert any("image ready: not needed for a process" in markdown.value for markdown in at.markdown)

    at.button(key="instances_startup_dismiss").click().run()
    assert not at.status and at.session_state["instances_startup"] is None
    client.stop_instance("progress")
