"""Numbers and times in words an operator reads at a glance."""
from __future__ import annotations

import math
from datetime import datetime
from typing import TypeGuard


def present(value: float | None) -> TypeGuard[float]:
    """A number to show: neither None nor NaN (pandas' empty cell)."""
    return value is not None and not (isinstance(value, float) and math.isnan(value))


def size(value: float | None) -> str:
    if not present(value):
        return "–"
    size = float(value)
    for unit in ("B", "KB", "MB", "GB"):
        if abs(size) < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GB"


def percent(value: float | None) -> str:
    return f"{value:.1f} %" if present(value) else "–"


def traffic(received: float | None, sent: float | None) -> str:
    """Bytes received and sent ("↓ 1.2 MB ↑ 300 B"); "–" where the runtime cannot tell one instance's traffic."""
    if not present(received) and not present(sent):
        return "–"
    return f"↓ {size(received)} ↑ {size(sent)}"


def duration(seconds: float | None) -> str:
    if not present(seconds):
        return "–"
    seconds = max(0.0, float(seconds))
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs} s"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes} min"
    return f"{hours // 24} d {hours % 24} h"


def lag(milliseconds: float | None) -> str:
    """How far behind something is: "8 ms" under a second, else as a duration ("3 s", "2 min 5 s")."""
    if not present(milliseconds):
        return "–"
    return f"{max(0.0, milliseconds):.0f} ms" if milliseconds < 999.5 else duration(milliseconds / 1000)


def age(seconds: float | None) -> str:
    return f"{duration(seconds)} ago" if present(seconds) else "never"


def money(value: float | None) -> str:
    return f"{value:+,.2f}" if present(value) else "–"


def rate(value: float | None) -> str:
    return f"{value:.1f}/s" if present(value) else "–"


def count(value: int | None) -> str:
    return str(value) if present(value) else "–"


def clock(ts: float | None) -> str:
    return datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M:%S") if present(ts) else "–"


def venue_label(choice: dict) -> str:
    """A live venue in words: Binance spot (testnet), or a ccxt exchange (its test network) through ccxt."""
    testnet = choice.get("network") == "testnet"
    if choice.get("kind") == "ccxt":
        return f"{choice.get('exchange')}{' (test network)' if testnet else ''} through ccxt"
    return "Binance spot testnet" if testnet else "Binance spot"


def venue(instance: dict) -> str:
    """Where an instance trades, in words: the simulated exchange, or a live venue on paper or LIVE (with the
    credential); "–" for an external bot (Hive does not know)."""
    choice = instance.get("venue")
    if not choice:
        return "–"
    if choice.get("kind", "sim") == "sim":
        return "simulated exchange"
    if choice.get("mode") == "live":
        return f"{venue_label(choice)} · LIVE ({instance.get('credential') or 'no credential'})"
    return f"{venue_label(choice)} · paper"


def restarts(instance: dict) -> str:
    """The supervisor's restarts of an instance: "restarts: 1 of 3 · next restart at ..."; "" for an external bot."""
    policy = instance.get("restart_policy")
    if not policy:
        return ""
    if policy["policy"] == "never":
        return "restart policy: never"
    words = f"restarts: {instance.get('restarts', 0)} of {policy['max_retries']}"
    pending = instance.get("next_restart_at")
    return words + (f" · next restart at {clock(pending)}" if present(pending) else "")


def when(ts: float | None) -> datetime | None:
    return datetime.fromtimestamp(ts) if present(ts) else None
