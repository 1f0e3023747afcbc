"""Who a process-runtime instance runs as, and what it sees.

When the backend runs as root, each instance gets a uid/gid of its own from INSTANCE_IDS (no passwd entry
needed): the owner of its folder, which keeps it from one start to the next. The folder is handed over (0700,
every file the instance's, the credentials file 0600), and the instance runs in a bubblewrap mount namespace
that shows the system, the interpreter, the code and its own folder (read-write) and nothing else of the data
dir: `setpriv` becomes its uid there, without groups, capabilities or privilege gains. The store, `.env`, the
credentials key and the other instances' folders stay root's (0600/0700), out of its reach twice over.

When the backend is not root it cannot switch users: instances run as the backend's user (README: Security).
"""
from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from pathlib import Path

from backend.host import REPO_ROOT
from backend.sandbox.bwrap import drop_to
from backend.sandbox.mounts import NETWORK_CONFIG, bwrap_mounts, code_paths

INSTANCE_IDS = range(1_500_000, 1_600_000)


def isolating() -> bool:
    """Instances get users of their own: the backend is root and bubblewrap is installed."""
    return os.geteuid() == 0 and shutil.which("bwrap") is not None and shutil.which("setpriv") is not None


def instance_uid(folder: Path) -> int:
    """The folder's owner when it is an instance's already, else the first id no other instance folder has."""
    owner = folder.stat().st_uid
    if owner in INSTANCE_IDS:
        return owner
    taken = set()
    for sibling in folder.parent.iterdir():
        try:
            taken.add(sibling.stat().st_uid)
        except OSError:
            continue
    return next(uid for uid in INSTANCE_IDS if uid not in taken)


def hand_over(folder: Path, uid: int) -> None:
    """The folder and everything in it become `uid`'s; the folder readable by it alone."""
    for path in [folder, *folder.rglob("*")]:
        os.chown(path, uid, uid, follow_symlinks=False)
    folder.chmod(0o700)


def isolated(argv: Sequence[str], folder: Path, core_argv: Sequence[str], shared: Sequence[Path] = ()) -> list[str]:
    """`argv` (the launcher running `core_argv`) run as the folder's own user, seeing the code of both, the
    system, its folder (handed over first) and the `shared` folders, read-only (the market-data service's socket:
    connecting to a socket writes nothing)."""
    uid = instance_uid(folder)
    hand_over(folder, uid)
    code = [*code_paths(core_argv), REPO_ROOT / "backend", *map(Path, NETWORK_CONFIG), *shared]
    return ["bwrap", "--unshare-ipc", "--unshare-uts", "--dev", "/dev", "--proc", "/proc",
            "--perms", "1777", "--tmpfs", "/tmp", *bwrap_mounts(code, [folder], made=[Path("/tmp")]),
            "--chdir", str(folder), "--", *drop_to(uid), *argv]
