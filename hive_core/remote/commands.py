"""Remote commands: parse the RPC envelope, validate the request fields, call the controller.

Only `header.reply_to` and `data` of a request are read (PROTOCOL.md). Unlike Hummingbot, a request
whose JSON does not parse or whose fields do not validate is answered with status 400 and a
message naming the field, provided a reply topic can be found (for broken JSON, `reply_to` is
looked for in the raw text). Unknown request fields are ignored, so newer callers still work.

Every command of PROTOCOL.md is served: start, stop, config, import (also on `import_strategy`, the
API server's topic), status, history, balance/limit, balance/paper (the runtime's command_* methods;
fields and defaults as PROTOCOL.md, documented in hive_core/README.md).

Hive extensions (optional for Hummingbot's tools, which never send them):
- every command takes an optional `strategy` (a strategy id): only that strategy is started, stopped,
  configured, reported or given a balance; without it the whole instance is, as in Hummingbot.
- `P/strategy/add` (data: a strategy entry as in the instance config, plus `start`, default true),
  `P/strategy/remove` (`strategy`, `skip_order_cancellation`), `P/strategy/reload` (`strategy`,
  `keep_state` true, `reset_metrics` false, `cancel_orders` false) and `P/strategy/resume` (`strategy`).
  Same envelope; replies carry `strategy` and `strategy_status`. A bad field or an unknown strategy
  id is a 400 naming the field (`data.strategy: unknown strategy id 'x'; known: a, b`).
"""
from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

_REPLY_TO_RE = re.compile(r'"reply_to"\s*:\s*"((?:[^"\\]|\\.)*)"')
_LOG_LEVELS = {"CRITICAL", "ERROR", "WARNING", "WARN", "INFO", "DEBUG", "NOTSET"}


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


_ONE = "hive: only this strategy id"


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


REQUEST_MODELS: dict[str, type[Request]] = {
    "start": StartRequest, "stop": StopRequest, "status": StatusRequest, "history": HistoryRequest,
    "config": ConfigRequest, "import": ImportRequest, "import_strategy": ImportRequest,
    "balance/limit": BalanceLimitRequest, "balance/paper": BalancePaperRequest,
    "strategy/add": StrategyAddRequest, "strategy/remove": StrategyRemoveRequest,
    "strategy/reload": StrategyReloadRequest, "strategy/resume": StrategyRequest,
}


class Controller(Protocol):
    """What the runtime offers to remote commands; each returns the reply's data fields."""

    def command_start(self, request: StartRequest) -> dict: ...
    def command_stop(self, request: StopRequest) -> dict: ...
    def command_status(self, request: StatusRequest) -> dict: ...
    def command_history(self, request: HistoryRequest) -> dict: ...
    def command_config(self, request: ConfigRequest) -> dict: ...
    def command_import(self, request: ImportRequest) -> dict: ...
    def command_balance_limit(self, request: BalanceLimitRequest) -> dict: ...
    def command_balance_paper(self, request: BalancePaperRequest) -> dict: ...


@dataclass(frozen=True)
class Reply:
    reply_to: str
    data: dict


class BadRequest(ValueError):
    pass


def ok(msg: str = "", **fields: Any) -> dict:
    return {"status": 200, "msg": msg, **fields}


def error(msg: str, **fields: Any) -> dict:
    return {"status": 400, "msg": msg, **fields}


def parse_request(command: str, payload: bytes) -> tuple[str, Request]:
    """(reply_to, validated request); BadRequest carries the reply_to found, if any, as args[1]."""
    try:
        text = payload.decode("utf-8")
        message = json.loads(text)
    except (UnicodeDecodeError, json.JSONDecodeError) as problem:
        found = _REPLY_TO_RE.search(payload.decode("utf-8", errors="replace"))
        reply_to = json.loads(f'"{found.group(1)}"') if found else ""
        raise BadRequest(f"invalid JSON: {problem}", reply_to) from None
    if not isinstance(message, dict):
        raise BadRequest("request must be a JSON object with 'header' and 'data'", "")
    header = message.get("header", {})
    if header is None:
        header = {}
    if not isinstance(header, dict):
        raise BadRequest("header: must be an object", "")
    reply_to = header.get("reply_to", "")
    if reply_to is None:
        reply_to = ""
    if not isinstance(reply_to, str):
        raise BadRequest("header.reply_to: must be a string", "")
    data = message.get("data", {})
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise BadRequest("data: must be an object", reply_to)
    model = REQUEST_MODELS[command]
    try:
        return reply_to, model.model_validate(data)
    except ValidationError as problem:
        lines = []
        for item in problem.errors():
            location = ".".join(str(part) for part in ("data", *item["loc"]))
            lines.append(f"{location}: {item['msg'].removeprefix('Value error, ')}")
        raise BadRequest("; ".join(lines), reply_to) from None


class CommandRouter:
    """Turns one raw request into one reply (or none, when there is nowhere to send it)."""

    def __init__(self, controller: Controller, logger: logging.Logger | None = None) -> None:
        self._controller = controller
        self._logger = logger or logging.getLogger("hive.bridge")

    def handle(self, command: str, payload: bytes) -> Reply | None:
        if command not in REQUEST_MODELS:
            return None
        try:
            reply_to, request = parse_request(command, payload)
        except BadRequest as problem:
            message, reply_to = problem.args
            self._logger.warning("rejected %s request: %s", command, message)
            return Reply(reply_to, error(message)) if reply_to else None
        name = "import" if command == "import_strategy" else command   # the API server's topic (PROTOCOL.md)
        handler = getattr(self._controller, "command_" + name.replace("/", "_"), None)
        if handler is None:
            data = error(f"command '{command}' is not supported by hive_core yet")
        else:
            try:
                data = handler(request)
            except Exception as problem:  # a bug in a handler must still answer the caller
                self._logger.exception("%s command failed", command)
                data = error(f"{type(problem).__name__}: {problem}")
        self._logger.info("%s command -> %s %s", command, data.get("status"), data.get("msg") or "")
        return Reply(reply_to, data) if reply_to else None
