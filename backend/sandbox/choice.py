"""Which sandbox validates uploaded code, from the `validation_sandbox` setting; decided at first use and kept.

`auto` takes bwrap where it works, else a container on the local Docker host, else none. With none, uploaded
code is never imported: uploads get the static checks only (validation.py), and the answer says so.
"""
from __future__ import annotations

import threading
from pathlib import Path
from typing import Protocol

from backend import hive_cli
from backend.docker.hosts import DockerHosts
from backend.docker.images import HIVE_IMAGE
from backend.sandbox.bwrap import BwrapSandbox, Limits
from backend.sandbox.container import DockerSandbox
from backend.settings import Settings

MIB = 1024 * 1024


class Sandbox(Protocol):
    name: str

    def runner(self, workdir: Path) -> hive_cli.Runner: ...

    def unusable(self) -> str | None: ...


class SandboxChoice:
    def __init__(self, settings: Settings, hosts: DockerHosts | None, backend: str = "") -> None:
        """Without Docker hosts (a part of the backend built alone), docker is no candidate."""
        self.wanted = settings.validation_sandbox
        limits = Limits(timeout=settings.validation_timeout, memory_bytes=settings.validation_memory_mb * MIB)
        self.candidates: dict[str, Sandbox] = {"bwrap": BwrapSandbox(settings.core_argv(), limits)}
        if hosts is not None:
            self.candidates["docker"] = DockerSandbox(hosts, HIVE_IMAGE, backend, limits)
        self._chosen: tuple[Sandbox | None, str] | None = None
        self._lock = threading.Lock()

    def get(self) -> tuple[Sandbox | None, str]:
        """The sandbox (None: none is usable, or `none` was asked for) and a sentence saying which and why."""
        with self._lock:
            if self._chosen is None:
                self._chosen = self._choose()
            return self._chosen

    def _choose(self) -> tuple[Sandbox | None, str]:
        if self.wanted == "none":
            return None, "static checks only: the module was not imported (validation_sandbox is none)"
        names = ["bwrap", "docker"] if self.wanted == "auto" else [self.wanted]
        reasons = []
        for name in names:
            if name not in self.candidates:
                reasons.append(f"{name}: no Docker host is configured")
                continue
            reason = self.candidates[name].unusable()
            if reason is None:
                return self.candidates[name], f"imported in the {name} sandbox"
            reasons.append(f"{name}: {reason}")
        return None, ("static checks only: the module was not imported, no sandbox can run here ("
                      + "; ".join(reasons) + ")")
