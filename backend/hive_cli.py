"""hive_core's command line, as the backend calls it: `check` a config, `describe` strategies.

The backend never imports strategy code itself: whatever runs user code runs in a subprocess with a time
limit. A `Runner` runs hive_core's CLI with the given arguments: `on_host` as the backend's user (for the
shipped examples only), or a sandbox (backend/sandbox) for anything uploaded.
"""
from __future__ import annotations

import json
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from backend.host import child_env

HOST_TIMEOUT = 60.0

# hive_core's CLI arguments (after the command that runs it) -> how the run ended
Runner = Callable[[list[str]], subprocess.CompletedProcess]


class CoreError(Exception):
    """hive_core refused (exit 2 with a one-line message) or could not run at all."""


class TimedOut(CoreError):
    """A sandboxed run took longer than its bound and was killed."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"did not finish within {seconds:g} s")
        self.seconds = seconds


@dataclass(frozen=True)
class CheckResult:
    ok: bool
    message: str


def on_host(core_argv: list[str], timeout: float = HOST_TIMEOUT, cwd: Path | None = None) -> Runner:
    """Runs hive_core as the backend's user, on this machine: for code shipped with hive_core only."""
    def run(args: list[str]) -> subprocess.CompletedProcess:
        argv = [*core_argv, *args]
        try:
            return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=child_env(),
                                  cwd=cwd, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            raise CoreError(f"{' '.join(argv[-3:])} did not finish within {timeout:.0f} s") from None
        except OSError as error:
            raise CoreError(f"cannot run {argv[0]}: {error.strerror}") from None
    return run


def message_of(completed: subprocess.CompletedProcess) -> str:
    """The one-line message hive_core printed (its last non-empty stderr line), or a fallback."""
    lines = [line.strip() for line in (completed.stderr or "").splitlines() if line.strip()]
    if lines:
        return lines[-1]
    lines = [line.strip() for line in (completed.stdout or "").splitlines() if line.strip()]
    return lines[-1] if lines else f"exit code {completed.returncode}"


def check_config(run: Runner, config_path: Path) -> CheckResult:
    completed = run(["check", "--config", str(config_path)])
    if completed.returncode == 0:
        return CheckResult(True, "ok")
    return CheckResult(False, message_of(completed))


def describe(run: Runner, strategy_dirs: Sequence[Path] = (), file: Path | None = None) -> list[dict[str, Any]]:
    args = ["describe"]
    for directory in strategy_dirs:
        args += ["--strategy-dir", str(directory)]
    if file is not None:
        args += ["--file", str(file)]
    completed = run(args)
    if completed.returncode != 0:
        raise CoreError(message_of(completed))
    try:
        described = json.loads(completed.stdout)
    except ValueError:
        raise CoreError(f"hive_core describe printed no JSON: {completed.stdout[:200]!r}") from None
    if not isinstance(described, list):
        raise CoreError("hive_core describe did not print a JSON list")
    return [item for item in described if isinstance(item, dict) and item.get("name")]
