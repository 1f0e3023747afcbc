"""External events, TradingView webhooks and the audit trail, as the services take and report them."""
from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from backend.domain.base import Strict


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
    deliveries: dict[str, str] = Field(
        description="per target: 'published', 'queued' (broker unreachable) or 'failed: ...'")


TRADINGVIEW_IPS = ["52.89.214.238", "34.212.75.30", "54.218.53.128", "52.32.178.7"]


class WebhookCreate(Strict):
    hook: str | None = Field(None, pattern=r"^[A-Za-z0-9_\-]{1,63}$",
                             description="id in the URL; generated when absent")
    event: str = Field(min_length=1, max_length=255, pattern=r"^[A-Za-z0-9_\-]+(\.[A-Za-z0-9_\-]+)*$")
    targets: list[str] | Literal["all"]
    allow_ips: list[str] = Field(default_factory=list,
                                 description=f"empty: any sender; TradingView's: {TRADINGVIEW_IPS}")
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


class AuditEntry(BaseModel):
    ts: float
    actor: str = Field(description="who: `user:<name>`, `webhook:<hook> from <ip>`, or for a command that reached a "
                                   "bot by MQTT from another controller `mqtt:<agent>`")
    action: str
    outcome: str
    detail: str
    instance: str | None = Field(None, description="the bot a command went to")
    origin: str | None = Field(None, description="commands: `api` (sent by this backend for the actor) or `mqtt` "
                                                 "(reported by the bot, sent by another controller)")
    strategy: str | None = Field(None, description="commands: the strategy id the command addressed")


class AuditFilter(BaseModel):
    """Which audit entries to read, newest first: every given field narrows the selection."""

    actor: str | None = Field(None, max_length=255, description="who: a part of it, any case (`admin`, `webhook:`)")
    action: str | None = Field(None, max_length=63,
                               description="exactly this action (`login`, `command`, `broker`...)")
    outcome: str | None = Field(None, max_length=32,
                                description="exactly this outcome (`ok`, `failed`, `refused (409)`)")
    instance: str | None = Field(None, max_length=255, description="only the entries about this bot")
    strategy: str | None = Field(None, max_length=63, description="only the commands to this strategy id")
    since: float | None = Field(None, description="epoch seconds: entries at or after")
    until: float | None = Field(None, description="epoch seconds: entries before")
    q: str | None = Field(None, max_length=200, description="a text in who, action, outcome or detail, any case")
    limit: int = Field(200, ge=1, le=1000)
    offset: int = Field(0, ge=0, le=1_000_000)
