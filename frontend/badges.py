"""Lifecycle states (of instances and of the broker) as a coloured badge, always with the reason; a running instance
whose heartbeats are late (a mark, not a state: `late` in its answer) shows as Late, in a colour of its own."""
from __future__ import annotations

from typing import Literal

import streamlit as st

Colour = Literal["red", "orange", "yellow", "blue", "green", "violet", "gray"]

STATES: dict[str, tuple[str, Colour]] = {  # state -> (label, colour)
    "created": ("Created", "gray"),
    "starting": ("Starting", "blue"),
    "running": ("Running", "green"),
    "stopping": ("Stopping", "orange"),
    "stopped": ("Stopped", "gray"),
    "error": ("Error", "red"),
}
MARKS: dict[str, tuple[str, Colour]] = {"late": ("Late", "yellow")}  # shown instead of the state they mark
# Text colours for table cells (a badge cannot go there), readable on light and dark themes.
CELL_COLOURS: dict[Colour, str] = {"gray": "#808495", "blue": "#1c83e1", "green": "#21c354", "orange": "#ff8700",
                                   "red": "#ff4b4b", "yellow": "#faca2b", "violet": "#803df5"}


def _style(state: str) -> tuple[str, Colour]:
    return STATES.get(state) or MARKS.get(state) or (state.capitalize(), "gray")


def shown_state(instance: dict) -> str:
    """What an instance's badge and State cell show: its state, or `late` for a running one whose heartbeats are."""
    return "late" if instance.get("late") else instance["state"]


def state_label(state: str) -> str:
    return _style(state)[0]


def label_css(label: str) -> str:
    """CSS for a table cell holding a state label (see tables.show_table)."""
    colour = next((colour for name, colour in (*STATES.values(), *MARKS.values()) if name == label), None)
    return f"color: {CELL_COLOURS[colour]}; font-weight: 600" if colour else ""


def state_badge(state: str, reason: str = "", key: str | None = None) -> None:
    """The badge and its reason; `key` names the container (CSS class `st-key-<key>`) for browser tests."""
    label, colour = _style(state)
    with st.container(key=key, gap=None):
        st.badge(label, color=colour)
        if reason:
            st.caption(f"Reason: {reason}")
