"""This machine as several parts of the backend see it: where the repository is, the environment of the
processes it starts, their output, whether a port is taken or a process is still ours."""
from __future__ import annotations

import os
import socket
from pathlib import Path

import psutil

REPO_ROOT = Path(__file__).resolve().parent.parent
RUN_MARKER = "=== hive: run of"  # written into a log file before each run's output
# Settings and secrets of the backend that the processes it starts have no business seeing.
_PRIVATE_ENV = ("HIVE_PASSWORD", "HIVE_USERNAME", "DATABASE_URL", "HIVE_CREDENTIALS_KEY", "HIVE_BROKER_PASSWORD")


def child_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _PRIVATE_ENV}
    paths = [str(REPO_ROOT)] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(paths))
    env["PYTHONUNBUFFERED"] = "1"
    return env


def last_output_line(log_file: Path) -> str:
    """The last non-empty line the current run wrote (nothing from earlier runs)."""
    lines = last_output_lines(log_file, 1)
    return lines[0] if lines else ""


def last_output_lines(log_file: Path, count: int, max_bytes: int = 16_384) -> list[str]:
    """The last `count` non-empty lines the current run wrote (nothing from earlier runs), oldest first."""
    try:
        with open(log_file, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - max_bytes))
            tail = handle.read().decode("utf-8", "replace")
    except OSError:
        return []
    found: list[str] = []
    for line in reversed([line.strip() for line in tail.splitlines()]):
        if line.startswith(RUN_MARKER) or len(found) == count:
            break
        if line:
            found.append(line[:500])
    return found[::-1]


def port_in_use(host: str, port: int) -> bool:
    """True when something already listens on host:port (bind fails even with SO_REUSEADDR)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return True
    return False


def live_process(pid: int | None, create_time: float | None) -> psutil.Process | None:
    """The process, when it still exists, is the same one (create time) and is not a zombie."""
    if not pid:
        return None
    try:
        process = psutil.Process(pid)
        if create_time is not None and abs(process.create_time() - create_time) > 0.5:
            return None
        if process.status() == psutil.STATUS_ZOMBIE:
            return None
        return process
    except psutil.Error:
        return None
