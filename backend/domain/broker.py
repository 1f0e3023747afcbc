"""The broker as the services report it."""
from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

BrokerState = Literal["stopped", "starting", "running", "error"]
BrokerKind = Literal["embedded", "container", "external"]
BrokerHealth = Literal["starting", "healthy", "unhealthy"]


class BrokerStatus(BaseModel):
    """Never a password: `login_required` says whether the broker in use needs a login, not which."""

    kind: BrokerKind
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
    health: BrokerHealth | None = Field(
        None, description="healthy: running and the backend's connection is up; unhealthy: running without it, or "
                          "in error; none when stopped")
    container_id: str | None = Field(None, description="the broker container's id (kind container)")
    image: str | None = Field(None, description="the broker container's image (kind container)")
    login_required: bool = Field(False, description="the broker refuses clients without a username and password")


class BrokerLog(BaseModel):
    kind: BrokerKind
    lines: list[str] = Field(description="the last lines of the broker's log, oldest first")
    note: str = ""
