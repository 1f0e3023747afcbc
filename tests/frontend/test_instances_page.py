"""Instances page: the create form built from strategy schemas, refusals, lifecycle controls, delete."""
from __future__ import annotations

import pytest

from backend.client import HiveClient
from frontend import format as fmt
from tests.backend.conftest import broker_login
from tests.frontend.helpers import badges, errors, logged_in_app, rerun_until, table_with
from tests.mqtt_probe import foreign_client

PAGE = "pages/instances/app.py"

# The module's tests on one xdist worker: the three that create nothing and never start the broker share one backend
# (idle_app); the others, which start its broker and count or delete its instances, have one each.
pytestmark = pytest.mark.xdist_group("frontend-instances")


@pytest.fixture
def idle_app(module_backend, dashboard_url):
    """The dashboard logged in to the module's shared backend, whose broker stays stopped."""
    return logged_in_app(module_backend, dashboard_url)


def _open(app):
    return app.switch_page(PAGE).run()


def _labels(at) -> set[str]:
    widgets = [*at.text_input, *at.number_input, *at.checkbox, *at.selectbox, *at.toggle]
    return {widget.label for widget in widgets}


def _client(backend) -> HiveClient:
    return HiveClient(backend.url, backend.username, backend.password)


def _fill(at, name: str, start: bool) -> None:
    at.text_input(key="instances_create_name").input(name)
    at.selectbox(key="instances_create_strategy_0").select("market_maker")
    at.checkbox(key="instances_create_start").set_value(start)
    at.run()


def test_create_form_builds_one_input_per_param_of_the_chosen_strategy(idle_app, module_backend):
    at = _open(idle_app)
    at.selectbox(key="instances_create_strategy_0").select("market_maker").run()

    schema = _client(module_backend).get_strategy("market_maker")["params_schema"]
    expected = {prop.get("title") or name for name, prop in schema["properties"].items()}
    assert expected, "market_maker declares no params"
    assert expected <= _labels(at)
    assert {"Name", "Runtime", "Trading pair", "Strategy id", "Tick interval (s)", "Start now"} <= _labels(at)


def test_add_strategy_adds_a_second_entry_with_its_own_params(idle_app):
    at = _open(idle_app)
    at.button(key="instances_create_add").click().run()

    assert at.selectbox(key="instances_create_strategy_1").value
    assert at.text_input(key="instances_create_id_1").placeholder.endswith("-2")


def test_refused_create_shows_the_backend_message_and_keeps_what_was_typed(idle_app):
    at = _open(idle_app)  # the broker is not started: the backend refuses what the form cannot check
    at.text_input(key="instances_create_pair").input("ETH-USDT").run()
    _fill(at, "bot1", start=False)

    at.button(key="instances_create_submit").click().run()

    [message] = errors(at)
    assert "Could not create the instance bot1" in message
    assert "Start the broker on the Broker page first" in message
    assert at.text_input(key="instances_create_name").value == "bot1"
    assert at.text_input(key="instances_create_pair").value == "ETH-USDT"
    assert at.selectbox(key="instances_create_strategy_0").value == "market_maker"


def test_created_instance_is_listed_and_selected_and_delete_asks_first(app, client):
    at = _open(app)
    _fill(at, "bot1", start=False)

    at.button(key="instances_create_submit").click().run()

    assert not errors(at)
    assert at.selectbox(key="instances_selected").value == "bot1"
    assert badges(at) == ["Created"]
    assert at.text_input(key="instances_create_name").value == ""  # cleared for the next one
    assert "bot1" in list(table_with(at, "Heartbeat")["Name"])

    at.button(key="instances_delete").click().run()
    assert any("Delete **bot1**?" in warning.value for warning in at.warning)
    at.button(key="instances_delete_cancel").click().run()
    assert not at.warning

    at.button(key="instances_delete").click().run()
    at.button(key="instances_delete_confirm").click().run()
    assert not errors(at)
    assert any("No instances yet" in info.value for info in at.info)


@pytest.mark.timeout(240)
@pytest.mark.slow
def test_running_instance_shows_detail_disables_delete_and_stops_with_a_reason(app, client):
    at = _open(app)
    _fill(at, "runner", start=True)
    at.button(key="instances_create_submit").click().run()
    assert not errors(at)

    rerun_until(at, lambda page: badges(page) == ["Running"], timeout=90)
    rerun_until(at, lambda page: any("instances_pnl_chart" in chart.proto.id for chart in page.get("plotly_chart")),
                timeout=90)  # PnL arrived

    # a command sent straight over MQTT by another controller is listed with its path
    hbotrc = foreign_client("127.0.0.1", client.broker_status()["port"], broker_login(client))
    try:
        hbotrc.publish("hbot/runner/balance/paper", {"header": {"reply_to": "rpc-page", "agent": "commlib"},
                                                     "data": {"asset": "USDT", "amount": 700}})
        hbotrc.wait_for("rpc-page", timeout=15)
    finally:
        hbotrc.close()
    rerun_until(at, lambda page: any("Path" in frame.value.columns and "MQTT, not through Hive" in
                                     list(frame.value["Path"]) for frame in page.dataframe), timeout=30)
    [command] = table_with(at, "Path").to_dict("records")
    assert command["By"] == "mqtt:commlib" and command["Outcome"] == "ok"
    assert command["Command"].startswith("balance/paper from commlib")

    delete = at.button(key="instances_delete")
    assert delete.disabled and delete.help == "runner is running: stop it first (its process must end before it " \
                                              "is deleted)"
    assert client.get_instance("runner")["state"] == "running"

    at.button(key="instances_stop").click().run()
    rerun_until(at, lambda page: badges(page) == ["Stopped"], timeout=60)
    assert any(caption.value.startswith("Reason: ") and len(caption.value) > 8 for caption in at.caption)
    assert not errors(at)
    assert not at.button(key="instances_delete").disabled
    client.delete_instance("runner")


def test_the_restart_policy_is_chosen_in_the_form_and_the_restarts_are_shown(app, client):
    at = _open(app)
    _fill(at, "healer", start=False)
    at.number_input(key="instances_create_max_retries").set_value(5).run()

    at.button(key="instances_create_submit").click().run()

    assert not errors(at)
    created = client.get_instance("healer")
    assert (created["restart_policy"]["policy"], created["restart_policy"]["max_retries"]) == ("on_failure", 5)
    assert any("restarts: 0 of 5" in caption.value for caption in at.caption)

    _fill(at, "stayer", start=False)
    at.selectbox(key="instances_create_restart_policy").select("never").run()
    assert at.number_input(key="instances_create_max_retries").disabled
    at.button(key="instances_create_submit").click().run()
    assert client.get_instance("stayer")["restart_policy"]["policy"] == "never"
    assert any("restart policy: never" in caption.value for caption in at.caption)


@pytest.mark.parametrize(("instance", "words"), [
    ({"restart_policy": None}, ""),
    ({"restart_policy": {"policy": "never", "max_retries": 3}, "restarts": 0}, "restart policy: never"),
    ({"restart_policy": {"policy": "on_failure", "max_retries": 3}, "restarts": 1, "next_restart_at": None},
     "restarts: 1 of 3"),
    ({"restart_policy": {"policy": "on_failure", "max_retries": 3}, "restarts": 2, "next_restart_at": 0.0},
     f"restarts: 2 of 3 · next restart at {fmt.clock(0.0)}"),
])
def test_restarts_in_words(instance: dict, words: str) -> None:
    assert fmt.restarts(instance) == words


def test_an_instance_can_paper_trade_on_another_exchange_through_ccxt(app, client):
    at = _open(app)
    _fill(at, "kr1", start=False)
    at.selectbox(key="instances_create_trading").select("paper").run()
    at.selectbox(key="instances_create_live_venue").select("ccxt").run()
    at.selectbox(key="instances_create_ccxt_exchange").select("kraken").run()
    at.button(key="instances_create_submit").click().run()
    assert not errors(at)
    assert client.get_instance("kr1")["venue"] == {"kind": "ccxt", "exchange": "kraken", "network": "mainnet",
                                                  "mode": "paper"}


@pytest.mark.parametrize(("instance", "words"), [
    ({"venue": None}, "–"),
    ({"venue": {"kind": "sim", "network": "mainnet", "mode": "paper"}}, "simulated exchange"),
    ({"venue": {"kind": "binance", "network": "mainnet", "mode": "paper"}}, "Binance spot · paper"),
    ({"venue": {"kind": "binance", "network": "testnet", "mode": "live"}, "credential": "desk1"},
     "Binance spot testnet · LIVE (desk1)"),
    ({"venue": {"kind": "ccxt", "exchange": "kraken", "network": "mainnet", "mode": "paper"}},
     "kraken through ccxt · paper"),
    ({"venue": {"kind": "ccxt", "exchange": "okx", "network": "testnet", "mode": "live"}, "credential": "o1"},
     "okx (test network) through ccxt · LIVE (o1)"),
])
def test_where_an_instance_trades_in_words(instance: dict, words: str) -> None:
    assert fmt.venue(instance) == words


def test_a_credential_added_in_the_browser_shows_only_its_last_4_and_an_instance_can_use_it(app, client):
    api_key, secret = "AKIA-dashboard-key-9z8y", "browser-secret-that-stays-hidden"
    at = _open(app)
    at.text_input(key="credentials_name").input("binance_main")
    at.text_input(key="credentials_api_key").input(api_key)
    at.text_input(key="credentials_secret").input(secret)
    at.button(key="credentials_submit").click().run()

    assert not errors(at)
    table = table_with(at, "API key")
    assert list(table["Name"]) == ["binance_main"] and list(table["Venue"]) == ["binance_testnet"]
    assert list(table["API key"]) == ["…9z8y"]
    shown = table.to_json() + " ".join(str(w.value) for w in [*at.markdown, *at.caption, *at.info, *at.text_input])
    assert api_key not in shown and secret not in shown  # the inputs were emptied, the table has the hint only
    assert client.get_credential("binance_main")["api_key_hint"] == "…9z8y"

    _fill(at, "keyed", start=False)
    at.selectbox(key="instances_create_trading").select("live").run()
    at.button(key="instances_create_submit").click().run()
    assert "Choose the Binance spot testnet credential its orders are signed with." in errors(at)
    at.selectbox(key="instances_create_credential").select("binance_main").run()
    at.button(key="instances_create_submit").click().run()
    # going live is asked once more, naming the venue and the credential; nothing is created before
    [warning] = [w.value for w in at.warning if "trade live" in w.value]
    assert warning == ("**keyed will trade live on Binance spot testnet**, placing real orders signed with the "
                       "credential **binance_main**.")
    assert "keyed" not in [item["name"] for item in client.list_instances()]
    at.button(key="instances_create_live_confirm").click().run()
    assert not errors(at)
    assert at.selectbox(key="instances_selected").value == "keyed"   # the new instance opens below
    keyed = client.get_instance("keyed")
    assert keyed["venue"] == {"kind": "binance", "exchange": None, "network": "testnet", "mode": "live"}
    assert keyed["credential"] == "binance_main"
    assert client.get_credential("binance_main")["instances"] == ["keyed"]

    at.button(key="credentials_delete").click().run()
    [message] = errors(at)
    assert "Could not delete the credential binance_main" in message and "keyed" in message
