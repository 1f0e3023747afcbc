"""The lifecycle table: every allowed transition, every refused one, and the history it writes."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from backend.api.errors import status_of
from backend.orchestrator.lifecycle import (
    TRANSITIONS,
    State,
    TransitionError,
    can_transition,
    record_creation,
    transition,
)
from backend.store import InstanceRow, StateChangeRow, Store

ALLOWED = {
    ("created", "starting"),
    ("starting", "running"), ("starting", "stopping"), ("starting", "error"),
    ("running", "stopping"), ("running", "error"),
    ("stopping", "stopped"), ("stopping", "error"),
    ("stopped", "starting"),
    ("error", "starting"), ("error", "stopping"), ("error", "stopped"), ("error", "running"),
}


def test_table_covers_every_state() -> None:
    assert set(TRANSITIONS) == set(State)


@pytest.mark.parametrize("current", list(State))
@pytest.mark.parametrize("target", list(State))
def test_transition_is_allowed_exactly_when_listed(current: State, target: State) -> None:
    assert can_transition(current, target) == ((current.value, target.value) in ALLOWED)


def test_running_cannot_be_started_again_nor_stopped_without_stopping() -> None:
    assert not can_transition("running", "starting")
    assert not can_transition("running", "stopped")
    assert not can_transition("created", "running")


@pytest.fixture
def store(tmp_path) -> Store:
    store = Store(f"sqlite:///{tmp_path / 'hive.db'}")
    yield store
    store.close()


def _new_instance(store: Store) -> int:
    with store.session() as session:
        row = InstanceRow(name="bot", runtime="process", spec={}, config_path="x", state="created",
                          state_since=0.0, created_at=0.0)
        session.add(row)
        record_creation(session, row, "created by operator", now=1.0)
        return row.id


def test_each_transition_is_recorded_with_its_reason(store: Store) -> None:
    instance_id = _new_instance(store)
    with store.session() as session:
        row = session.get(InstanceRow, instance_id)
        transition(session, row, State.STARTING, "process started", now=2.0)
        transition(session, row, State.RUNNING, "heartbeat received 0 s ago", now=3.0)
        transition(session, row, State.ERROR, "no heartbeat for 34 s", now=40.0)
    with store.session() as session:
        row = session.get(InstanceRow, instance_id)
        assert (row.state, row.reason, row.state_since) == ("error", "no heartbeat for 34 s", 40.0)
        history = [(c.from_state, c.to_state, c.reason) for c in session.scalars(
            select(StateChangeRow).where(StateChangeRow.instance_id == instance_id).order_by(StateChangeRow.id))]
    assert history == [
        (None, "created", "created by operator"), ("created", "starting", "process started"),
        ("starting", "running", "heartbeat received 0 s ago"), ("running", "error", "no heartbeat for 34 s"),
    ]


def test_refused_transition_raises_409_and_changes_nothing(store: Store) -> None:
    instance_id = _new_instance(store)
    with pytest.raises(TransitionError) as raised:
        with store.session() as session:
            transition(session, session.get(InstanceRow, instance_id), State.RUNNING, "impossible")
    assert status_of(raised.value) == 409 and raised.value.code == "invalid_transition"
    assert "created" in raised.value.detail and "running" in raised.value.detail
    with store.session() as session:
        assert session.get(InstanceRow, instance_id).state == "created"
        assert len(list(session.scalars(select(StateChangeRow)))) == 1
