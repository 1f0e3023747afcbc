"""Download buttons that keep working on pages that refresh themselves.

Streamlit serves a download button's file from memory under a name made from its content, and drops it two runs
after the page last drew it. A part of a page that refreshes every few seconds with new data makes a new file
each time, so a browser running two refreshes behind (a busy machine, a slow link) asks for a file already
dropped: the click does nothing. A button's file is therefore made again at most every HOLD_SECONDS, or at once
when what it is of (`basis`: the instance, the filters, the file's name) changes; the button says when it was read.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import streamlit as st

from frontend import format as fmt

HOLD_SECONDS = 15.0
HELD = "downloads_held"  # session state: button key -> {"basis", "at", "data"}


def download(label: str, data: bytes | str | Callable[[], bytes | str], file_name: str, key: str, *, mime: str,
             basis: object = None, place: Any = st, disabled: bool = False) -> None:
    """A download button that does not rerun the page; `data` may be a callable, called only when the file is
    made again; `place` is where it goes (a container or column; the page by default)."""
    held: dict[str, dict] = st.session_state[HELD]
    identity = repr((file_name, basis))
    now = time.time()
    kept = held.get(key)
    if kept is None or kept["basis"] != identity or now - kept["at"] >= HOLD_SECONDS:
        kept = held[key] = {"basis": identity, "at": now, "data": data() if callable(data) else data}
    place.download_button(label, kept["data"], file_name=file_name, mime=mime, key=key, icon=":material/download:",
                          on_click="ignore", disabled=disabled, help=f"as read at {fmt.clock(kept['at'])}")
