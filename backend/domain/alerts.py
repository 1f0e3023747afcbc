"""Alerts: what an operator must notice about an instance, in the page and on the notify channel."""
from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

AlertKind = Literal["crash", "error", "restart", "gave_up"]


class AlertOut(BaseModel):
    id: int
    ts: float = Field(description="epoch seconds it was raised")
    instance: str
    kind: AlertKind = Field(description="crash: its process ended unexpectedly; error: it went into error otherwise "
                                        "(silence, start timeout); restart: the supervisor started it again; "
                                        "gave_up: it used up its restarts and stays in error")
    message: str = Field(description="what happened, in words (the crash's reason names the error)")
    acknowledged_at: float | None = None
    acknowledged_by: str | None = None


class AlertsAcknowledged(BaseModel):
    acknowledged: int = Field(description="how many alerts were acknowledged by this request")
