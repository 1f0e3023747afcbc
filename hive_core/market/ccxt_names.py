"""The exchanges ccxt can reach from this installation, read from its package's files: importing ccxt to ask would
cost the asking process about 100 MB (benchmarks/venue_memory.py)."""
from __future__ import annotations

import importlib.util
from functools import cache
from pathlib import Path


@cache
def ccxt_exchanges() -> tuple[str, ...]:
    """ccxt's exchange ids (one module each in ccxt.async_support), sorted; none without the `ccxt` extra."""
    spec = importlib.util.find_spec("ccxt")
    if spec is None or not spec.submodule_search_locations:
        return ()
    folder = Path(next(iter(spec.submodule_search_locations))) / "async_support"
    return tuple(sorted(path.stem for path in folder.glob("*.py") if not path.stem.startswith("_")))
