"""What every runtime (local processes now, Docker later) offers the orchestrator."""
from __future__ import annotations

import signal
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol


@dataclass(frozen=True)
class ProcessState:
    """How the instance's process is doing, as far as the runtime can tell."""

    alive: bool
    exit_code: int | None = None
    detail: str = ""  # the exit in words: "exited with code 1: ValueError: boom"


def exit_words(code: int | None) -> str:
    """An exit code in words; a negative one is the signal that killed the process."""
    if code is None:
        return "exited (exit code unknown)"
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exited with code {code}"


@dataclass(frozen=True)
class Resources:
    cpu_percent: float | None = None
    memory_bytes: int | None = None


class Runtime(Protocol):
    name: str

    def start(self, name: str, instance_dir: Path, config_path: Path) -> dict[str, Any]:
        """Launch the instance; return a JSON-able handle that finds it again (also after a backend restart)."""

    def adopt(self, handle: dict[str, Any]) -> bool:
        """After a backend restart: is the process the handle names still ours and alive?"""

    def poll(self, handle: dict[str, Any]) -> ProcessState: ...

    def terminate(self, handle: dict[str, Any]) -> None:
        """Ask it to stop (graceful)."""

    def kill(self, handle: dict[str, Any]) -> None:
        """Stop it now."""

    def resources(self, handle: dict[str, Any]) -> Resources: ...

    def pid(self, handle: dict[str, Any]) -> int | None: ...

    def last_lines(self, handle: dict[str, Any], count: int) -> list[str]:
        """The last `count` non-empty lines its latest run wrote (its log), oldest first."""
