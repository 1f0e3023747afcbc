"""Venue credentials over HTTP: never shown again, assigned per instance, handed to its process alone.

The secrets are checked for everywhere they could leak: the API's answers, the audit log, the backend's
log output, the instance's log, and the MQTT traffic heard by a probe subscribed to `#`.
"""
from __future__ import annotations

import json
import logging
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from cryptography.fernet import Fernet

from backend.client import BackendError
from hive_core.sim.auth import SimKeys
from hive_core.sim.background import venue_thread
from tests.backend.conftest import REAL_CORE, broker_login
from tests.mqtt_probe import MqttProbe
from tests.polling import wait_until

API_KEY = "AKIA-live-key-Q7x9a1b2"
SECRET = "wJalrXUtnFEMI-very-secret-K7MDENG"
PASSPHRASE = "open-sesame-42"
SECRETS = (API_KEY, SECRET, PASSPHRASE)
MM = {"id": "mm1", "strategy": "market_maker"}
LIVE = {"kind": "binance", "network": "testnet", "mode": "live"}  # where the credential is stored for


def refused(call, *args) -> BackendError:
    with pytest.raises(BackendError) as raised:
        call(*args)
    return raised.value


def assert_no_secret(text: str, where: str) -> None:
    for secret in SECRETS:
        assert secret not in text, f"a secret part appears in {where}"


def add_credential(client, name: str = "binance_main") -> dict:
    return client.create_credential(name, "binance_testnet", API_KEY, SECRET, PASSPHRASE)


@pytest.fixture
def backend_log(tmp_path: Path) -> Iterator[Path]:
    """Everything the backend logs, at every level, into a file (as `python -m backend` would write it)."""
    path = tmp_path / "backend.log"
    handler = logging.FileHandler(path)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield path
    root.removeHandler(handler)
    root.setLevel(level)
    handler.close()


def test_answers_show_the_name_venue_and_last_4_only(client) -> None:
    created = add_credential(client)

    assert {k: created[k] for k in ("name", "venue", "api_key_hint", "has_passphrase", "instances")} == {
        "name": "binance_main", "venue": "binance_testnet", "api_key_hint": "…a1b2", "has_passphrase": True,
        "instances": []}
    assert created["created_at"] == created["updated_at"]
    listed = client.list_credentials()
    got = client.get_credential("binance_main")
    assert listed == [got] == [created]
    assert_no_secret(json.dumps([created, listed, got]), "the answers")

    replaced = client.replace_credential("binance_main", "NEW-KEY-zz99", "new-secret")
    assert (replaced["api_key_hint"], replaced["has_passphrase"]) == ("…zz99", False)
    assert replaced["updated_at"] >= replaced["created_at"]


def test_refusals_name_what_is_wrong(client) -> None:
    add_credential(client)
    duplicate = refused(add_credential, client)
    assert (duplicate.status, duplicate.code) == (409, "duplicate_name")
    for call, args in ((client.get_credential, ("ghost",)), (client.delete_credential, ("ghost",)),
                       (client.replace_credential, ("ghost", "k", "s"))):
        error = refused(call, *args)
        assert (error.status, error.code) == (404, "not_found")
    bad_name = refused(client.create_credential, "not valid!", "binance", API_KEY, SECRET)
    assert bad_name.status == 422 and "name" in bad_name.message
    assert_no_secret(bad_name.message, "a refusal")
    empty = refused(client.create_credential, "c2", "binance", "", SECRET)
    assert empty.status == 422 and "api_key" in empty.message


@pytest.mark.usefixtures("running_broker")
def test_unknown_credential_refuses_the_instance_and_one_in_use_cannot_be_deleted(hive_backend, client) -> None:
    add_credential(client)
    unknown = refused(client.create_instance, {"name": "bot1", "strategies": [MM], "credential": "nope"})
    assert (unknown.status, unknown.code) == (422, "unknown_credential")
    assert "'nope'" in unknown.message and "binance_main" in unknown.message
    assert client.list_instances() == []

    client.create_instance({"name": "bot1", "strategies": [MM], "credential": "binance_main", "start": False})
    client.create_instance({"name": "bot2", "strategies": [MM], "credential": "binance_main", "start": False})
    assert client.get_credential("binance_main")["instances"] == ["bot1", "bot2"]
    in_use = refused(client.delete_credential, "binance_main")
    assert (in_use.status, in_use.code) == (409, "credential_in_use")
    assert "bot1, bot2" in in_use.message

    client.delete_instance("bot1")
    client.delete_instance("bot2")
    client.delete_credential("binance_main")
    assert client.list_credentials() == []


def test_the_audit_log_names_who_did_what_to_which_credential_and_no_secret(client) -> None:
    add_credential(client)
    client.replace_credential("binance_main", API_KEY, SECRET, PASSPHRASE)
    client.rotate_credentials_key()
    client.delete_credential("binance_main")

    entries = [e for e in client.audit_log() if e["action"] == "credential"]
    assert [(e["actor"], e["outcome"], e["detail"]) for e in reversed(entries)] == [
        ("user:tester", "created", "binance_main"), ("user:tester", "replaced", "binance_main"),
        ("user:tester", "key_rotated", "1 credential"), ("user:tester", "deleted", "binance_main")]
    assert_no_secret(json.dumps(client.audit_log()), "the audit log")


def test_key_rotation_over_http_rewrites_the_key_file(hive_backend, client) -> None:
    add_credential(client)
    key_file = hive_backend.services.settings.data_dir / "credentials.key"
    old = key_file.read_text()

    rotated = client.rotate_credentials_key()

    assert (rotated["rotated"], rotated["key_source"], rotated["key_file"], rotated["new_key"]) == (
        1, "file", str(key_file), None)
    assert key_file.read_text() != old and stat.S_IMODE(key_file.stat().st_mode) == 0o600
    bad = refused(client.rotate_credentials_key, "short")
    assert (bad.status, bad.code) == (422, "invalid_key")
    assert hive_backend.services.credentials.for_instance("binance_main")["secret"] == SECRET


@pytest.mark.usefixtures("running_broker")
def test_a_started_instance_alone_gets_its_credentials_file_until_it_stops_and_nothing_leaks(
        hive_backend, client, backend_log: Path) -> None:
    settings = hive_backend.services.settings
    probe = MqttProbe("127.0.0.1", settings.broker_port, login=broker_login(client))
    probe.subscribe("#")
    try:
        add_credential(client)
        client.create_instance({"name": "other", "strategies": [MM]})
        client.create_instance({"name": "bot1", "strategies": [MM], "venue": LIVE, "credential": "binance_main"})
        wait_until(lambda: client.get_instance("bot1")["state"] == "running", 15, message="bot1 running")
        wait_until(lambda: client.get_instance("other")["state"] == "running", 15, message="other running")
        wait_until(lambda: client.instance_logs("bot1"), 10, message="bot1's logs")

        folder = settings.data_dir / "instances" / "bot1"
        credentials_file = folder / "credentials.json"
        assert stat.S_IMODE(credentials_file.stat().st_mode) == 0o600
        assert json.loads(credentials_file.read_text()) == {
            "name": "binance_main", "venue": "binance_testnet", "api_key": API_KEY, "secret": SECRET,
            "passphrase": PASSPHRASE}
        assert yaml.safe_load((folder / "config.yml").read_text())["credentials"] == {"file": "credentials.json"}
        other = settings.data_dir / "instances" / "other"
        assert not (other / "credentials.json").exists()
        assert yaml.safe_load((other / "config.yml").read_text()).get("credentials") is None

        client.stop_instance("bot1")
        wait_until(lambda: client.get_instance("bot1")["state"] == "stopped", 15, message="bot1 stopped")
        assert not credentials_file.exists()
        client.start_instance("bot1")
        wait_until(credentials_file.exists, 5, message="the credentials file written again at the start")
        client.stop_instance("bot1")
        wait_until(lambda: client.get_instance("bot1")["state"] == "stopped", 15, message="bot1 stopped again")
        assert not credentials_file.exists()

        instance_logs = (folder / "process.log").read_text() + json.dumps(client.instance_logs("bot1", limit=5000))
        assert_no_secret(instance_logs, "the instance's log")
        client.delete_instance("bot1")
        assert not folder.exists()
    finally:
        probe.close()
    assert probe.received("hbot/bot1/#"), "the probe heard the instance"
    assert_no_secret(" ".join(m.topic + m.payload.decode("utf-8", "replace") for m in probe.messages), "MQTT")
    assert "credential" in backend_log.read_text()  # the log was written while it all happened
    assert_no_secret(backend_log.read_text(), "the backend's log")


def test_the_real_hive_core_signs_its_live_orders_with_the_credential_and_nothing_leaks(backend_factory,
                                                                                         backend_log: Path) -> None:
    """A real instance trading live on the simulated venue standing in for Binance's testnet (which checks every
    signature): its orders are taken, so they were signed with the stored credential; and no secret part is in the
    logs, the MQTT traffic or any answer of the API."""
    keys = SimKeys()
    keys.add_hmac(API_KEY, SECRET)
    with venue_thread(keys) as venue:
        backend = backend_factory(core_command=REAL_CORE, heartbeat_interval=1.0, heartbeat_timeout=5.0,
                                  start_timeout=30.0, venue_endpoints=venue.endpoints("binance_testnet"))
        client = backend.client
        client.start_broker()
        probe = MqttProbe("127.0.0.1", backend.settings.broker_port, login=broker_login(client))
        probe.subscribe("#")
        try:
            add_credential(client)
            client.create_instance({"name": "real1", "strategies": [MM], "venue": LIVE,
                                    "credential": "binance_main"})
            wait_until(lambda: client.get_instance("real1")["state"] == "running", 30,
                       message=lambda: f"real1 running (last: {client.get_instance('real1')['reason']})")
            wait_until(lambda: any(order.startswith("mm1") for order in venue.order_ids()), 20,
                       message="real1's signed orders taken by the venue")
            folder = backend.settings.data_dir / "instances" / "real1"
            assert (folder / "credentials.json").exists()
            answers = [client.get_instance("real1"), client.list_instances(), client.list_credentials(),
                       client.get_credential("binance_main"), client.instance_logs("real1", limit=5000),
                       client.audit_log()]
            client.stop_instance("real1")
            wait_until(lambda: client.get_instance("real1")["state"] == "stopped", 20, message="real1 stopped")
            assert not (folder / "credentials.json").exists()
        finally:
            probe.close()
    assert probe.received("hbot/real1/#"), "the probe heard the instance"
    assert_no_secret(" ".join(m.topic + m.payload.decode("utf-8", "replace") for m in probe.messages), "MQTT")
    assert_no_secret(json.dumps(answers), "the API's answers")
    assert_no_secret((folder / "process.log").read_text(), "the real instance's log")
    assert_no_secret(backend_log.read_text(), "the backend's log")


@pytest.mark.usefixtures("running_broker")
def test_live_trading_needs_a_credential_stored_for_its_venue(client) -> None:
    add_credential(client)   # stored for binance_testnet
    without = refused(client.create_instance, {"name": "bot1", "strategies": [MM], "venue": LIVE})
    assert without.status == 422 and "live trading on binance_testnet signs its orders with a credential" \
        in without.message
    mainnet = {**LIVE, "network": "mainnet"}
    elsewhere = refused(client.create_instance, {"name": "bot1", "strategies": [MM], "venue": mainnet,
                                                 "credential": "binance_main"})
    assert (elsewhere.status, elsewhere.code) == (422, "credential_venue")
    assert elsewhere.message == ("credential 'binance_main' is stored for binance_testnet, not for binance: choose "
                                 "one stored for binance")
    sim_with_modes = refused(client.create_instance, {"name": "bot1", "strategies": [MM],
                                                      "venue": {"kind": "sim", "mode": "live"}})
    assert sim_with_modes.status == 422 and "only for a live venue" in sim_with_modes.message
    assert client.list_instances() == []


@pytest.mark.usefixtures("running_broker")
def test_a_crashed_instance_keeps_no_credentials_file(hive_backend, client) -> None:
    add_credential(client)
    crashing = {"id": "mm1", "strategy": "market_maker", "params": {"fake_exit_after": 0.5}}
    client.create_instance({"name": "bot1", "strategies": [crashing], "venue": LIVE, "credential": "binance_main",
                            "restart_policy": {"policy": "never"}})
    credentials_file = hive_backend.services.settings.data_dir / "instances" / "bot1" / "credentials.json"
    wait_until(lambda: client.get_instance("bot1")["state"] == "error", 15, message="bot1 in error")
    assert not credentials_file.exists()
    client.delete_instance("bot1")
    client.delete_credential("binance_main")


def test_a_backend_with_the_wrong_key_says_what_to_do_and_loses_nothing(backend_factory, hive_backend) -> None:
    add_credential(hive_backend.client)
    hive_backend.stop()
    wrong = backend_factory(credentials_key=Fernet.generate_key().decode())

    error = refused(wrong.client.create_credential, "second", "binance", API_KEY, SECRET)
    assert (error.status, error.code) == (503, "credentials_key_wrong")
    assert "HIVE_CREDENTIALS_KEY does not decrypt" in error.message and "nothing was changed" in error.message
    assert [c["name"] for c in wrong.client.list_credentials()] == ["binance_main"]  # still listed, still whole
    wrong.stop()
    right = backend_factory()  # the key file again
    assert right.services.credentials.for_instance("binance_main")["secret"] == SECRET
