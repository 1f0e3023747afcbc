"""The bubblewrap sandbox: hive_core's CLI in new pid/net/ipc/uts/mount namespaces as an unprivileged user,
seeing only what Python needs (mounts.py) and one folder of the upload, read-only; within rlimits and a
wall-clock bound.

As root, bwrap builds the namespaces and `setpriv` then becomes uid/gid 65534 (no groups, no capabilities,
no new privileges): the code runs as a real unprivileged user, so file modes protect the host as well as
the mounts do. (A user namespace would map that uid back to root outside.) As any other user, bwrap makes a
user namespace in which the code is uid 65534, mapped to the backend's user outside: the mounts are then
the boundary.
"""
from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from backend import hive_cli
from backend.host import REPO_ROOT
from backend.sandbox.mounts import bwrap_mounts, code_paths

NOBODY = 65534
PROBE_TIMEOUT = 10.0


@dataclass(frozen=True)
class Limits:
    """What one validation may use: wall-clock and CPU seconds, memory (address space), file size, processes."""

    timeout: float = 5.0
    memory_bytes: int = 1024 * 1024 * 1024
    file_bytes: int = 1024 * 1024
    processes: int = 64


def drop_to(uid: int) -> list[str]:
    """The command that becomes `uid` (and its own gid) for good before running the rest of the argv."""
    return ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", "--inh-caps=-all",
            "--bounding-set=-all", "--no-new-privs", "--"]


class BwrapSandbox:
    name = "bwrap"

    def __init__(self, core_argv: list[str], limits: Limits) -> None:
        self.core_argv = core_argv
        self.limits = limits

    def argv(self, workdir: Path, args: Sequence[str]) -> list[str]:
        limits = self.limits
        rlimits = ["prlimit", f"--cpu={max(1, int(limits.timeout) + 1)}", f"--as={limits.memory_bytes}",
                   f"--fsize={limits.file_bytes}", f"--nproc={limits.processes}", "--nofile=256", "--"]
        as_root = os.geteuid() == 0
        user = [] if as_root else ["--unshare-user", "--uid", str(NOBODY), "--gid", str(NOBODY)]
        return [
            *rlimits, "bwrap", *user, "--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts",
            "--unshare-cgroup-try", "--die-with-parent", "--new-session", "--clearenv",
            "--setenv", "PATH", "/usr/bin:/bin", "--setenv", "HOME", "/tmp", "--setenv", "LANG", "C.UTF-8",
            "--setenv", "PYTHONPATH", str(REPO_ROOT), "--setenv", "PYTHONDONTWRITEBYTECODE", "1",
            "--setenv", "PYTHONUNBUFFERED", "1",
            "--dev", "/dev", "--proc", "/proc", "--perms", "1777", "--tmpfs", "/tmp",
            *bwrap_mounts([*code_paths(self.core_argv), workdir], made=[Path("/tmp")]), "--chdir", str(workdir), "--",
            *(drop_to(NOBODY) if as_root else []), *self.core_argv, *args,
        ]

    def runner(self, workdir: Path) -> hive_cli.Runner:
        """hive_core's CLI in the sandbox, seeing `workdir` read-only; killed past the time limit. As root,
        `workdir` (a fresh temporary folder) is handed to the sandbox's user, which cannot read it otherwise."""
        def run(args: list[str]) -> subprocess.CompletedProcess:
            if os.geteuid() == 0:
                for path in [workdir, *workdir.rglob("*")]:
                    os.chown(path, NOBODY, NOBODY, follow_symlinks=False)
            try:
                return subprocess.run(self.argv(workdir, args), capture_output=True, text=True,
                                      timeout=self.limits.timeout, stdin=subprocess.DEVNULL, start_new_session=True)
            except subprocess.TimeoutExpired:  # run() killed bwrap; --die-with-parent takes the sandbox with it
                raise hive_cli.TimedOut(self.limits.timeout) from None
            except OSError as error:
                raise hive_cli.CoreError(f"cannot run the sandbox (prlimit, bwrap): {error.strerror}") from None
        return run

    def unusable(self) -> str | None:
        """Why the sandbox cannot run here (bwrap missing, or namespaces refused), or None when it works."""
        for tool in ("bwrap", "prlimit", "setpriv"):
            if shutil.which(tool) is None:
                return f"{tool} is not installed (Debian: apt-get install bubblewrap util-linux)"
        argv = self.argv(Path("/tmp"), [])[:-len(self.core_argv)] + ["/bin/true"]
        try:
            completed = subprocess.run(argv, capture_output=True, text=True, timeout=PROBE_TIMEOUT,
                                       stdin=subprocess.DEVNULL)
        except (OSError, subprocess.TimeoutExpired) as error:
            return f"bwrap cannot run: {error}"
        if completed.returncode != 0:
            return f"bwrap cannot make its namespaces here: {hive_cli.message_of(completed)}"
        return None
