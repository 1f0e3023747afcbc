"""The broker as the services report it."""
from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, model_validator

from backend.domain.base import Strict
from hive_core.config import Identifier

BrokerState = Literal["stopped", "starting", "running", "error"]
BrokerKind = Literal["embedded", "container", "external"]
BrokerHealth = Literal["starting", "healthy", "unhealthy"]
RESERVED_PREFIX = "hive-"  # Hive's own broker logins: the backend's and one per instance


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
    anonymous_allowed: bool | None = Field(
        None, description="the broker accepted a CONNECT without a login, so any local process can read and command "
                          "every bot (None: not checked yet, or not running)")


class BrokerLog(BaseModel):
    kind: BrokerKind
    lines: list[str] = Field(description="the last lines of the broker's log, oldest first")
    note: str = ""


BrokerLoginRole = Literal["backend", "controller", "instance", "bot"]


class BrokerLoginOut(BaseModel):
    """A broker login without its password (never shown again after its creation)."""

    username: str
    role: BrokerLoginRole = Field(description="backend and controller: every topic; instance and bot: one bot's "
                                              "topics (docs/protocol.md, Broker logins and ACL)")
    scope: str | None = Field(None, description="the bot id an instance or bot login is confined to")
    created_at: float
    created_by: str = ""


class BrokerLoginCreate(Strict):
    """An extra login for a bot or a tool Hive does not run (a real Hummingbot, hbotrc)."""

    username: Identifier = Field(description="the login's name; `hive-` is kept for Hive's own logins")
    role: Literal["bot", "controller"] = Field(description="bot: one bot's topics (bot_id); controller: every topic")
    bot_id: Identifier | None = Field(None, description="for a bot login: the bot's instance id on the wire")

    @model_validator(mode="after")
    def _scoped(self) -> BrokerLoginCreate:
        if self.username.startswith(RESERVED_PREFIX):
            raise ValueError(f"username: {self.username!r} starts with {RESERVED_PREFIX!r}, kept for Hive's own "
                             "logins; choose another name")
        if self.role == "bot" and self.bot_id is None:
            raise ValueError("bot_id: a bot login is confined to one bot; give its instance id")
        if self.role == "controller" and self.bot_id is not None:
            raise ValueError("bot_id: a controller login has every topic; leave bot_id out (or choose role bot)")
        return self


class BrokerLoginCreated(BrokerLoginOut):
    password: str = Field(description="shown this once; stored encrypted, never returned again")


class BrokerAccessSetup(BaseModel):
    """What to configure on an external broker so that it enforces Hive's logins and ACL."""

    password_file: str = Field(description="the Mosquitto password file the backend keeps up to date (0600)")
    acl_file: str = Field(description="the Mosquitto ACL file the backend keeps up to date (0600)")
    mosquitto_lines: list[str] = Field(description="the lines of mosquitto.conf that use them")
    steps: list[str] = Field(description="what to do, in order")
    anonymous_allowed: bool | None = Field(None, description="the broker in use accepted a CONNECT without a login "
                                                             "(None: not checked, no broker in use)")


class BrokerClient(BaseModel):
    """One client connected to the broker, and which part of Hive (or which bot) it is, from its login."""

    client_id: str | None = Field(None, description="its MQTT client id (None: a bot heard, not seen connecting)")
    username: str | None = Field(None, description="the login it connected with")
    role: BrokerLoginRole | None = Field(None, description="its login's role; None: not a login Hive knows")
    bot: str | None = Field(None, description="the bot id its login is confined to (instance and bot logins), or "
                                              "the bot heard")
    who: str = Field(description="in words: the backend, instance <name>, bot <id>, controller <login>, ...")
    address: str | None = Field(None, description="host:port it connected from")
    since: float | None = Field(None, description="when it connected (a bot only heard: when it was first heard)")
    last_heard: float | None = Field(None, description="a bot only heard: when it was last heard")


class BrokerClients(BaseModel):
    kind: BrokerKind
    source: Literal["broker_log", "heard", "none"] = Field(
        description="broker_log: the broker's connection messages; heard: an external broker tells nobody who is "
                    "connected, these are the bots the backend hears on it; none: no broker runs")
    total: int = Field(description="clients known (`clients` holds at most `limit` of them)")
    clients: list[BrokerClient]
    untracked: int = Field(0, description="connections not followed: beyond the bound of clients kept")
    note: str = ""


class BrokerMetricsPoint(BaseModel):
    """The broker's figures at one time (one point every few seconds while a broker runs)."""

    ts: float
    messages_per_s: float | None = Field(None, description="messages received per second ($SYS)")
    clients_connected: int | None = Field(None, description="from $SYS/broker/clients/connected")
    cpu_percent: float | None = None
    memory_bytes: int | None = None
