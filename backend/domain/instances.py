"""Instances: what the operator asks for (InstanceCreate) and what the services report of them."""
from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from backend.domain.base import Strict
from hive_core.config import Identifier

InstanceState = Literal["created", "starting", "running", "stopping", "stopped", "error"]


class StrategySpec(Strict):
    id: Identifier
    strategy: str = Field(description="name in the strategy library")
    params: dict[str, Any] = Field(default_factory=dict)
    interval: float = Field(1.0, gt=0)
    trading_pair: str | None = Field(None, description="one of the instance's trading_pairs; the first when absent")


class InstanceCreate(Strict):
    name: Identifier = Field(description="also the bot's instance_id on the wire")
    runtime: Literal["process"] = "process"
    strategies: list[StrategySpec] = Field(min_length=1)
    trading_pairs: list[str] = Field(default_factory=lambda: ["BTC-USDT"], min_length=1)
    balances: dict[str, float] | None = Field(
        None, description="paper balances per strategy; runtime default when absent")
    start: bool = Field(True, description="start right after creating")


class PnlSummary(BaseModel):
    realized: float = 0.0
    unrealized: float = 0.0
    total: float = 0.0
    volume: float = 0.0


class StrategyStatus(BaseModel):
    id: str
    strategy: str
    version: int | None = Field(None, description="library version it runs; None for shipped examples")
    params: dict[str, Any]
    interval: float
    status: str | None = Field(None, description="as last reported in P/performance: running / stopped / error")
    error: str | None = None
    pnl: PnlSummary = Field(default_factory=PnlSummary)


class InstanceOut(BaseModel):
    name: str
    runtime: str = Field(
        description="process, or external for a bot heard on the broker that the backend did not create")
    state: InstanceState
    reason: str = Field(description="why it is in this state, in words for the operator")
    state_since: float = Field(description="epoch seconds of the last state change")
    created_at: float
    pid: int | None = None
    last_heartbeat_age_s: float | None = None
    cpu_percent: float | None = None
    memory_bytes: int | None = None
    pnl: PnlSummary = Field(default_factory=PnlSummary)
    strategies: list[StrategyStatus]


class StateChange(BaseModel):
    ts: float
    from_state: InstanceState | None
    to_state: InstanceState
    reason: str


class LogLine(BaseModel):
    timestamp: float
    level_name: str
    logger_name: str
    msg: str
    strategy: str | None = Field(None, description="strategy id when the logger belongs to one")


class PnlPoint(BaseModel):
    ts: float
    strategy: str
    realized: float
    unrealized: float
    total: float
    volume: float


class Trade(BaseModel):
    ts: float
    strategy: str | None
    order_id: str
    trading_pair: str
    side: Literal["BUY", "SELL"]
    price: float
    amount: float
    fee: float


class Notification(BaseModel):
    ts: float
    seq: int | None
    msg: str


class MarketEvent(BaseModel):
    ts: float
    type: str
    data: Any = None
