"""The fleet listing over HTTP: filters, sort, paging, the summary view, the totals; and the alerts of a crash,
a supervisor's restart and restarts used up, in the store, on the broker and at the alert webhook.

Scripted bots (tests/backend/fake_core.py) on the real embedded broker: their PnL grows with their age, they
fill an order every 0.5 s, and one of them crashes on demand.
"""
from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import httpx
import pytest

from backend.client import BackendError
from tests.backend.conftest import PASSWORD, USERNAME, broker_login
from tests.backend.test_api_instances import spec, wait_state
from tests.conftest import free_port
from tests.mqtt_probe import foreign_client
from tests.polling import wait_until

# The listing tests only read the fleet, so they share one (module-scoped, on one xdist worker).
pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("backend-fleet-listing")]


def listed(backend, **params) -> tuple[list[dict], int]:
    """GET /instances with `params`: the names, and the X-Total-Count header."""
    response = httpx.get(f"{backend.url}/instances", params=params, auth=(USERNAME, PASSWORD), timeout=10)
    response.raise_for_status()
    return [item["name"] for item in response.json()], int(response.headers["x-total-count"])


@pytest.fixture(scope="module")
def fleet(module_backend_factory):
    """alpha and bravo run (bravo trades ETH-USDT and BTC-EUR), charlie is created but not started."""
    backend = module_backend_factory()
    client = backend.client
    assert client.start_broker()["state"] == "running"
    client.create_instance(spec("alpha"))
    client.create_instance(spec("bravo", {"id": "e1", "strategy": "market_maker", "trading_pair": "ETH-USDT"},
                                {"id": "e2", "strategy": "momentum", "trading_pair": "BTC-EUR"},
                                trading_pairs=["ETH-USDT", "BTC-EUR"]))
    client.create_instance(spec("charlie", start=False))
    wait_state(client, "alpha", "running")
    wait_state(client, "bravo", "running")
    return backend


@pytest.fixture
def client(fleet):
    return fleet.client


def test_without_parameters_the_listing_is_what_it_was(fleet, client) -> None:
    every = client.list_instances()
    assert [item["name"] for item in every] == ["alpha", "bravo", "charlie"]
    assert [len(item["strategies"]) for item in every] == [1, 2, 1]
    assert [item["strategy_count"] for item in every] == [1, 2, 1]


def test_filters_sort_and_paging(fleet, client) -> None:
    assert listed(fleet, state="running") == (["alpha", "bravo"], 2)
    assert listed(fleet, state=["created", "running"]) == (["alpha", "bravo", "charlie"], 3)
    assert listed(fleet, runtime="process", q="CHAR") == (["charlie"], 1)
    assert listed(fleet, q="heartbeat received") == (["alpha", "bravo"], 2)  # the text is found in the reason too
    assert listed(fleet, host="local") == ([], 0)  # no docker instance
    assert listed(fleet, sort="-name", limit=2) == (["charlie", "bravo"], 3)
    assert listed(fleet, sort="-name", offset=2, limit=2) == (["alpha"], 3)
    assert listed(fleet, sort="strategies")[0][-1] == "bravo"
    assert listed(fleet, sort="-uptime")[0][-1] == "charlie"  # no uptime: last, whichever the direction
    assert listed(fleet, sort="uptime")[0][-1] == "charlie"
    for bad in ({"sort": "pid"}, {"state": "sleeping"}, {"limit": 0}, {"q": "x" * 201}, {"view": "tiny"}):
        response = httpx.get(f"{fleet.url}/instances", params=bad, auth=(USERNAME, PASSWORD), timeout=10)
        assert response.status_code == 422, (bad, response.text)


def test_summary_view_units_trades_and_uptime(fleet, client) -> None:
    wait_until(lambda: all(i["trade_count"] >= 2 for i in client.fleet(state="running")), 15)
    alpha, bravo, charlie = client.fleet()
    assert alpha["strategies"] == [] and alpha["strategy_count"] == 1
    assert (alpha["pnl_unit"], bravo["pnl_unit"], charlie["pnl_unit"]) == ("USDT", "mixed", "USDT")
    assert alpha["pnl"]["realized"] > 0 and alpha["pnl"]["volume"] > 0
    assert alpha["uptime_s"] > 0 and alpha["started_at"] > 0 and charlie["uptime_s"] is None
    assert charlie["trade_count"] == 0
    full = client.get_instance("alpha")
    assert full["trade_count"] >= alpha["trade_count"] and len(full["strategies"]) == 1


def test_totals_sum_the_fleet_and_follow_the_filters(fleet, client) -> None:
    wait_until(lambda: client.fleet_totals()["trades"] >= 4, 15)
    totals = client.fleet_totals()
    every = client.fleet()
    assert totals["instances"] == 3 and totals["by_state"] == {"running": 2, "created": 1}
    assert totals["strategies"] == 4 and totals["pnl_unit"] == "mixed"
    assert totals["pnl"]["realized"] >= sum(i["pnl"]["realized"] for i in every) * 0.5 > 0
    assert totals["cpu_percent"] >= 0 and totals["memory_bytes"] > 0
    only = client.fleet_totals(state="created")
    assert only["instances"] == 1 and only["pnl_unit"] == "USDT" and only["memory_bytes"] == 0


class _Hook(BaseHTTPRequestHandler):
    received: list[dict] = []

    def do_POST(self) -> None:  # noqa: N802 (http.server's name)
        body = self.rfile.read(int(self.headers["content-length"]))
        type(self).received.append(json.loads(body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def alert_hook():
    server = HTTPServer(("127.0.0.1", free_port()), _Hook)
    _Hook.received = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/alerts", _Hook.received
    server.shutdown()


@pytest.mark.fault
def test_crash_restart_and_give_up_raise_alerts_in_the_store_on_the_broker_and_at_the_webhook(
        backend_factory, alert_hook) -> None:
    url, posted = alert_hook
    backend = backend_factory(alert_webhook_url=url)
    client = backend.client
    status = client.start_broker()
    probe = foreign_client("127.0.0.1", status["port"], broker_login(client))
    try:
        probe.subscribe("hive/alerts")
        crashing = {"id": "mm1", "strategy": "market_maker", "params": {"fake_exit_after": 1.0}}
        client.create_instance(spec("crashy", crashing, restart_policy={"max_retries": 1, "backoff_s": 0.2}))
        kinds = wait_until(lambda: (k := [a["kind"] for a in client.alerts()]) and "gave_up" in k and k, 40)
        assert kinds == ["gave_up", "restart", "crash"]  # newest first
        gave_up, restart, crash = client.alerts()
        assert crash["instance"] == "crashy" and crash["message"].startswith(
            "exited with code 1: RuntimeError: fake crash")
        assert restart["message"].startswith("restart 1 of 1 after the process exited with code 1")
        assert "gave up after 1 restart" in gave_up["message"]
        heard = probe.wait_for("hive/alerts", lambda m: m.json()["kind"] == "gave_up", timeout=10)
        assert {m.json()["kind"] for m in probe.received("hive/alerts")} == {"crash", "restart", "gave_up"}
        assert set(heard[0].json()) == {"id", "ts", "instance", "kind", "message"}
        wait_until(lambda: len(posted) == 3, 10)
        assert [p["kind"] for p in posted] == ["crash", "restart", "gave_up"]

        assert len(client.alerts(unacknowledged=True)) == 3
        acknowledged = client.acknowledge_alert(crash["id"])
        assert acknowledged["acknowledged_by"] == USERNAME and acknowledged["acknowledged_at"] is not None
        assert len(client.alerts(unacknowledged=True)) == 2
        assert client.acknowledge_alerts() == {"acknowledged": 2}
        assert client.alerts(unacknowledged=True) == []
        with pytest.raises(BackendError) as missing:
            client.acknowledge_alert(99999)
        assert missing.value.status == 404
        assert [e["detail"] for e in client.audit_log(10) if e["action"] == "acknowledge alert"] == [
            "2 alerts", "alert 1 (crash of crashy)"]
    finally:
        probe.close()


def test_a_dead_alert_webhook_does_not_hold_the_supervisor(backend_factory) -> None:
    backend = backend_factory(alert_webhook_url=f"http://127.0.0.1:{free_port()}/nobody", alert_webhook_timeout=1.0)
    client = backend.client
    client.start_broker()
    crashing = {"id": "mm1", "strategy": "market_maker", "params": {"fake_exit_after": 0.5}}
    client.create_instance(spec("crashy", crashing, restart_policy={"policy": "never"}))
    wait_until(lambda: [a["kind"] for a in client.alerts()] == ["crash"], 20)
    assert wait_state(client, "crashy", "error")["reason"].startswith("exited with code 1: RuntimeError: fake crash")
