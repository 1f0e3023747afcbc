"""Request and response bodies of the REST API: the contract the thin client and the dashboard read.

Errors are always `{"detail": "<what happened and what to do>", "code": "<keyword>"}` with a 4xx/5xx
status; `code` is stable for the dashboard to branch on (e.g. `port_in_use`, `broker_not_running`).
"""
from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from hive_core.config import Identifier

InstanceState = Literal["created", "starting", "running", "stopping", "stopped", "error"]
BrokerState = Literal["stopped", "starting", "running", "error"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ErrorBody(BaseModel):
    detail: str
    code: str


# --- broker --------------------------------------------------------------------------------------
class BrokerStartRequest(Strict):
    port: int | None = Field(None, ge=1, le=65535, description="defaults to HIVE_BROKER_PORT")


class ExternalBrokerRequest(Strict):
    host: str
    port: int = Field(ge=1, le=65535)


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


# --- instances -----------------------------------------------------------------------------------
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
    balances: dict[str, float] | None = Field(None, description="paper balances per strategy; runtime default when absent")
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
    runtime: str = Field(description="process, or external for a bot heard on the broker that the backend did not create")
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


# --- strategies ----------------------------------------------------------------------------------
class StrategyOut(BaseModel):
    name: str
    kind: Literal["builtin", "uploaded"]
    version: int | None = Field(None, description="latest version; None for shipped examples")
    description: str = ""
    params_schema: dict[str, Any] = Field(default_factory=dict, description="JSON schema of the strategy's params")
    updated_at: float | None = None


class StrategyVersion(BaseModel):
    version: int
    created_at: float
    size: int


class StrategyDetail(StrategyOut):
    source: str
    versions: list[StrategyVersion] = Field(default_factory=list)


class StrategySave(Strict):
    source: str


class StrategyVersionDetail(StrategyVersion):
    """One stored version of an uploaded strategy, with its source."""

    name: str
    source: str
    description: str = ""
    params_schema: dict[str, Any] = Field(default_factory=dict)


# --- remote control ------------------------------------------------------------------------------
class CommandRequest(Strict):
    data: dict[str, Any] = Field(default_factory=dict, description="the command's request fields (PROTOCOL.md)")
    strategy: str | None = Field(None, min_length=1, description="address one strategy id of the instance")
    timeout: float | None = Field(None, gt=0, le=300, description="seconds to wait for the reply; per-command default")


class CommandReply(BaseModel):
    model_config = ConfigDict(extra="allow")
    status: int
    msg: str = ""


class Notification(BaseModel):
    ts: float
    seq: int | None
    msg: str


class MarketEvent(BaseModel):
    ts: float
    type: str
    data: Any = None


# --- external events and webhooks ----------------------------------------------------------------
class EventPublish(Strict):
    name: str = Field(min_length=1, max_length=255, pattern=r"^[A-Za-z0-9_\-]+(\.[A-Za-z0-9_\-]+)*$",
                      description="dotted event name; tv.signal.buy is published on P/external/event/tv/signal/buy")
    data: dict[str, Any] = Field(default_factory=dict)
    targets: list[str] | Literal["all"] = Field(description="instance names, or 'all' (every known bot)")


class EventOut(BaseModel):
    id: int
    ts: float
    name: str
    data: dict[str, Any]
    sender: str
    targets: list[str]
    deliveries: dict[str, str] = Field(description="per target: 'published', 'queued' (broker unreachable) or 'failed: ...'")


TRADINGVIEW_IPS = ["52.89.214.238", "34.212.75.30", "54.218.53.128", "52.32.178.7"]


class WebhookCreate(Strict):
    hook: str | None = Field(None, pattern=r"^[A-Za-z0-9_\-]{1,63}$", description="id in the URL; generated when absent")
    event: str = Field(min_length=1, max_length=255, pattern=r"^[A-Za-z0-9_\-]+(\.[A-Za-z0-9_\-]+)*$")
    targets: list[str] | Literal["all"]
    allow_ips: list[str] = Field(default_factory=list, description=f"empty: any sender; TradingView's: {TRADINGVIEW_IPS}")
    max_lag: float = Field(60.0, gt=0, description="a body `timestamp` older than this (s) is refused")
    rate_per_min: int = Field(60, ge=1, le=6000)


class WebhookOut(BaseModel):
    hook: str
    event: str
    targets: list[str] | Literal["all"]
    allow_ips: list[str]
    max_lag: float
    rate_per_min: int
    created_at: float
    path: str = Field(description="the public URL path to give TradingView")


class WebhookCreated(WebhookOut):
    secret: str = Field(description="shown this once; only its hash is stored")
    alert_template: str = Field(description="an alert message for TradingView, with the secret in it")


class WebhookAccepted(BaseModel):
    accepted: bool = True
    event_id: int


class AuditEntry(BaseModel):
    ts: float
    actor: str
    action: str
    outcome: str
    detail: str
