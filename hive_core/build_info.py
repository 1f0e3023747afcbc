"""Which hot-path modules run compiled, and whether a compiled module is older than its source.

A stale extension shadows the edited .py file silently, so `info` and the runtime say so.
"""
from __future__ import annotations

from pathlib import Path
from types import ModuleType

from hive_core import clock, scheduler
from hive_core.market import local_book, ws_frames
from hive_core.orders import rate_limit

HOT_PATH_MODULES: tuple[ModuleType, ...] = (clock, scheduler, local_book, rate_limit, ws_frames)


def describe(module: ModuleType) -> str:
    return "compiled (Cython)" if module.COMPILED else "interpreted (pure Python)"


def stale_extension(module: ModuleType) -> Path | None:
    """The compiled file of `module` when its .py source is newer, else None."""
    if not module.COMPILED or not module.__file__:
        return None
    compiled = Path(module.__file__)
    source = compiled.with_name(module.__name__.rpartition(".")[2] + ".py")
    if source.is_file() and source.stat().st_mtime > compiled.stat().st_mtime:
        return compiled
    return None


def stale_warnings() -> list[str]:
    return [f"{path.name} is older than its source; rebuild it (make install, or "
            f"python setup.py build_ext --inplace) or delete it to run the source"
            for path in (stale_extension(module) for module in HOT_PATH_MODULES) if path is not None]
