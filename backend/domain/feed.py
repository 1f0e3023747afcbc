"""The host's market-data service as the API shows it."""
from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field


class FeedUpstream(BaseModel):
    stream_url: str = Field(description="the venue endpoint's market streams")
    connected: bool
    lag_ms: float | None = Field(None, description="how far behind the venue's clock its newest book update is")
    streams: dict[str, int] = Field(description="stream -> how many instances take it (one subscription each)")
    api_clients: int = Field(description="instances asking it for book snapshots")
    messages: int
    gaps: int = Field(description="sequence gaps in its books (each resynced)")
    resyncs: int
    reconnects: int


class FeedStatus(BaseModel):
    state: Literal["running", "stopped", "error", "disabled"] = Field(
        description="disabled: HIVE_FEED_SERVICE=false; instances then take their own connections")
    address: str | None = Field(description="what instances are given (unix:<socket>) while it runs")
    pid: int | None
    error: str | None = Field(description="why it is not running, when it failed to start")
    clients: int = Field(0, description="instance stream connections")
    dropped: int = Field(0, description="messages dropped for instances that read too slowly (each told, resynced)")
    upstreams: list[FeedUpstream] = Field(default_factory=list)

    @classmethod
    def of(cls, status: dict[str, Any]) -> FeedStatus:
        health = status.get("health") or {}
        return cls(state=status["state"], address=status["address"], pid=status["pid"], error=status["error"],
                   clients=health.get("clients", 0), dropped=health.get("dropped", 0),
                   upstreams=[FeedUpstream.model_validate(item) for item in health.get("upstreams", [])])
