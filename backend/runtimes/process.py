"""The `process` runtime: each instance is a detached local subprocess running hive_core.

    <data>/instances/<name>/config.yml    the instance config (written by the orchestrator)
    <data>/instances/<name>/process.log   stdout + stderr of every run, each run after a marker line
    <data>/instances/<name>/exit_code     how the last run ended, written by the launcher

Processes are started in a session of their own (start_new_session), so they outlive the backend;
after a backend restart they are found again by pid, create time and command line. When the backend is root,
each runs as a user of its own in a mount namespace (instance_user.py): the launcher is then bwrap, the keeper
(launch.py, which writes the exit code) runs below it, and the bot below the keeper.

A run lasts while any of the three lives. bwrap ends at once on the stop's SIGTERM while the keeper waits for the
bot's graceful stop, so neither bwrap's exit nor the bot's alone means the run is over: until the keeper has written
the exit code, a new run's start would find that code written into its own exit file.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil

from backend.domain.instances import InstanceCreate
from backend.host import RUN_MARKER, child_env, last_output_lines, live_process
from backend.runtimes.base import ProcessState, Resources, exit_words
from backend.runtimes.exit_reason import TAIL_LINES, error_line
from backend.runtimes.instance_user import isolated, isolating

LAUNCH_MODULE = "backend.runtimes.launch"


def describe_exit(code: int | None, line: str) -> str:
    """The exit in words, with the output line that names the error (exit_reason.py) when there is one."""
    words = exit_words(code)
    return f"{words}: {line}" if line else words


class ProcessRuntime:
    name = "process"

    def __init__(self, core_argv: list[str], shared: Sequence[Path] = ()) -> None:
        """`shared`: folders every instance sees (read-only) besides its own, when it runs as a user of its own."""
        self.core_argv = core_argv
        self.shared = list(shared)
        self._children: dict[int, subprocess.Popen] = {}  # launchers this backend started: reaped on poll
        self._probes: dict[tuple[int, float], psutil.Process] = {}  # kept for cpu_percent deltas
        self._lock = threading.Lock()

    def check(self, spec: InstanceCreate) -> InstanceCreate:
        """Nothing to check or fill in: InstanceCreate refuses docker's options for a process."""
        return spec

    def instance_root(self, folder: Path) -> Path:
        return folder

    def reads_live_folder(self, spec: InstanceCreate) -> bool:
        return True

    def broker_address(self, spec: InstanceCreate, default: tuple[str, int]) -> tuple[str, int]:
        """A local process reaches the broker where the backend does."""
        return default

    def feed_address(self, spec: InstanceCreate, default: str | None) -> str | None:
        """A local process reaches the market-data service's socket where the backend does (an instance that runs as
        a user of its own is shown its folder: `shared`)."""
        return default

    # --- start -----------------------------------------------------------------------------------
    def start(self, name: str, instance_dir: Path, config_path: Path,
              spec: InstanceCreate | None = None) -> dict[str, Any]:
        exit_file = instance_dir / "exit_code"
        exit_file.unlink(missing_ok=True)
        log_file = instance_dir / "process.log"
        argv = [sys.executable, "-m", LAUNCH_MODULE, str(exit_file), "--",
                *self.core_argv, "run", "--config", str(config_path)]
        isolate = isolating()
        with open(log_file, "ab") as log:
            if isolate:
                argv = isolated(argv, instance_dir, self.core_argv, [path for path in self.shared if path.exists()])
            log.write(f"{RUN_MARKER} {name} at {datetime.now(UTC).isoformat(timespec='seconds')} ===\n".encode())
            log.flush()
            launcher = subprocess.Popen(
                argv, cwd=instance_dir, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True, env=child_env(),
            )
        with self._lock:
            self._children[launcher.pid] = launcher
        handle: dict[str, Any] = {
            "launcher_pid": launcher.pid,
            "launcher_create_time": _create_time(launcher.pid),
            "pgid": launcher.pid,
            "exit_file": str(exit_file),
            "log_file": str(log_file),
            "config_path": str(config_path),
            "pid": None,
            "create_time": None,
        }
        if not isolate:  # the launcher is the keeper itself; under bwrap it is found below it
            handle["keeper_pid"], handle["keeper_create_time"] = launcher.pid, handle["launcher_create_time"]
        self._find_child(handle, timeout=3.0)
        return handle

    def _find_child(self, handle: dict[str, Any], timeout: float) -> None:
        """Fill in the bot's own pid and the keeper's (below the launcher), waiting a little for the forks."""
        deadline = time.monotonic() + timeout
        while True:
            launcher = self._launcher(handle)
            if launcher is not None:
                if handle.get("keeper_pid") is None and (keeper := _identity(_keeper_below(launcher,
                                                                                          handle["exit_file"]))):
                    handle["keeper_pid"], handle["keeper_create_time"] = keeper
                if handle.get("pid") is None and (bot := _identity(_bot_below(launcher, handle["config_path"]))):
                    handle["pid"], handle["create_time"] = bot
                if handle.get("pid") is not None and handle.get("keeper_pid") is not None:
                    return
            if launcher is None or time.monotonic() >= deadline:
                return
            time.sleep(0.02)

    # --- finding processes -----------------------------------------------------------------------
    def _launcher(self, handle: dict[str, Any]) -> psutil.Process | None:
        return live_process(handle.get("launcher_pid"), handle.get("launcher_create_time"))

    def _bot(self, handle: dict[str, Any]) -> psutil.Process | None:
        return live_process(handle.get("pid"), handle.get("create_time"))

    def _keeper(self, handle: dict[str, Any]) -> psutil.Process | None:
        return live_process(handle.get("keeper_pid"), handle.get("keeper_create_time"))

    def _run(self, handle: dict[str, Any]) -> list[psutil.Process]:
        """The run's processes still alive: launcher, keeper and bot (one process may be two of them)."""
        found = {p.pid: p for p in (self._launcher(handle), self._keeper(handle), self._bot(handle)) if p is not None}
        return list(found.values())

    def adopt(self, handle: dict[str, Any]) -> bool:
        if _ended(handle):
            return False
        launcher = self._launcher(handle)
        if launcher is not None:
            try:
                cmdline = launcher.cmdline()
            except psutil.Error:
                return False
            if LAUNCH_MODULE in cmdline and handle.get("config_path") in cmdline:
                if handle.get("pid") is None:
                    self._find_child(handle, timeout=0.5)
                return True
            return False
        return self._keeper(handle) is not None or self._bot(handle) is not None

    def pid(self, handle: dict[str, Any]) -> int | None:
        return handle.get("pid") or handle.get("launcher_pid")

    def poll(self, handle: dict[str, Any]) -> ProcessState:
        with self._lock:
            popen = self._children.get(handle.get("launcher_pid") or 0)
        if popen is not None and popen.poll() is not None:  # reap our own child, so it is no zombie
            with self._lock:
                self._children.pop(popen.pid, None)
        if not _ended(handle) and self._run(handle):
            if handle.get("pid") is None or handle.get("keeper_pid") is None:
                self._find_child(handle, timeout=0)
            return ProcessState(alive=True)
        code = _read_exit_code(Path(handle["exit_file"]))
        tail = last_output_lines(Path(handle["log_file"]), TAIL_LINES)
        return ProcessState(alive=False, exit_code=code, detail=describe_exit(code, error_line(tail, code)))

    def last_lines(self, handle: dict[str, Any], count: int) -> list[str]:
        return last_output_lines(Path(handle["log_file"]), count)

    def remove(self, handle: dict[str, Any]) -> None:
        """An ended process leaves nothing outside its folder."""

    def strays(self, known: set[str]) -> list[str]:
        """A process is found only through its instance's row: there are none to find without one."""
        return []

    def close(self) -> None:
        """No threads of its own; the processes are detached on purpose."""

    # --- stopping --------------------------------------------------------------------------------
    def terminate(self, handle: dict[str, Any]) -> None:
        self._signal_group(handle, signal.SIGTERM)

    def kill(self, handle: dict[str, Any]) -> None:
        self._signal_group(handle, signal.SIGKILL)

    def _signal_group(self, handle: dict[str, Any], signum: int) -> None:
        """Signal the run's process group while one of the run's own processes holds it (so the group id cannot
        be another's); else each of the run's processes still alive."""
        running = self._run(handle)
        if any(_group_of(process) == handle["pgid"] for process in running):
            try:
                os.killpg(handle["pgid"], signum)
                return
            except ProcessLookupError:
                pass
        for process in running:
            try:
                process.send_signal(signum)
            except psutil.Error:
                pass

    # --- resource use ----------------------------------------------------------------------------
    def resources(self, handle: dict[str, Any]) -> Resources:
        processes = self._run(handle)
        if not processes:
            return Resources()
        cpu, memory = 0.0, 0
        for process in processes:
            probe = self._probe(process)
            try:
                with probe.oneshot():
                    cpu += probe.cpu_percent(interval=None)
                    memory += probe.memory_info().rss
            except psutil.Error:
                continue
        return Resources(cpu_percent=round(cpu, 1), memory_bytes=memory)

    def _probe(self, process: psutil.Process) -> psutil.Process:
        key = (process.pid, process.create_time())
        with self._lock:
            probe = self._probes.get(key)
            if probe is None:
                if len(self._probes) > 1000:
                    self._probes.clear()
                probe = self._probes[key] = process
            return probe


def _ended(handle: dict[str, Any]) -> bool:
    """The launcher wrote the exit code: the bot is gone (bwrap above it may linger for a moment)."""
    return Path(handle["exit_file"]).exists()


def _bot_below(launcher: psutil.Process, config_path: str) -> psutil.Process | None:
    """The process below the launcher that runs the bot's command (`... run --config <config_path>`).

    Recognised by its own command, not as "the one that is not the launcher": a process caught in the middle of an
    exec (setpriv becoming the launcher, the launcher's fork becoming the bot) shows an empty command line, and
    taking it for the bot would make the launcher's pid the bot's."""
    return _below(launcher, lambda command: command[-3:] == ["run", "--config", config_path]
                  and LAUNCH_MODULE not in command)


def _keeper_below(launcher: psutil.Process, exit_file: str) -> psutil.Process | None:
    """The keeper below bwrap: the launch module writing `exit_file` (setpriv shows another command until it execs)."""
    return _below(launcher, lambda command: LAUNCH_MODULE in command and exit_file in command)


def _below(launcher: psutil.Process, runs: Callable[[list[str]], bool]) -> psutil.Process | None:
    """The first process below the launcher whose command line `runs` accepts."""
    try:
        for process in launcher.children(recursive=True):
            if runs(process.cmdline()):
                return process
    except psutil.Error:
        pass
    return None


def _identity(process: psutil.Process | None) -> tuple[int, float] | None:
    """(pid, create time) of a process found below the launcher, as a handle keeps it."""
    try:
        return (process.pid, process.create_time()) if process is not None else None
    except psutil.Error:
        return None


def _group_of(process: psutil.Process) -> int | None:
    try:
        return os.getpgid(process.pid)
    except OSError:
        return None


def _create_time(pid: int) -> float | None:
    try:
        return psutil.Process(pid).create_time()
    except psutil.Error:
        return None


def _read_exit_code(exit_file: Path) -> int | None:
    try:
        return int(exit_file.read_text().strip())
    except (OSError, ValueError):
        return None
