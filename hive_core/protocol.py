"""The bot wire protocol in one place: topic names, the command list, request fields and reply timeouts.

A bot publishes and listens under `<namespace>/<instance_id>` (`topic_prefix`). The bot publishes
`BOT_TOPICS` (plus the hive extension `metrics`); a controller subscribes to them. The controller
sends each command of `COMMANDS` as a request on `<prefix>/<command>` and waits for the reply on its
own `reply_to` topic at most `COMMAND_TIMEOUTS[command]` seconds. Every command's request `data` is
validated by its model in `REQUEST_MODELS`; unknown fields are ignored, so newer callers still work.
The full description of each message is in docs/protocol.md.

Hive extensions (optional for Hummingbot's tools, which never send them):
- every command takes an optional `strategy` (a strategy id): only that strategy is started, stopped,
  configured, reported or given a balance; without it the whole instance is, as in Hummingbot.
- `strategy/add` (data: a strategy entry as in the instance config, plus `start`, default true),
  `strategy/remove` (`strategy`, `skip_order_cancellation`), `strategy/reload` (`strategy`,
  `keep_state` true, `reset_metrics` false, `cancel_orders` false) and `strategy/resume` (`strategy`).
- the journal (hive_core/remote/journal.py): `P/log`, `P/notify`, `P/events` and `P/pnl` messages carry
  `journal: {run, seq}`, `P/hb` the journal's head; `journal` (`run`, `since`, `limit`) answers a range.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

DEFAULT_NAMESPACE = "hbot"
CLIENT_ID_PREFIX = "hbot."  # a bot's MQTT client id is this and its instance id, whatever the namespace (Hummingbot's)

# Topics the bot publishes under its prefix.
HEARTBEAT_TOPIC = "hb"
STATUS_TOPIC = "status_updates"
LOG_TOPIC = "log"
NOTIFY_TOPIC = "notify"
EVENTS_TOPIC = "events"
PERFORMANCE_TOPIC = "performance"
METRICS_TOPIC = "metrics"          # hive extension: the instance's figures
PNL_TOPIC = "pnl"                  # hive extension: journaled PnL points (hive_core/remote/journal.py)
BOT_TOPICS = (HEARTBEAT_TOPIC, STATUS_TOPIC, LOG_TOPIC, NOTIFY_TOPIC, EVENTS_TOPIC, PERFORMANCE_TOPIC, PNL_TOPIC)
# What the journal keeps: every message on these topics carries `journal: {run, seq}`.
JOURNALED_TOPICS = (LOG_TOPIC, NOTIFY_TOPIC, EVENTS_TOPIC, PNL_TOPIC)

# Topics the bot listens on under its prefix, besides the commands: `external/event/<name...>`.
EXTERNAL_EVENT_TOPIC = "external/event"


def topic_prefix(namespace: str, instance_id: str) -> str:
    """`<namespace>/<instance_id>`; a trailing '/' or '.' of the namespace is dropped."""
    return f"{namespace.rstrip('/.') or DEFAULT_NAMESPACE}/{instance_id}"


# ---- request payloads -------------------------------------------------------------------------

MAX_JOURNAL_LIMIT = 1000
_LOG_LEVELS = {"CRITICAL", "ERROR", "WARNING", "WARN", "INFO", "DEBUG", "NOTSET"}
_ONE = "hive: only this strategy id"


class Request(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class StartRequest(Request):
    log_level: str | None = None
    script: str | None = None
    conf: str | None = None
    is_quickstart: bool = False
    async_backend: bool = True
    strategy: str | None = Field(None, min_length=1, description="hive: start only this strategy id")

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str | None) -> str | None:
        if value is not None and value.upper() not in _LOG_LEVELS:
            raise ValueError(f"unknown log level {value!r} (use DEBUG, INFO, WARNING or ERROR)")
        return value.upper() if value is not None else None


class StopRequest(Request):
    skip_order_cancellation: bool = False
    async_backend: bool = True
    strategy: str | None = Field(None, min_length=1, description="hive: stop only this strategy id")


class StatusRequest(Request):
    async_backend: bool = True
    strategy: str | None = Field(None, min_length=1, description=_ONE)


class HistoryRequest(Request):
    days: float = Field(0, ge=0)
    verbose: bool = False
    precision: int | None = Field(None, ge=0, le=18)
    async_backend: bool = True
    strategy: str | None = Field(None, min_length=1, description=_ONE)


class ConfigRequest(Request):
    params: list[tuple[str, Any]] = Field(default_factory=list)
    strategy: str | None = Field(None, min_length=1, description=_ONE)


class ImportRequest(Request):
    strategy: str = Field(min_length=1, description="config name: the bot loads <strategy>.yml from its config dir")

    @field_validator("strategy")
    @classmethod
    def _plain_name(cls, value: str) -> str:
        name = value.strip()
        if not name:
            raise ValueError("must not be empty")
        if "/" in name or "\\" in name or name.startswith("."):
            raise ValueError(f"{value!r} is not a plain config name (no path)")
        return name.removesuffix(".yml")


class BalanceLimitRequest(Request):
    exchange: str = Field(min_length=1)
    asset: str = Field(min_length=1)
    amount: float = Field(ge=0)
    strategy: str | None = Field(None, min_length=1, description=_ONE)


class BalancePaperRequest(Request):
    asset: str = Field(min_length=1)
    amount: float = Field(ge=0)
    strategy: str | None = Field(None, min_length=1, description=_ONE)


class StrategyRequest(Request):
    """Hive: a request about one strategy, by id."""

    strategy: str = Field(min_length=1)


class StrategyRemoveRequest(StrategyRequest):
    skip_order_cancellation: bool = False


class StrategyReloadRequest(StrategyRequest):
    keep_state: bool = True
    reset_metrics: bool = False
    cancel_orders: bool = False


class StrategyAddRequest(Request):
    """Hive: a strategy entry like the config's (validated by the runtime against the instance), plus `start`."""

    model_config = ConfigDict(extra="allow", frozen=True)

    start: bool = True
    async_backend: bool = True

    def entry(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


class JournalRequest(Request):
    """Hive: journaled records of one run, from `since` on (docs/protocol.md, "journal")."""

    run: str | None = Field(None, min_length=1, description="a run id; the current run when absent")
    since: int = Field(1, ge=1, description="the first seq wanted")
    limit: int = Field(500, ge=0, le=MAX_JOURNAL_LIMIT, description="records at most; 0: only the list of runs")


# ---- the commands -----------------------------------------------------------------------------

@dataclass(frozen=True)
class Command:
    """One request/reply command: its topic suffix, request model and how long a reply may take (s)."""

    name: str
    request: type[Request]
    timeout: float


_COMMANDS = (
    Command("start", StartRequest, 30.0),
    Command("stop", StopRequest, 30.0),
    Command("config", ConfigRequest, 10.0),
    Command("import", ImportRequest, 10.0),
    Command("status", StatusRequest, 10.0),
    Command("history", HistoryRequest, 30.0),
    Command("balance/limit", BalanceLimitRequest, 10.0),
    Command("balance/paper", BalancePaperRequest, 10.0),
    # hive extensions: one strategy at a time
    Command("strategy/add", StrategyAddRequest, 30.0),
    Command("strategy/remove", StrategyRemoveRequest, 30.0),
    Command("strategy/reload", StrategyReloadRequest, 30.0),
    Command("strategy/resume", StrategyRequest, 10.0),
    # hive extension: replay of the journal
    Command("journal", JournalRequest, 10.0),
)

# Other topic names a command is also served on: `import_strategy` is the API server's name for `import`.
ALIASES = {"import_strategy": "import"}

_BY_NAME = {command.name: command for command in _COMMANDS}
_BY_TOPIC = {**_BY_NAME, **{alias: _BY_NAME[name] for alias, name in ALIASES.items()}}

COMMANDS: tuple[str, ...] = tuple(_BY_TOPIC)
"""Every topic suffix a bot serves commands on (aliases included)."""
REQUEST_MODELS: dict[str, type[Request]] = {topic: command.request for topic, command in _BY_TOPIC.items()}
COMMAND_TIMEOUTS: dict[str, float] = {topic: command.timeout for topic, command in _BY_TOPIC.items()}


def canonical(command: str) -> str:
    """The command a topic suffix stands for (`import_strategy` -> `import`)."""
    return ALIASES.get(command, command)


READ_ONLY_COMMANDS = frozenset({"status", "history", "journal"})


def only_reads(command: str, data: dict[str, Any]) -> bool:
    """`status`, `history`, `journal` and a `config` without params change nothing: the bot does not report them and the
    backend does not audit them. Every other command acts (docs/protocol.md, "Command reports")."""
    name = canonical(command)
    return name in READ_ONLY_COMMANDS or (name == "config" and not data.get("params"))
