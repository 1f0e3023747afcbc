"""Numbers and times in words an operator reads at a glance."""
from __future__ import annotations

import math
from datetime import datetime


def missing(value: float | None) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def size(value: float | None) -> str:
    if missing(value):
        return "–"
    size = float(value)
    for unit in ("B", "KB", "MB", "GB"):
        if abs(size) < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GB"


def percent(value: float | None) -> str:
    return "–" if missing(value) else f"{value:.1f} %"


def duration(seconds: float | None) -> str:
    if missing(seconds):
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


def age(seconds: float | None) -> str:
    return "never" if missing(seconds) else f"{duration(seconds)} ago"


def money(value: float | None) -> str:
    return "–" if missing(value) else f"{value:+,.2f}"


def rate(value: float | None) -> str:
    return "–" if missing(value) else f"{value:.1f}/s"


def count(value: int | None) -> str:
    return "–" if missing(value) else str(value)


def clock(ts: float | None) -> str:
    return "–" if missing(ts) else datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M:%S")


def when(ts: float | None) -> datetime | None:
    return None if missing(ts) else datetime.fromtimestamp(ts)
