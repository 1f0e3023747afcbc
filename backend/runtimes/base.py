"""What every runtime (local processes, Docker containers) offers the orchestrator."""
from __future__ import annotations

import signal
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from backend.domain.instances import InstanceCreate


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
    network_rx_bytes: int | None = None  # None where the runtime cannot tell one instance's traffic from others'
    network_tx_bytes: int | None = None


class Runtime(Protocol):
    name: str

    def check(self, spec: InstanceCreate) -> InstanceCreate:
        """Before an instance is created: raise a HiveError when this runtime cannot run it (host, image); return
        the spec to store, with the runtime's defaults filled in (the image it will run)."""

    def instance_root(self, folder: Path) -> Path:
        """Where the instance sees its folder: the paths written into its config are below this."""

    def broker_address(self, spec: InstanceCreate, default: tuple[str, int]) -> tuple[str, int]:
        """Where the instance reaches the broker (its config says so), given the backend's own broker address."""

    def feed_address(self, spec: InstanceCreate, default: str | None) -> str | None:
        """Where the instance reaches the host's market-data service (its config's `venue.feed`), given the address
        the backend reaches it at (None while it does not run); None: the instance takes its own connections."""

    def reads_live_folder(self, spec: InstanceCreate) -> bool:
        """Whether the running instance reads the folder the backend writes (the same machine, or a bind mount),
        so that a strategy file written there while it runs is what it loads on a reload."""

    def start(self, name: str, instance_dir: Path, config_path: Path, spec: InstanceCreate) -> dict[str, Any]:
        """Launch the instance as `spec` says; return a JSON-able handle that finds it again (also after a backend
        restart)."""

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

    def remove(self, handle: dict[str, Any]) -> None:
        """The instance is deleted: remove what its ended run left with the runtime (not its folder)."""

    def strays(self, known: set[str]) -> list[str]:
        """What this runtime runs for this backend under a name that is not in `known` (instance rows gone)."""

    def close(self) -> None:
        """The backend stops: end the runtime's own threads and connections (its instances keep running)."""
