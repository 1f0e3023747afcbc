"""The one exception the backend's services raise for the operator: status, stable code, and words."""
from __future__ import annotations


class HiveError(Exception):
    """Turned by the API into `{"detail": detail, "code": code}` with `status`."""

    def __init__(self, status: int, code: str, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail


def not_found(kind: str, name: str) -> HiveError:
    return HiveError(404, "not_found", f"no {kind} named {name!r}")
