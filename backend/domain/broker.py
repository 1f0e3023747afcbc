"""The broker as the services report it."""
from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

BrokerState = Literal["stopped", "starting", "running", "error"]


class BrokerStatus(BaseModel):
    kind: Literal["embedded", "external"]
    state: BrokerState
    host: str
    port: int
    reason: str = Field("", description="why it is in this state, e.g. the error that stopped it")
    pid: int | None = None
    uptime_s: float | None = None
    clients_connected: int | None = Field(None, description="from $SYS/broker/clients/connected")
    messages_received: int | None = None
    messages_sent: int | None = None
    messages_per_s: float | None = Field(None, description="received messages per second, from $SYS deltas")
    cpu_percent: float | None = None
    memory_bytes: int | None = None
    fleet_connected: bool = Field(False, description="the backend's own fleet connection is up")
