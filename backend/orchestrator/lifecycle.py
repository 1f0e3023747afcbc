"""The instance lifecycle: one table of allowed transitions, and the one function that applies them.

    created  --start-->            starting
    starting --heartbeat-->        running
    starting --exit/timeout-->     error
    starting/running --stop-->     stopping
    running  --exit/silence/left-> error
    stopping --exited-->           stopped
    stopping --kill failed-->      error
    stopped  --start-->            starting
    error    --start-->            starting
    error    --stop-->             stopping (process still alive) or stopped (nothing to stop)
    error    --heartbeats again--> running  (the connection came back, the process never died)
    error    --restart-->          starting (the supervisor, as the restart policy says: restarts.py)

Every transition is stored in the state history with its reason, in the same transaction as the state.
"""
from __future__ import annotations

import time
from enum import StrEnum

from sqlalchemy.orm import Session

from backend.errors import Conflict
from backend.store import InstanceRow
from backend.store.repositories.instances import InstanceRepository


class State(StrEnum):
    CREATED = "created"
    STARTING = "starting"
    RUNNING = "running"
    STOPPING = "stopping"
    STOPPED = "stopped"
    ERROR = "error"


TRANSITIONS: dict[State, frozenset[State]] = {
    State.CREATED: frozenset({State.STARTING}),
    State.STARTING: frozenset({State.RUNNING, State.STOPPING, State.ERROR}),
    State.RUNNING: frozenset({State.STOPPING, State.ERROR}),
    State.STOPPING: frozenset({State.STOPPED, State.ERROR}),
    State.STOPPED: frozenset({State.STARTING}),
    State.ERROR: frozenset({State.STARTING, State.STOPPING, State.STOPPED, State.RUNNING}),
}

# States in which the instance's process is (supposed to be) alive and must not be deleted.
ACTIVE = frozenset({State.STARTING, State.RUNNING, State.STOPPING})


class TransitionError(Conflict):
    def __init__(self, name: str, current: State, target: State, hint: str = "") -> None:
        detail = f"instance {name!r} is {current.value}; it cannot go to {target.value}"
        super().__init__("invalid_transition", detail + (f" ({hint})" if hint else ""))
        self.current = current
        self.target = target


def can_transition(current: State | str, target: State | str) -> bool:
    return State(target) in TRANSITIONS[State(current)]


def record_creation(session: Session, row: InstanceRow, reason: str, now: float | None = None) -> None:
    now = time.time() if now is None else now
    row.state, row.reason, row.state_since = State.CREATED.value, reason, now
    session.flush()  # gives the row its id
    InstanceRepository(session).add_state_change(row.id, now, None, State.CREATED.value, reason)


def transition(session: Session, row: InstanceRow, target: State, reason: str, now: float | None = None,
               hint: str = "") -> None:
    """Move `row` to `target`, or raise TransitionError when the table does not allow it."""
    current = State(row.state)
    if not can_transition(current, target):
        raise TransitionError(row.name, current, target, hint)
    now = time.time() if now is None else now
    row.state, row.reason, row.state_since = target.value, reason, now
    InstanceRepository(session).add_state_change(row.id, now, current.value, target.value, reason)
