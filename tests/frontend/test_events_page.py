"""Events page: publish an event to a raw MQTT bot, create and delete a webhook, the live event log."""
from __future__ import annotations

import pytest

from backend.client import HiveClient
from tests.backend.conftest import broker_login
from tests.backend.sim_bots import SimBot
from tests.frontend.helpers import errors, rerun_until
from tests.mqtt_probe import MqttProbe
from tests.polling import wait_until

PAGE = "pages/events/app.py"

# One backend for the module's tests, on one xdist worker: what each checks is the event it published (the log's
# newest row) and the webhook it made and deleted; the bot evbot and its probe are the test's own.
pytestmark = pytest.mark.xdist_group("frontend-events")


@pytest.fixture
def backend(module_backend):
    return module_backend


@pytest.fixture
def bot(backend):
    client = HiveClient(backend.url, backend.username, backend.password)
    client.start_broker()
    sim = SimBot("127.0.0.1", backend.broker_port, "evbot", login=broker_login(client, "bot", "evbot"))
    probe = MqttProbe("127.0.0.1", backend.broker_port, login=broker_login(client))
    wait_until(probe._client.is_connected, 15, message="probe connected")  # CONNACK, under load
    probe.subscribe("hbot/+/external/event/#")
    probe.publish("hbot/probe-check/external/event/check", {"check": 1})  # the subscription is live (SUBACK under load)
    probe.wait_for("hbot/probe-check/external/event/check", timeout=15)
    wait_until(lambda: "evbot" in [i["name"] for i in client.list_instances()], 15, message="bot heard")
    yield probe
    sim.close()
    probe.close()
    client.close()


def _log(at):
    tables = [t for t in at.dataframe if "Delivery" in t.value.columns]
    return tables[0].value if tables else None


def test_publish_reaches_the_bot_and_shows_in_the_log_with_its_delivery(app, bot):
    at = app.switch_page(PAGE).run()
    assert not at.exception, at.exception
    at.text_input(key="events_name").input("tv.signal.buy").run()
    at.button(key="events_publish").click().run()
    assert not errors(at)

    payload = bot.wait_for("hbot/evbot/external/event/tv/signal/buy")[0].json()
    assert payload["type"] == "eevent" and payload["data"] == {"side": "buy"}
    rerun_until(at, lambda page: _log(page) is not None, timeout=15)
    row = _log(at).iloc[0]
    assert row["Event"] == "tv.signal.buy" and "evbot: published" in row["Delivery"]
    assert row["Sender"].startswith("user:")


def test_a_click_right_after_typing_publishes_what_was_typed(app, bot):
    """The name typed and the click arrive in one rerun (a busy machine): the event has the new name, not the one
    the button was last drawn with."""
    at = app.switch_page(PAGE).run()
    at.text_input(key="events_name").input("tv.signal.sell")
    at.button(key="events_publish").click().run()
    assert not errors(at)
    payload = bot.wait_for("hbot/evbot/external/event/tv/signal/sell")[0].json()
    assert payload["type"] == "eevent"
    rerun_until(at, lambda page: _log(page) is not None, timeout=15)
    assert _log(at).iloc[0]["Event"] == "tv.signal.sell"


def test_create_webhook_shows_url_and_secret_once_then_delete(app, bot):
    at = app.switch_page(PAGE).run()
    at.text_input(key="events_hook_id").input("tv1").run()
    at.checkbox(key="events_hook_all").check().run()
    at.button(key="events_hook_create").click().run()
    assert not errors(at)
    codes = [c.value for c in at.code]
    assert any(code.endswith("/webhooks/tradingview/tv1") for code in codes)
    assert any('"secret"' in code for code in codes)
    hooks = [t.value for t in at.dataframe if "Webhook" in t.value.columns][0]
    assert list(hooks["Webhook"]) == ["tv1"] and hooks.iloc[0]["Targets"] == "all"

    at.button(key="events_hook_delete").click().run()
    assert not errors(at)
    assert not [t for t in at.dataframe if "Webhook" in t.value.columns]
    assert not any("tradingview/tv1" in c.value for c in at.code)


def test_invalid_json_is_explained_and_nothing_published(app, bot):
    at = app.switch_page(PAGE).run()
    at.text_input(key="events_name").input("bad name!").run()
    at.button(key="events_publish").click().run()
    [message] = errors(at)
    assert "Could not publish the event" in message
