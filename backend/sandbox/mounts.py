"""What a Python running hive_core needs to see, as bubblewrap mount options: the system's programs and
libraries, the interpreter and its venv, hive_core's code and the files the core command names. Nothing
else of this machine is visible (not the data dir, not `.env`, not the other instances' folders)."""
from __future__ import annotations

import sys
from collections.abc import Iterable, Sequence
from pathlib import Path

from backend.host import REPO_ROOT

SYSTEM_PATHS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
NETWORK_CONFIG = ("/etc",)  # name resolution and CA certificates, for an instance that trades


def code_paths(core_argv: Sequence[str]) -> list[Path]:
    """The read-only paths hive_core's CLI (`core_argv`) runs from."""
    paths = [Path(p) for p in SYSTEM_PATHS] + [Path(sys.base_prefix), Path(sys.prefix), REPO_ROOT / "hive_core"]
    for index, arg in enumerate(core_argv):
        if arg == "-m" and index + 1 < len(core_argv):  # `-m package.module`: the package, from this checkout
            paths.append(REPO_ROOT / core_argv[index + 1].split(".")[0])
        elif arg.startswith("/"):  # the interpreter, a script
            paths += [Path(arg), Path(arg).resolve()]
    return [path for path in paths if path.exists()]


def bwrap_mounts(read_only: Iterable[Path], writable: Iterable[Path] = (), made: Iterable[Path] = ()) -> list[str]:
    """bwrap options that show each path at its own place (a symlink as a symlink); the directories above
    them are made, empty and searchable (0755), whatever their modes outside, unless they are in `made`
    (mounted by earlier options)."""
    wanted = {Path(p).absolute(): "--ro-bind" for p in read_only}
    wanted.update({Path(p).absolute(): "--bind" for p in writable})
    options: list[str] = []
    made = {Path("/"), *made}
    mounted: list[Path] = []
    for path in sorted(wanted, key=lambda p: len(p.parts)):
        if any(path.is_relative_to(outer) for outer in mounted if wanted[outer] == wanted[path]):
            continue  # already visible through an outer mount
        for parent in reversed(path.parents):
            if parent not in made and not any(parent.is_relative_to(outer) for outer in mounted):
                options += ["--perms", "0755", "--dir", str(parent)]
                made.add(parent)
        if path.is_symlink() and path.parent == Path("/"):
            options += ["--symlink", str(path.readlink()), str(path)]
        else:
            options += [wanted[path], str(path), str(path)]
        mounted.append(path)
        made.add(path)
    return options
