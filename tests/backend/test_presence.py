"""Knowing sooner that a bot is gone, against a real broker and sim bots (tests/backend/sim_bots.py): late heartbeats
are marked, a bot's client leaving is flagged from the broker's log (the embedded broker's) or from its Last Will
(an external broker, which has no log), well before the heartbeat timeout, and bots silent for long are listed apart.

The heartbeat timeout is set far beyond every wait here, so any flag seen comes from the signal under test."""
from __future__ import annotations

import pytest

from backend.client import BackendError
from tests.backend.conftest import broker_login
from tests.backend.sim_bots import SimBot
from tests.polling import wait_until

TIMEOUT = 300.0  # s of silence before the heartbeat timeout: no wait below comes near it
FLAGGED_WITHIN = 10.0  # s: how long a test waits for a flag (a few supervisor ticks and the offline grace)


def listed(client, name: str) -> dict | None:
    return next((item for item in client.list_instances() if item["name"] == name), None)


def with_broker(backend_factory, gone_after: float = 3600.0):
    """The backend with its embedded broker (whose log it follows), heartbeats every 0.5 s (late after 1 s), and
    external bots gone after `gone_after` s of silence."""
    running = backend_factory(heartbeat_interval=0.5, heartbeat_timeout=TIMEOUT, external_gone_after=gone_after)
    running.client.start_broker()
    return running


@pytest.fixture
def backend(backend_factory):
    return with_broker(backend_factory)


def sim_bot(backend, name: str, **options) -> SimBot:
    port = backend.client.broker_status()["port"]
    bot = SimBot("127.0.0.1", port, name, login=broker_login(backend.client, "bot", name), **options)
    wait_until(lambda: (listed(backend.client, name) or {}).get("state") == "running", FLAGGED_WITHIN,
               message=f"{name} listed running")
    return bot


def test_a_bot_whose_heartbeats_stop_is_late_and_counted_then_not_once_one_comes(backend) -> None:
    client = backend.client
    bot = sim_bot(backend, "quiet")
    try:
        assert listed(client, "quiet")["late"] is False
        bot.fall_silent()
        late = wait_until(lambda: (found := listed(client, "quiet")) and found["late"] and found, FLAGGED_WITHIN,
                          message="quiet marked late")
        assert late["state"] == "running"
        assert late["reason"].startswith("external bot; late: no heartbeat for ")
        # the totals sum the summary rows of the supervisor's last round: a round later, at most
        wait_until(lambda: client.fleet_totals()["late"] == 1, FLAGGED_WITHIN, message="counted late")
        bot._client.publish("hbot/quiet/hb", b'{"ts": 1}')
        wait_until(lambda: not listed(client, "quiet")["late"], FLAGGED_WITHIN, message="quiet no longer late")
        wait_until(lambda: client.fleet_totals()["late"] == 0, FLAGGED_WITHIN, message="no longer counted late")
    finally:
        bot.close()


@pytest.mark.parametrize("how", ["clean DISCONNECT", "socket closed, no will"])
def test_a_bot_whose_client_leaves_is_flagged_from_the_broker_log(backend, how: str) -> None:
    client = backend.client
    bot = sim_bot(backend, "leaver", will=False)  # the broker's log alone says it left
    if how == "clean DISCONNECT":
        bot.close()
    else:
        bot.drop()
    found = wait_until(lambda: (item := listed(client, "leaver")) and item["state"] == "stopped" and item,
                       FLAGGED_WITHIN, message=f"leaver flagged after a {how}")
    assert found["reason"].startswith("external bot; disconnected from the broker")


def test_a_dropped_bot_on_an_external_broker_is_flagged_by_its_last_will(backend_factory, mqtt_broker) -> None:
    """An external broker has no log to follow: the Last Will is the signal."""
    client = backend_factory(heartbeat_interval=0.5, heartbeat_timeout=TIMEOUT).client
    client.use_external_broker(mqtt_broker.host, mqtt_broker.port, *mqtt_broker.credentials)
    bot = SimBot(mqtt_broker.host, mqtt_broker.port, "willing", login=mqtt_broker.credentials, will=True)
    wait_until(lambda: (listed(client, "willing") or {}).get("state") == "running", FLAGGED_WITHIN,
               message="willing listed running")
    bot.drop()
    found = wait_until(lambda: (item := listed(client, "willing"))["state"] == "stopped" and item, FLAGGED_WITHIN,
                       message="willing flagged by its will")
    assert found["reason"].startswith("external bot; went offline")


def test_an_external_bot_silent_for_long_is_gone_until_it_speaks_and_can_be_forgotten(backend_factory) -> None:
    backend = with_broker(backend_factory, gone_after=3.0)
    client = backend.client
    bot = sim_bot(backend, "drifter")
    try:
        bot.fall_silent()
        wait_until(lambda: listed(client, "drifter") is None, FLAGGED_WITHIN, message="drifter out of the listing")
        gone = client.gone_bots()
        assert [item["name"] for item in gone] == ["drifter"]
        assert gone[0]["last_heard"] >= gone[0]["first_heard"]
        assert client.fleet_totals()["instances"] == 0
        assert client.get_instance("drifter")["runtime"] == "external"  # still there when asked by name

        bot._client.publish("hbot/drifter/hb", b'{"ts": 1}')  # it speaks again: back in the table
        wait_until(lambda: listed(client, "drifter") is not None, FLAGGED_WITHIN, message="drifter back")
        assert client.gone_bots() == []
        with pytest.raises(BackendError) as refused:
            client.forget_gone_bot("drifter")
        assert refused.value.status == 409 and refused.value.code == "not_gone"

        wait_until(lambda: client.gone_bots() != [], FLAGGED_WITHIN, message="drifter gone again")
        client.forget_gone_bot("drifter")
        assert client.gone_bots() == [] and listed(client, "drifter") is None
        wait_until(lambda: [(e["action"], e["outcome"]) for e in client.audit_log(instance="drifter")] ==
                   [("DELETE /fleet/gone/{name}", "ok"), ("DELETE /fleet/gone/{name}", "refused (409)")],
                   FLAGGED_WITHIN, message="the forget and its refusal audited")
        with pytest.raises(BackendError) as unknown:
            client.get_instance("drifter")
        assert unknown.value.status == 404
        with pytest.raises(BackendError) as unknown:
            client.forget_gone_bot("drifter")
        assert unknown.value.status == 404
    finally:
        bot.close()
