"""Log viewer: level, strategy and text filters (applied by the backend, so older lines are found too), a live
tail, line wrapping and a download of the lines shown; and the error lines with their stack traces."""
from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from frontend import downloads
from frontend import format as fmt

LEVELS = ["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]
ALL_STRATEGIES = "All strategies"
MAX_QUERY = 200  # characters of a search (the backend's bound)


@dataclass(frozen=True)
class LogFilter:
    min_level: str
    strategy: str | None  # None: every strategy and the runtime itself
    query: str            # "" : every line
    tail: bool            # keep showing the newest lines as they arrive
    wrap: bool

    def backend_args(self) -> dict:
        """The keyword arguments of HiveClient.instance_logs that apply this filter."""
        return {"strategy": self.strategy, "query": self.query or None,
                "min_level": None if self.min_level == LEVELS[0] else self.min_level}


def log_filters(key_prefix: str, strategies: list[str]) -> LogFilter:
    level, strategy, query = st.columns([1, 1, 2])
    min_level = level.selectbox("Minimum level", LEVELS, key=f"{key_prefix}_log_level")
    chosen = strategy.selectbox("Strategy", [ALL_STRATEGIES, *strategies], key=f"{key_prefix}_log_strategy")
    text = query.text_input("Search the log", key=f"{key_prefix}_log_query", max_chars=MAX_QUERY,
                            placeholder="text in the message or its stack trace (any case)")
    toggles = st.container(horizontal=True)
    tail = toggles.toggle("Live tail", key=f"{key_prefix}_log_tail",
                          help="On: the newest lines, refreshed as they arrive. Off: the lines stay as they are.")
    wrap = toggles.toggle("Wrap lines", key=f"{key_prefix}_log_wrap")
    return LogFilter(min_level, None if chosen == ALL_STRATEGIES else chosen, text.strip(), tail, wrap)


def log_text(lines: list[dict]) -> str:
    """Newest first, one line each (a stack trace continues on the lines below its line)."""
    return "\n".join(
        f"{fmt.clock(line['timestamp'])} {line['level_name']:<8} [{line.get('strategy') or line['logger_name']}] "
        f"{line['msg']}"
        for line in sorted(lines, key=lambda line: line["timestamp"], reverse=True)
    )


def log_view(lines: list[dict], log_filter: LogFilter, file_name: str, key: str, height: int = 420) -> None:
    if not lines:
        st.caption("No log lines match these filters" + (" yet." if log_filter.tail else "."))
        return
    text = log_text(lines)
    shown = st.container(horizontal=True, vertical_alignment="center")
    shown.caption(f"{len(lines):,} lines, newest first" + ("" if log_filter.tail else " · live tail off: frozen"))
    downloads.download("Download lines", text, file_name, key, mime="text/plain", basis=log_filter, place=shown)
    st.code(text, language=None, height=height, wrap_lines=log_filter.wrap)


def errors_by_owner(lines: list[dict], with_instance: bool) -> dict[str, list[dict]]:
    """Error lines by strategy (the runtime's own by logger), `instance / strategy` across the fleet; newest group
    first and newest first in each."""
    groups: dict[str, list[dict]] = {}
    for line in sorted(lines, key=lambda line: line["timestamp"], reverse=True):
        owner = line.get("strategy") or line["logger_name"]
        groups.setdefault(f"{line['instance']} / {owner}" if with_instance else owner, []).append(line)
    return groups


def error_groups(lines: list[dict], with_instance: bool = False) -> None:
    """Error lines grouped by strategy, one expander each, every line with its stack trace."""
    for owner, group in errors_by_owner(lines, with_instance).items():
        with st.expander(f"{owner}: {len(group)} error{'s' if len(group) != 1 else ''}, last at "
                         f"{fmt.clock(group[0]['timestamp'])}"):
            for line in group:
                st.caption(f"{fmt.clock(line['timestamp'])} · {line['level_name']} · {line['logger_name']}")
                st.code(line["msg"], language=None, wrap_lines=True)
