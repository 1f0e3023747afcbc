"""A docker instance whose host stops answering: its state is judged by its heartbeats alone, and the error says
that its Docker host does not answer; nothing is killed or restarted against an engine that is not there."""
from __future__ import annotations

import time
from pathlib import Path

from backend.domain.instances import InstanceCreate
from backend.store import InstanceRow
from tests.polling import wait_until


def test_an_instance_on_a_host_that_does_not_answer_goes_to_error_on_its_heartbeats_saying_why(
        backend_factory, tmp_path: Path) -> None:
    backend = backend_factory(heartbeat_timeout=1.5)
    client = backend.client
    client.start_broker()
    socket = tmp_path / "gone.sock"
    client.add_host("gone", f"unix://{socket}")
    spec = InstanceCreate(name="bot-gone", runtime="docker", host="gone", image="hive/hive-core:test",
                          strategies=[{"id": "mm", "strategy": "market_maker"}])
    now = time.time()
    with backend.services.store.session() as session:  # running on that host, as the docker runtime stores one
        session.add(InstanceRow(name="bot-gone", runtime="docker", spec={"create": spec.model_dump(mode="json"),
                                                                          "versions": {}},
                                config_path="", state="running", reason="heartbeat received", state_since=now,
                                started_at=now, created_at=now,
                                handle={"host": "gone", "container_id": "0" * 64, "name": "hive-bot-gone"}))

    failed = wait_until(lambda: (i := client.get_instance("bot-gone"))["state"] == "error" and i, 15,
                        message=lambda: f"bot-gone in error: {client.get_instance('bot-gone')}")

    assert failed["reason"].startswith("no heartbeat for"), failed["reason"]
    assert f"Docker host 'gone' (unix://{socket}) cannot be used: unreachable" in failed["reason"], failed["reason"]
    assert failed["next_restart_at"] is None and failed["restarts"] == 0  # no restart against a dead engine
    history = client.instance_history("bot-gone")
    assert [change["to_state"] for change in history][-1] == "error"
