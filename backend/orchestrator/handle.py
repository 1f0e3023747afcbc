"""What an instance's row keeps of its process (the `handle` JSON column), typed.

The runtime's own locator (pids, create times, files: whatever finds the process again after a backend
restart) is the runtime's business and stays a JSON object; next to it the orchestrator notes how the
process ended and whether it was killed. Stored flat, as one JSON object: the locator's keys plus
`exited` and `killed`.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from backend.runtimes.base import ProcessState


@dataclass(frozen=True)
class ProcessExit:
    code: int | None
    detail: str


@dataclass(frozen=True)
class ProcessHandle:
    locator: dict[str, Any] = field(default_factory=dict)
    exited: ProcessExit | None = None
    killed: bool = False

    @property
    def live(self) -> bool:
        """Not known to have ended (it may still have, unnoticed: ask the runtime)."""
        return self.exited is None

    def ended(self, process: ProcessState) -> ProcessHandle:
        return replace(self, exited=ProcessExit(process.exit_code, process.detail))

    def exit_state(self) -> ProcessState:
        """The noted end as the runtime would report it."""
        assert self.exited is not None
        return ProcessState(False, self.exited.code, self.exited.detail)

    def to_json(self) -> dict[str, Any]:
        data = dict(self.locator)
        if self.exited is not None:
            data["exited"] = {"code": self.exited.code, "detail": self.exited.detail}
        if self.killed:
            data["killed"] = True
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> ProcessHandle | None:
        if data is None:
            return None
        locator = {key: value for key, value in data.items() if key not in ("exited", "killed")}
        exited = data.get("exited")
        return cls(locator, ProcessExit(exited.get("code"), exited["detail"]) if exited else None,
                   bool(data.get("killed")))
