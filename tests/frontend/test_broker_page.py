"""Broker page: start/stop the embedded broker, the port-in-use way out, its logins, its authentication, chart and
connected clients."""
from __future__ import annotations

from pathlib import Path

from backend.client import HiveClient
from tests.conftest import EmbeddedBroker, free_port
from tests.frontend.backend_process import BackendProcess
from tests.frontend.helpers import badges, errors, log_in, new_app, rerun_until, table_with
from tests.mqtt_probe import MqttProbe, connack
from tests.polling import wait_until


def _metric(at, label: str) -> str:
    return next(metric.value for metric in at.metric if metric.label == label)


def test_start_broker_shows_running_with_its_address_then_stop_shows_stopped(app, backend):
    assert badges(app) == ["Stopped"]

    app.button(key="broker_start").click().run()
    rerun_until(app, lambda at: badges(at) == ["Running"], timeout=30)

    assert not errors(app)
    assert _metric(app, "Address") == f"127.0.0.1:{backend.broker_port}"
    assert app.button(key="broker_start").disabled
    assert {"Connected clients", "Messages", "Uptime", "CPU", "Memory"} <= {metric.label for metric in app.metric}

    app.button(key="broker_stop").click().run()
    assert badges(app) == ["Running"]                       # not yet: it asks first, saying who is cut off
    assert any("No instance is running: none is cut off." in w.value for w in app.warning)
    app.button(key="broker_stop_cancel").click().run()
    assert not app.warning and badges(app) == ["Running"]
    app.button(key="broker_stop").click().run()
    app.button(key="broker_stop_confirm").click().run()
    rerun_until(app, lambda at: badges(at) == ["Stopped"], timeout=30)
    assert not errors(app)


def test_stop_broker_names_the_running_instances_it_cuts_off(app, backend):
    client = HiveClient(backend.url, backend.username, backend.password)
    client.start_broker()
    client.create_instance({"name": "cut1", "strategies": [{"id": "mm", "strategy": "market_maker"}]})
    wait_until(lambda: client.get_instance("cut1")["state"] == "running", 60, message="cut1 running")
    app.run()
    app.button(key="broker_stop").click().run()
    [warning] = app.warning
    assert "It cuts off **1 running instance** (cut1)" in warning.value
    app.button(key="broker_stop_confirm").click().run()
    rerun_until(app, lambda at: badges(at) == ["Stopped"], timeout=30)
    client.stop_instance("cut1")
    client.close()


def test_port_in_use_names_the_setting_and_offers_the_broker_already_there(tmp_path: Path, dashboard_url):
    squatter = EmbeddedBroker()  # a real MQTT broker on the port the backend is configured to use
    squatter.start()
    server = BackendProcess(tmp_path / "data", broker_port=squatter.port)
    try:
        server.start()
        dashboard_url(server.url)
        at = log_in(new_app().run(), server.username, server.password)

        at.button(key="broker_start").click().run()
        [message] = errors(at)
        assert "HIVE_BROKER_PORT" in message
        offer = at.button(key="broker_use_external")
        assert offer.label == f"Use the broker already at 127.0.0.1:{squatter.port}"

        offer.click().run()
        rerun_until(at, lambda page: badges(page) == ["Running"], timeout=30)
        assert not errors(at)
        assert any("external" in caption.value for caption in at.caption)
    finally:
        server.stop()
        squatter.stop()


def test_port_field_starts_the_embedded_broker_on_another_port(tmp_path: Path, dashboard_url):
    squatter = EmbeddedBroker()  # the configured port is taken
    squatter.start()
    server = BackendProcess(tmp_path / "data", broker_port=squatter.port)
    try:
        server.start()
        dashboard_url(server.url)
        at = log_in(new_app().run(), server.username, server.password)
        other_port = free_port()

        at.number_input(key="broker_port").set_value(other_port).run()
        at.button(key="broker_start").click().run()
        rerun_until(at, lambda page: badges(page) == ["Running"], timeout=30)

        assert not errors(at)
        assert _metric(at, "Address") == f"127.0.0.1:{other_port}"
        assert any("embedded" in caption.value for caption in at.caption)
    finally:
        server.stop()
        squatter.stop()


def test_a_login_made_on_the_page_is_shown_once_listed_without_its_password_and_revoked(app, backend):
    app.button(key="broker_start").click().run()
    rerun_until(app, lambda at: badges(at) == ["Running"], timeout=30)
    app.text_input(key="broker_login_username").input("real-hb").run()
    app.selectbox(key="broker_login_role").set_value("Bot (one bot id's topics)").run()
    app.text_input(key="broker_login_bot").input("handmade").run()
    app.button(key="broker_login_create").click().run()
    assert not errors(app)
    [password] = [block.value for block in app.code if len(block.value) >= 24 and "\n" not in block.value]
    table = next(frame.value for frame in app.dataframe if "Login" in frame.value.columns)
    row = table[table["Login"] == "real-hb"].iloc[0]
    assert (row["Role"], row["Topics"]) == ("bot", "bot handmade") and password not in table.to_string()
    assert connack("127.0.0.1", backend.broker_port, ("real-hb", password)) == 0

    app.button(key="broker_login_done").click().run()
    assert not any(password in block.value for block in app.code)          # shown once
    app.selectbox(key="broker_login_revoke_pick").set_value("real-hb").run()
    app.button(key="broker_login_revoke").click().run()
    assert not errors(app)
    assert connack("127.0.0.1", backend.broker_port, ("real-hb", password)) != 0
    table = next(frame.value for frame in app.dataframe if "Login" in frame.value.columns)
    assert "real-hb" not in set(table["Login"])


def test_the_page_says_how_clients_log_in_charts_the_broker_and_lists_who_is_connected(tmp_path: Path,
                                                                                       dashboard_url):
    server = BackendProcess(tmp_path / "data", settings={"HIVE_BROKER_METRICS_INTERVAL": "1"})
    server.start()
    client = HiveClient(server.url, server.username, server.password)
    bot = None
    try:
        client.start_broker()
        login = client.create_broker_login("page-bot", "bot", "pagebot")
        bot = MqttProbe("127.0.0.1", server.broker_port, client_id="hbot.pagebot",
                        login=(login["username"], login["password"]))
        bot.wait_connected()
        dashboard_url(server.url)
        at = log_in(new_app().run(), server.username, server.password)

        rerun_until(at, lambda page: len(page.get("plotly_chart")) == 1, timeout=30)  # the rate/CPU/memory chart
        assert any("**Authentication: logins required.**" in block.value for block in at.markdown)
        assert not any("Client id" in frame.value.columns for frame in at.dataframe)  # closed: not read

        at.session_state["broker_clients_open"] = True
        rerun_until(at, lambda page: any("Client id" in frame.value.columns for frame in page.dataframe)
                    and "hbot.pagebot" in set(table_with(page, "Client id")["Client id"]), timeout=30)
        assert not errors(at)
        table = table_with(at, "Client id")
        row = table[table["Client id"] == "hbot.pagebot"].iloc[0]
        assert (row["Login"], row["Bot / instance"]) == ("page-bot", "bot pagebot")
        assert row["Address"].startswith("127.0.0.1:")
        assert "the backend" in set(table["Bot / instance"])

        # another client comes: the section stays open and lists it too (the count changes, not the section)
        other = MqttProbe("127.0.0.1", server.broker_port, client_id="hbot.second",
                          login=(login["username"], login["password"]))
        other.wait_connected()
        rerun_until(at, lambda page: _metric(page, "Connected clients") == "4"  # the backend's two connections too
                    and "hbot.second" in set(table_with(page, "Client id")["Client id"]), timeout=30)
        other.close()
    finally:
        if bot is not None:
            bot.close()
        client.close()
        server.stop()


def test_the_market_data_service_is_shown_running_with_the_venues_it_serves(tmp_path: Path, dashboard_url) -> None:
    server = BackendProcess(tmp_path / "data", settings={"HIVE_FEED_SERVICE": "true"})
    server.start()
    try:
        dashboard_url(server.url)
        at = log_in(new_app().run(), server.username, server.password)
        assert any(header.value == "Market-data service" for header in at.subheader)
        rerun_until(at, lambda page: "Running" in badges(page), timeout=20)   # the service's (the broker's: Stopped)
        assert any(caption.value.startswith("Reason: unix:") for caption in at.caption)
        assert any("No venue yet" in caption.value for caption in at.caption)
        assert not errors(at)
    finally:
        server.stop()
