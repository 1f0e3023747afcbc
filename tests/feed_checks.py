"""What the feed service's tests check of its instances: killed, they take their own connections; started again by
the backend, they come back to it."""
from __future__ import annotations

import os
import signal
from typing import Any

from backend.client import HiveClient
from hive_core.sim.background import VenueThread
from tests.polling import wait_until


def kill_the_service_and_see_them_come_back(client: HiveClient, venue: VenueThread, status: dict[str, Any],
                                            instances: int) -> None:
    """Kill the service `status` describes: the venue sees one connection per instance; once the backend started it
    again, one connection for all of them."""
    os.kill(status["pid"], signal.SIGKILL)
    wait_until(lambda: venue.call(lambda server: server.stream_connections()) == instances, 20,
               message="the instances on connections of their own while the service is gone")
    wait_until(lambda: (now := client.feed_status())["state"] == "running" and now["pid"] != status["pid"], 20,
               message="the service started again by the backend")
    wait_until(lambda: venue.call(lambda server: server.stream_connections()) == 1, 30,
               message="the instances back on the service")
