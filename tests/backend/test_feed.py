"""The backend keeps the host's market-data service running (backend/feed/manager.py): the instances it starts take
their venue's market data through it, one upstream connection for all of them; killed, it is started again, the
instances taking their own connections meanwhile and coming back to it."""
from __future__ import annotations

import pytest
import yaml

from hive_core.sim.background import venue_thread
from tests.backend.conftest import REAL_CORE
from tests.feed_checks import kill_the_service_and_see_them_come_back
from tests.polling import wait_until

pytestmark = pytest.mark.slow
PAPER = {"kind": "binance", "network": "testnet", "mode": "paper"}


def test_instances_share_the_hosts_market_data_service_which_comes_back_when_killed(backend_factory) -> None:
    with venue_thread() as venue:
        backend = backend_factory(core_command=REAL_CORE, feed_service=True, heartbeat_interval=1.0,
                                  heartbeat_timeout=5.0, start_timeout=30.0,
                                  venue_endpoints=venue.endpoints("binance_testnet"))
        client = backend.client
        client.start_broker()
        status = client.feed_status()
        assert status["state"] == "running" and status["address"].startswith("unix:"), status
        for name in ("paper1", "paper2"):
            client.create_instance({"name": name, "strategies": [{"id": "mm", "strategy": "market_maker"}],
                                    "venue": PAPER})
        wait_until(lambda: {i["state"] for i in client.list_instances()} == {"running"}, 40,
                   message="both instances running")
        config = yaml.safe_load((backend.settings.data_dir / "instances" / "paper1" / "config.yml").read_text())
        assert config["venue"]["feed"] == status["address"]
        shared = {"btcusdt@depth@100ms": 2, "btcusdt@trade": 2}
        wait_until(lambda: [u["streams"] for u in client.feed_status()["upstreams"]] == [shared], 20,
                   message="both instances' streams through the service")
        assert venue.call(lambda server: server.stream_connections()) == 1
        assert venue.call(lambda server: server.subscriptions()) == {"btcusdt@depth@100ms": 1, "btcusdt@trade": 1}

        kill_the_service_and_see_them_come_back(client, venue, status, instances=2)
        assert {i["state"] for i in client.list_instances()} == {"running"}
