"""The resource history: one point per instance every 5 s, thinned after an hour and dropped after a day (a real
SQLite store, injected times), and a process instance's points through the API."""
from __future__ import annotations

from pathlib import Path

import pytest

from backend.client import BackendError
from backend.orchestrator.resource_history import ResourceHistory
from backend.runtimes.base import Resources
from backend.store import InstanceRow, Store
from tests.backend.test_api_instances import spec, wait_state
from tests.polling import wait_until

T0 = 1_800_000_000.0
USE = Resources(cpu_percent=12.5, memory_bytes=50_000_000)


@pytest.fixture
def store(tmp_path: Path):
    store = Store(f"sqlite:///{tmp_path / 'hive.db'}")
    with store.session() as session:
        for name in ("a", "b"):
            session.add(InstanceRow(name=name, runtime="process", spec={}, config_path="", state="running",
                                    state_since=T0, created_at=T0))
    yield store
    store.close()


def stamps(store: Store, history: ResourceHistory, instance_id: int, since: float | None = None) -> list[float]:
    with store.session() as session:
        return [p.ts - T0 for p in history.points(session, instance_id, since)]


def test_one_point_every_five_seconds_and_none_before_anything_is_measured(store: Store) -> None:
    history = ResourceHistory()
    with store.session() as session:
        history.note(session, 1, Resources(), T0)  # a container's first stats sample is not in yet
        for second in range(0, 13):
            history.note(session, 1, USE, T0 + 1 + second)
    assert stamps(store, history, 1) == [1, 6, 11]
    assert stamps(store, history, 1, since=T0 + 6) == [11]
    assert stamps(store, history, 2) == []
    with store.session() as session:
        [point] = history.points(session, 1, T0 + 6)
    assert (point.cpu_percent, point.memory_bytes, point.network_rx_bytes) == (12.5, 50_000_000, None)


def test_older_points_are_thinned_to_one_a_minute_and_dropped_after_the_day(store: Store) -> None:
    history = ResourceHistory(interval=10, keep=3600, full_resolution=600, thinned_bucket=60)
    with store.session() as session:
        for step in range(0, 370):  # an hour and a minute of points every 10 s, for two instances
            for instance_id in (1, 2):
                history.note(session, instance_id, USE, T0 + step * 10)
    # pruned each minute, last at 3660 s: before 60 s dropped, before 3060 s one point a minute, then all
    for instance_id in (1, 2):
        kept = stamps(store, history, instance_id)
        assert [t for t in kept if t < 3060] == list(range(60, 3060, 60))
        assert [t for t in kept if t >= 3060] == list(range(3060, 3700, 10))


@pytest.mark.usefixtures("running_broker")
def test_a_process_instance_has_its_resource_use_over_time(client) -> None:
    client.create_instance(spec("hist1"))
    wait_state(client, "hist1", "running")
    points = wait_until(lambda: len(p := client.instance_resources("hist1")) >= 2 and p, 20,
                        message="two points of resource history")
    assert points[1]["ts"] - points[0]["ts"] >= 4.9
    assert all(p["memory_bytes"] > 0 and p["cpu_percent"] is not None for p in points)
    assert all(p["network_rx_bytes"] is None for p in points)
    instance = client.get_instance("hist1")
    assert (instance["host"], instance["image"], instance["limits"], instance["network_tx_bytes"]) == \
        (None, None, None, None)
    client.stop_instance("hist1")
    client.delete_instance("hist1")
    with pytest.raises(BackendError) as gone:
        client.instance_resources("hist1")
    assert gone.value.status == 404
