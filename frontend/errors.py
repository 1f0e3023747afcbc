"""The one place that turns backend failures into words on the page: what happened and what to do."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import streamlit as st

import CONFIG
from backend.client import BackendError, BackendUnavailable

T = TypeVar("T")
Failure = BackendError | BackendUnavailable
FAILURES = (BackendError, BackendUnavailable)


def explain(error: Failure) -> tuple[str, str]:
    """(what happened, what to do) for a backend failure."""
    if isinstance(error, BackendUnavailable):
        return (f"The backend at {CONFIG.BACKEND_URL} does not answer.",
                f"Start it ({CONFIG.START_HINT}) or set HIVE_BACKEND_URL to where it runs, then retry.")
    if error.status == 401:
        return error.message, "The backend no longer accepts this login: log out and log in again."
    if error.status >= 500:
        return error.message, "The backend failed; its log has the details. Retry once it is fixed."
    return error.message, ""  # the backend's own message already says what to do


def show_error(error: Failure, action: str) -> None:
    what, todo = explain(error)
    text = f"**Could not {action}.** {what}"
    if todo:
        text += f"\n\n{todo}"
    st.error(text, icon=":material/error:")


def attempt(action: str, call: Callable[..., T], *args: Any, **kwargs: Any) -> T | None:
    """Call the backend; on failure show why and return None."""
    try:
        return call(*args, **kwargs)
    except FAILURES as error:
        show_error(error, action)
        return None


def run_action(prefix: str, action: str, call: Callable[..., Any], *args: Any, notice: str = "") -> Any:
    """For button callbacks: record the failure (shown by show_feedback until the next action) or a notice."""
    try:
        result = call(*args)
    except FAILURES as error:
        st.session_state[f"{prefix}_error"] = {"action": action, "error": error}
        return None
    st.session_state[f"{prefix}_error"] = None
    st.session_state[f"{prefix}_notice"] = notice or None
    return result


def recorded_error(prefix: str) -> Failure | None:
    record = st.session_state.get(f"{prefix}_error")
    return record["error"] if record else None


def clear_error(prefix: str) -> None:
    st.session_state[f"{prefix}_error"] = None


def show_feedback(prefix: str) -> None:
    """The page's last notice (once, as a toast) and its last failed action (until dismissed)."""
    notice = st.session_state.get(f"{prefix}_notice")
    if notice:
        st.toast(notice, icon=":material/check_circle:")
        st.session_state[f"{prefix}_notice"] = None
    record = st.session_state.get(f"{prefix}_error")
    if record:
        show_error(record["error"], record["action"])
        st.button("Dismiss", key=f"{prefix}_dismiss_error", type="tertiary", on_click=clear_error, args=(prefix,))
