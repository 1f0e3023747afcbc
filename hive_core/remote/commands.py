"""Remote commands: parse the RPC envelope, validate the request fields, call the controller.

The request is acted on by `header.reply_to` and `data` (docs/protocol.md); the other header fields only name the
sender in the command report. Unlike Hummingbot, a
request whose JSON does not parse or whose fields do not validate is answered with status 400 and a
message naming the field, provided a reply topic can be found (for broken JSON, `reply_to` is
looked for in the raw text). Unknown request fields are ignored, so newer callers still work.

Every command of `hive_core.protocol.COMMANDS` is served by one `Controller` method
(`command_<name>`, `/` as `_`; `import_strategy` is `import`). Replies to the hive extensions carry
`strategy` and `strategy_status`; a bad field or an unknown strategy id is a 400 naming the field
(`data.strategy: unknown strategy id 'x'; known: a, b`).

Every command that acts (all but the reads of `protocol.only_reads`) is reported
once handled, whoever sent it: an INFO line and a P/notify message naming the command, its strategy,
the outcome and the origin seen in the request's header (`agent`, `node_id`, `msg_id`, `reply_to`;
never the request's data). See `messages.command_report`.
"""
from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from pydantic import ValidationError

from hive_core.protocol import (
    REQUEST_MODELS,
    BalanceLimitRequest,
    BalancePaperRequest,
    ConfigRequest,
    HistoryRequest,
    ImportRequest,
    JournalRequest,
    Request,
    StartRequest,
    StatusRequest,
    StopRequest,
    StrategyAddRequest,
    StrategyReloadRequest,
    StrategyRemoveRequest,
    StrategyRequest,
    canonical,
    only_reads,
)
from hive_core.validation import describe_validation_error

_REPLY_TO_RE = re.compile(r'"reply_to"\s*:\s*"((?:[^"\\]|\\.)*)"')
ORIGIN_FIELDS = ("agent", "node_id", "msg_id", "reply_to")
MAX_ORIGIN_CHARS = 200  # a header field longer than this is cut in the report


class Controller(Protocol):
    """The whole command protocol: one method per command, each returning the reply's data fields."""

    def command_start(self, request: StartRequest) -> dict: ...
    def command_stop(self, request: StopRequest) -> dict: ...
    def command_status(self, request: StatusRequest) -> dict: ...
    def command_history(self, request: HistoryRequest) -> dict: ...
    def command_config(self, request: ConfigRequest) -> dict: ...
    def command_import(self, request: ImportRequest) -> dict: ...
    def command_balance_limit(self, request: BalanceLimitRequest) -> dict: ...
    def command_balance_paper(self, request: BalancePaperRequest) -> dict: ...
    def command_strategy_add(self, request: StrategyAddRequest) -> dict: ...
    def command_strategy_remove(self, request: StrategyRemoveRequest) -> dict: ...
    def command_strategy_reload(self, request: StrategyReloadRequest) -> dict: ...
    def command_strategy_resume(self, request: StrategyRequest) -> dict: ...
    def command_journal(self, request: JournalRequest) -> dict: ...


@dataclass(frozen=True)
class Reply:
    reply_to: str
    data: dict


@dataclass(frozen=True)
class CommandReport:
    """One handled command, as reported on P/notify: what, for which strategy, the outcome, and who sent it."""

    command: str
    strategy: str | None
    status: int
    msg: str
    origin: dict[str, str]    # the header fields of ORIGIN_FIELDS the request carried (strings only)


def origin_of(header: object) -> dict[str, str]:
    """The sender as its header names it: `agent`, `node_id`, `msg_id`, `reply_to` when they are strings."""
    if not isinstance(header, dict):
        return {}
    return {name: header[name][:MAX_ORIGIN_CHARS] for name in ORIGIN_FIELDS
            if isinstance(header.get(name), str) and header[name]}


def _header_of(payload: bytes) -> object:
    try:
        message = json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None
    return message.get("header") if isinstance(message, dict) else None


def acts(command: str, request: Request | None) -> bool:
    """Whether the command changes something (and is therefore reported); a refused request counts unless it
    was for a read-only command."""
    data = {"params": True} if request is None else request.model_dump()
    return not only_reads(command, data)


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
        raise BadRequest(describe_validation_error(problem, under="data"), reply_to) from None


class CommandRouter:
    """Turns one raw request into one reply (or none, when there is nowhere to send it)."""

    def __init__(self, controller: Controller, logger: logging.Logger | None = None,
                 report: Callable[[CommandReport], None] | None = None) -> None:
        """`report` gets every handled command that acts (see `acts`), after its reply is built."""
        self._controller = controller
        self._logger = logger or logging.getLogger("hive.bridge")
        self._report = report

    def handle(self, command: str, payload: bytes) -> Reply | None:
        if command not in REQUEST_MODELS:
            return None
        try:
            reply_to, request = parse_request(command, payload)
        except BadRequest as problem:
            message, reply_to = problem.args
            self._logger.warning("rejected %s request: %s", command, message)
            self._reported(command, None, error(message), _header_of(payload))
            return Reply(reply_to, error(message)) if reply_to else None
        handler = getattr(self._controller, "command_" + canonical(command).replace("/", "_"))
        try:
            data = handler(request)
        except Exception as problem:  # a bug in a handler must still answer the caller
            self._logger.exception("%s command failed", command)
            data = error(f"{type(problem).__name__}: {problem}")
        if not self._reported(command, request, data, _header_of(payload)):
            self._logger.info("%s command -> %s %s", command, data.get("status"), data.get("msg") or "")
        return Reply(reply_to, data) if reply_to else None

    def _reported(self, command: str, request: Request | None, data: dict, header: object) -> bool:
        """Hand an acting command's outcome to the report sink; False when it is not reported."""
        if self._report is None or not acts(command, request):
            return False
        strategy = getattr(request, "strategy", None) or data.get("strategy")
        if isinstance(request, StrategyAddRequest):
            strategy = request.entry().get("id") or strategy
        elif isinstance(request, ImportRequest):
            strategy = None     # its `strategy` is a config name, not a strategy id
        self._report(CommandReport(canonical(command), strategy if isinstance(strategy, str) else None,
                                   int(data.get("status", 500)), str(data.get("msg") or ""), origin_of(header)))
        return True
