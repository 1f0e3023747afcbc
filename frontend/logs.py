"""Log viewer: a level filter and a per-strategy filter over an instance's log lines, newest first."""
from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from frontend import format as fmt

LEVELS = ["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]
ALL_STRATEGIES = "All strategies"


@dataclass(frozen=True)
class LogFilter:
    min_level: str
    strategy: str | None  # None: every strategy and the runtime itself


def log_filters(key_prefix: str, strategies: list[str]) -> LogFilter:
    left, right = st.columns(2)
    level = left.selectbox("Minimum level", LEVELS, key=f"{key_prefix}_log_level")
    strategy = right.selectbox("Strategy", [ALL_STRATEGIES, *strategies], key=f"{key_prefix}_log_strategy")
    return LogFilter(level, None if strategy == ALL_STRATEGIES else strategy)


def _rank(level_name: str) -> int:
    return LEVELS.index(level_name) if level_name in LEVELS else 0


def log_view(lines: list[dict], log_filter: LogFilter, height: int = 360) -> None:
    floor = _rank(log_filter.min_level)
    shown = [
        line for line in sorted(lines, key=lambda line: line["timestamp"], reverse=True)
        if _rank(line["level_name"]) >= floor
        and (log_filter.strategy is None or line.get("strategy") == log_filter.strategy)
    ]
    if not shown:
        st.caption("No log lines match these filters yet.")
        return
    text = "\n".join(
        f"{fmt.clock(line['timestamp'])} {line['level_name']:<8} [{line.get('strategy') or line['logger_name']}] "
        f"{line['msg']}"
        for line in shown
    )
    st.code(text, language=None, height=height)
