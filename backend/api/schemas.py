"""The HTTP-only bodies of the REST API: request shapes the services never see, and the error body.

The models the services take and give live in backend/domain and are used as bodies as they are.
Errors are always `{"detail": "<what happened and what to do>", "code": "<keyword>"}` with a 4xx/5xx
status; `code` is stable for the dashboard to branch on (e.g. `port_in_use`, `broker_not_running`).
"""
from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from backend.domain.base import Strict


# --- errors --------------------------------------------------------------------------------------
class ErrorBody(BaseModel):
    """Every error answer of the API (4xx and 5xx)."""
    detail: str = Field(description="what happened and what to do about it")
    code: str = Field(description="a stable keyword to branch on: validation_error, not_found, duplicate_name, "
                                  "too_many_attempts, ...")


# --- broker --------------------------------------------------------------------------------------
class BrokerStartRequest(Strict):
    port: int | None = Field(None, ge=1, le=65535, description="defaults to HIVE_BROKER_PORT")
    kind: Literal["embedded", "container"] = Field(
        "embedded", description="the embedded broker (amqtt), or a Mosquitto container with a generated password")


class ExternalBrokerRequest(Strict):
    host: str
    port: int = Field(ge=1, le=65535)
    username: str | None = Field(None, min_length=1, description="when the broker needs a login (kept encrypted)")
    password: SecretStr | None = None


# --- strategies ----------------------------------------------------------------------------------
class StrategySave(Strict):
    source: str


class StrategyNew(Strict):
    name: str = Field(max_length=63, description="the new strategy's name: letters, digits or '_', starting with a "
                                                 "letter; its first version is a starter template")


class StrategyRename(Strict):
    to: str = Field(max_length=63, description="the new name (same rules as a new strategy's)")


# --- remote control ------------------------------------------------------------------------------
class CommandRequest(Strict):
    data: dict[str, Any] = Field(default_factory=dict, description="the command's request fields (docs/protocol.md)")
    strategy: str | None = Field(None, min_length=1, description="address one strategy id of the instance")
    timeout: float | None = Field(None, gt=0, le=300, description="seconds to wait for the reply; per-command default")


class CommandReply(BaseModel):
    model_config = ConfigDict(extra="allow")
    status: int
    msg: str = ""


# --- webhooks ------------------------------------------------------------------------------------
class WebhookAccepted(BaseModel):
    accepted: bool = True
    event_id: int
