"""Facts about this machine that several parts of the backend ask: is a port taken, is a process still ours."""
from __future__ import annotations

import socket

import psutil


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
