"""The exceptions the backend's services raise for the operator: what kind of refusal, a stable code, and words.

They carry no HTTP status: the API layer (backend/api/errors.py) maps each kind to one. `code` is a stable
keyword the dashboard branches on (`port_in_use`, `broker_not_running`...), `detail` says what happened and
what to do.
"""
from __future__ import annotations


class HiveError(Exception):
    """Base of every refusal or failure meant for the operator."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


class BadRequest(HiveError):
    """The request cannot be read at all (a malformed date, a cursor this backend never gave out)."""


class InvalidInput(HiveError):
    """The request is readable but its values are refused."""


class Unauthorized(HiveError):
    """Missing or wrong credentials."""


class Forbidden(HiveError):
    """Known credentials, but not allowed from here."""


class NotFound(HiveError):
    """The thing named does not exist."""


class Conflict(HiveError):
    """Not possible in the current state (already exists, still running, in use...)."""


class BotRefused(Conflict):
    """A bot answered a command with an error status: the detail is its answer, in its own words."""


class TooLarge(HiveError):
    """The request, or something in it, is bigger than allowed."""


class RateLimited(HiveError):
    """Too many calls in too little time; `retry_after` (s), when known, says when to try again."""

    def __init__(self, code: str, detail: str, retry_after: float | None = None) -> None:
        super().__init__(code, detail)
        self.retry_after = retry_after


class OperationFailed(HiveError):
    """The backend tried and failed (e.g. the embedded broker did not come up)."""


class Unavailable(HiveError):
    """Something the backend depends on (hive_core's CLI) cannot be used right now."""


class TimedOut(HiveError):
    """A bot did not answer in time."""


def not_found(kind: str, name: str) -> NotFound:
    return NotFound("not_found", f"no {kind} named {name!r}")
