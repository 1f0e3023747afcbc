"""hive_core's command line, as the backend calls it: `check` a config, `describe` strategies.

The backend never imports strategy code itself; whatever runs user code runs in a subprocess with a
time limit.
"""
from __future__ import annotations

import json
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from backend.host import child_env

CHECK_TIMEOUT = 60.0
DESCRIBE_TIMEOUT = 60.0


class CoreError(Exception):
    """hive_core refused (exit 2 with a one-line message) or could not run at all."""


@dataclass(frozen=True)
class CheckResult:
    ok: bool
    message: str


def _run(argv: list[str], timeout: float, cwd: Path | None = None) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=child_env(),
                              cwd=cwd, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise CoreError(f"{' '.join(argv[-3:])} did not finish within {timeout:.0f} s") from None
    except OSError as error:
        raise CoreError(f"cannot run {argv[0]}: {error.strerror}") from None


def message_of(completed: subprocess.CompletedProcess) -> str:
    """The one-line message hive_core printed (its last non-empty stderr line), or a fallback."""
    lines = [line.strip() for line in (completed.stderr or "").splitlines() if line.strip()]
    if lines:
        return lines[-1]
    lines = [line.strip() for line in (completed.stdout or "").splitlines() if line.strip()]
    return lines[-1] if lines else f"exit code {completed.returncode}"


def check_config(core_argv: list[str], config_path: Path) -> CheckResult:
    completed = _run([*core_argv, "check", "--config", str(config_path)], CHECK_TIMEOUT, cwd=config_path.parent)
    if completed.returncode == 0:
        return CheckResult(True, "ok")
    return CheckResult(False, message_of(completed))


def describe(core_argv: list[str], strategy_dirs: Sequence[Path] = (),
             file: Path | None = None) -> list[dict[str, Any]]:
    argv = [*core_argv, "describe"]
    for directory in strategy_dirs:
        argv += ["--strategy-dir", str(directory)]
    if file is not None:
        argv += ["--file", str(file)]
    completed = _run(argv, DESCRIBE_TIMEOUT)
    if completed.returncode != 0:
        raise CoreError(message_of(completed))
    try:
        described = json.loads(completed.stdout)
    except ValueError:
        raise CoreError(f"hive_core describe printed no JSON: {completed.stdout[:200]!r}") from None
    if not isinstance(described, list):
        raise CoreError("hive_core describe did not print a JSON list")
    return [item for item in described if isinstance(item, dict) and item.get("name")]
