"""What the Create Instance form checks before it sends anything, in the words shown under each field.

Each check returns None when the value is fine, else the message. The backend checks the same again (and more: the
params against the strategy's schema, the broker running): these spare the operator a round trip and name the field.
"""
from __future__ import annotations

from collections.abc import Collection

from hive_core.config import ID_RULE, MAX_PAIRS, check_id, check_pair, check_unique

MIN_MEMORY_MB = 64  # backend.domain.instances.ResourceLimits
MIN_PIDS = 16


def _valid_id(value: str) -> bool:
    try:
        check_id(value)
    except ValueError:
        return False
    return True


def name_problem(name: str, taken: Collection[str]) -> str | None:
    if not name:
        return f"Give it a name: {ID_RULE}."
    if not _valid_id(name):
        return f"Must be {ID_RULE} (got {name!r})."
    if name in taken:
        return f"An instance named {name!r} already exists: choose another name."
    return None


def pairs_problem(pairs: list[str]) -> str | None:
    if not pairs:
        return "Give at least one trading pair, e.g. BTC-USDT."
    if len(pairs) > MAX_PAIRS:
        return f"At most {MAX_PAIRS} pairs (got {len(pairs)})."
    try:
        for pair in pairs:
            check_pair(pair)
        check_unique(pairs)
    except ValueError as problem:
        return f"{str(problem)[0].upper()}{str(problem)[1:]}."
    return None


def strategy_id_problem(ident: str, earlier: Collection[str]) -> str | None:
    """`ident` is the id typed, or the default one; `earlier` the ids of the entries above it."""
    if not _valid_id(ident):
        return f"Must be {ID_RULE} (got {ident!r})."
    if ident in earlier:
        return f"Another strategy above already has the id {ident!r}: ids must be unique within the instance."
    return None


def image_problem(image: str | None) -> str | None:
    return None if image else "A docker instance needs an image: build one under Docker hosts and images."


def memory_problem(memory_mb: int) -> str | None:
    if 0 < memory_mb < MIN_MEMORY_MB:
        return f"At least {MIN_MEMORY_MB} MiB, or 0 for no limit (got {memory_mb})."
    return None


def pids_problem(pids: int) -> str | None:
    if 0 < pids < MIN_PIDS:
        return f"At least {MIN_PIDS}, or 0 for no limit (got {pids})."
    return None
