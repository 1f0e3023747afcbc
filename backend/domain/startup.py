"""An instance's start-up, step by step: what the create form's progress view shows while it starts."""
from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

StepKey = Literal["created", "image", "started", "heartbeat"]
StepState = Literal["done", "running", "failed", "skipped", "waiting"]
Outcome = Literal["not_started", "starting", "running", "failed", "stopped"]


class StartupStep(BaseModel):
    key: StepKey
    label: str = Field(description="the step in words: created, image ready, process started, first heartbeat")
    state: StepState = Field(description="done; running (under way); failed; skipped (not needed for this runtime, "
                                         "or not reached because the start was called off); waiting (not yet)")
    at: float | None = Field(None, description="epoch seconds it was done or failed")
    detail: str = ""


class Startup(BaseModel):
    name: str
    runtime: str
    attempt_at: float | None = Field(description="epoch seconds of the start reported (None: never started)")
    outcome: Outcome
    failed_step: StepKey | None = None
    reason: str = Field(description="the instance's reason now")
    steps: list[StartupStep]
    log: list[str] = Field(default_factory=list, description="on a failure: the last lines its process wrote")
