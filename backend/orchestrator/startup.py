"""An instance's start-up in steps (created -> image ready -> process or container started -> first heartbeat),
read from what really happened: the state history, and the runtime's note of when it started the process.

A pure function of those facts (no database, no runtime), so each way a start can end is easy to test. The
steps' times: `created` and `first heartbeat` are the state changes' (the first heartbeat is what moves an
instance to running); `started` is the moment the runtime's start returned (the instance's `started_at`, which
the same launch writes as the time of its change to starting); `image ready` is when the docker runtime found
the image on its host (its `image_ready_at`).
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from backend.domain.instances import StateChange
from backend.domain.startup import Outcome, Startup, StartupStep, StepKey
from backend.orchestrator.lifecycle import State

LOG_LINES = 20  # lines of the process's output shown with a failed start
NOT_STARTED = "created, not started: "  # how InstanceService.create words a start it could not make


@dataclass(frozen=True)
class StartupFacts:
    name: str
    runtime: str
    state: State
    reason: str
    changes: Sequence[StateChange]  # oldest first
    started_at: float | None = None
    pid: int | None = None
    locator: dict[str, Any] = field(default_factory=dict)


def _step(key: StepKey, label: str, state: str = "waiting", at: float | None = None, detail: str = "") -> StartupStep:
    return StartupStep(key=key, label=label, state=state, at=at, detail=detail)  # type: ignore[arg-type]


def startup_of(facts: StartupFacts, last_lines: Callable[[int], list[str]], since: float | None = None) -> Startup:
    """The steps of one start: the first one at or after `since` (epoch s), or the latest when `since` is None."""
    docker = facts.runtime == "docker"
    created = next((change for change in facts.changes if change.to_state == State.CREATED), None)
    steps = {
        "created": _step("created", "created", "done", created.ts if created else None),
        "image": _step("image", "image ready") if docker else _step("image", "image ready", "skipped",
                                                                       detail="not needed for a process"),
        "started": _step("started", "container started" if docker else "process started"),
        "heartbeat": _step("heartbeat", "first heartbeat"),
    }
    starts = [index for index, change in enumerate(facts.changes)
              if change.to_state == State.STARTING and (since is None or change.ts >= since)]
    attempt_at: float | None = None
    outcome: Outcome
    failed: StepKey | None = None
    index = 0
    if not starts:
        outcome, failed = _never_started(facts, steps, docker)
    else:
        index = starts[0] if since is not None else starts[-1]
        attempt_at = facts.changes[index].ts
        outcome, failed = _attempt(facts, steps, docker, attempt_at, facts.changes[index + 1:])
    latest = not starts or index == starts[-1]  # a later start (a restart) writes the log over: not this one's
    log = last_lines(LOG_LINES) if outcome == "failed" and facts.locator and latest else []
    return Startup(name=facts.name, runtime=facts.runtime, attempt_at=attempt_at, outcome=outcome, failed_step=failed,
                   reason=facts.reason, steps=list(steps.values()), log=log)


def _never_started(facts: StartupFacts, steps: dict[str, StartupStep],
                   docker: bool) -> tuple[Outcome, StepKey | None]:
    """No start yet: created without one, or a start that the runtime refused before anything ran (the image is
    gone from its host, the engine does not answer), which leaves the instance created with that reason."""
    if facts.state != State.CREATED or not facts.reason.startswith(NOT_STARTED):
        return "not_started", None
    failed: StepKey = "image" if docker and "image" in facts.reason else "started"
    steps[failed] = steps[failed].model_copy(update={"state": "failed",
                                                     "detail": facts.reason.removeprefix(NOT_STARTED)})
    return "failed", failed


def _attempt(facts: StartupFacts, steps: dict[str, StartupStep], docker: bool, attempt_at: float,
             after: Sequence[StateChange]) -> tuple[Outcome, StepKey | None]:
    # the launch that started a process writes started_at and its change to starting with the same time
    launched = facts.started_at is not None and facts.started_at >= attempt_at - 0.001
    end = next((change for change in after if change.to_state != State.STARTING), None)
    if launched:
        if docker:
            steps["image"] = steps["image"].model_copy(update={
                "state": "done", "at": facts.locator.get("image_ready_at") or attempt_at})
        steps["started"] = steps["started"].model_copy(update={
            "state": "done", "at": attempt_at, "detail": f"pid {facts.pid}" if facts.pid else ""})
    current: StepKey = "heartbeat" if launched else "started"
    if end is None:
        steps[current] = steps[current].model_copy(update={"state": "running"})
        return "starting", None
    if end.to_state == State.RUNNING:
        steps["heartbeat"] = steps["heartbeat"].model_copy(update={"state": "done", "at": end.ts})
        return "running", None
    if end.to_state == State.ERROR:
        steps[current] = steps[current].model_copy(update={"state": "failed", "at": end.ts, "detail": end.reason})
        return "failed", current
    steps[current] = steps[current].model_copy(update={"state": "skipped", "at": end.ts, "detail": end.reason})
    return "stopped", None
