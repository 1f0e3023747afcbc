"""What the Create Instance form checks before it sends anything, in the words shown under each field.

Each check returns None when the value is fine, else the message. The rules come from the backend (GET
/rules/instance), which checks the same again on create (and more: the params against the strategy's schema, the
broker running): these spare the operator a round trip and name the field.
"""
from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass


@dataclass(frozen=True)
class Rules:
    """The backend's rules of a new instance, as its client returns them."""

    id_pattern: re.Pattern[str]
    id_rule: str
    pair_pattern: re.Pattern[str]
    pair_rule: str
    max_pairs: int
    min_memory_mb: int
    min_pids: int
    ccxt_exchanges: tuple[str, ...]   # the exchanges an instance can trade on through ccxt

    @classmethod
    def of(cls, answer: dict) -> Rules:
        return cls(id_pattern=re.compile(answer["id_pattern"]), id_rule=answer["id_rule"],
                   pair_pattern=re.compile(answer["pair_pattern"]), pair_rule=answer["pair_rule"],
                   max_pairs=answer["max_pairs"], min_memory_mb=answer["min_memory_mb"], min_pids=answer["min_pids"],
                   ccxt_exchanges=tuple(answer.get("ccxt_exchanges", ())))


def name_problem(rules: Rules, name: str, taken: Collection[str]) -> str | None:
    if not name:
        return f"Give it a name: {rules.id_rule}."
    if not rules.id_pattern.match(name):
        return f"Must be {rules.id_rule} (got {name!r})."
    if name in taken:
        return f"An instance named {name!r} already exists: choose another name."
    return None


def pairs_problem(rules: Rules, pairs: list[str]) -> str | None:
    if not pairs:
        return "Give at least one trading pair, e.g. BTC-USDT."
    if len(pairs) > rules.max_pairs:
        return f"At most {rules.max_pairs} pairs (got {len(pairs)})."
    wrong = next((pair for pair in pairs if not rules.pair_pattern.match(pair)), None)
    if wrong is not None:
        return f"{wrong[:40]!r} is not a trading pair: write {rules.pair_rule}."
    twice = sorted({pair for pair in pairs if pairs.count(pair) > 1})
    if twice:
        return f"{', '.join(twice)} listed more than once: list each pair once."
    return None


def strategy_id_problem(rules: Rules, ident: str, earlier: Collection[str]) -> str | None:
    """`ident` is the id typed, or the default one; `earlier` the ids of the entries above it."""
    if not rules.id_pattern.match(ident):
        return f"Must be {rules.id_rule} (got {ident!r})."
    if ident in earlier:
        return f"Another strategy above already has the id {ident!r}: ids must be unique within the instance."
    return None


def image_problem(image: str | None) -> str | None:
    return None if image else "A docker instance needs an image: build one under Docker hosts and images."


def memory_problem(rules: Rules, memory_mb: int) -> str | None:
    if 0 < memory_mb < rules.min_memory_mb:
        return f"At least {rules.min_memory_mb} MiB, or 0 for no limit (got {memory_mb})."
    return None


def pids_problem(rules: Rules, pids: int) -> str | None:
    if 0 < pids < rules.min_pids:
        return f"At least {rules.min_pids}, or 0 for no limit (got {pids})."
    return None


def credential_problem(venue: str, venue_label: str, credential: str, stored: Collection[str]) -> str | None:
    """Live trading signs its orders with a credential stored for its venue."""
    if credential:
        return None
    if not stored:
        return f"No credential is stored for {venue_label} ({venue}): add one under Credentials, or trade on paper."
    return f"Choose the {venue_label} credential its orders are signed with."
