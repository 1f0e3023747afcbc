"""The one place that turns backend failures into words on the page: what happened and what to do.

Reads keep their last good answer: while the backend does not answer, `attempt` gives that instead (the offline
banner of frontend/offline.py says since when and of when the data is). A session the backend ended sends the
operator to the login page, which says why.
"""
from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from typing import Any, TypeVar

import streamlit as st

import CONFIG
from backend.client import BackendError, BackendUnavailable, HiveClient
from frontend import offline, session

T = TypeVar("T")
MAX_ANSWERS = 256  # last good answers kept per browser session, the least recently read dropped first
Failure = BackendError | BackendUnavailable
FAILURES = (BackendError, BackendUnavailable)
# The same action again this soon after it succeeded is one click delivered twice: Streamlit may dispatch a
# button's callback in two runs when a fragment's timed rerun meets the click, and a double click is one intent too.
# A failed action may be tried again at once (the operator fixed the cause).
REPEAT_SECONDS = 1.0
LAST_ACTION = "actions_last"  # session state: {"what": the last successful action's identity, "ended": monotonic s}


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


def _answer_key(call: Callable[..., Any], args: tuple, kwargs: dict) -> str:
    what = f"{getattr(call, '__qualname__', call)!r} {args!r} {sorted(kwargs.items())!r}"
    return hashlib.sha256(what.encode()).hexdigest()


def _remember(key: str, answer: Any) -> None:
    answers: dict[str, Any] = st.session_state["backend_answers"]
    answers.pop(key, None)
    answers[key] = answer  # the most recent last
    while len(answers) > MAX_ANSWERS:
        del answers[next(iter(answers))]


def attempt(action: str, call: Callable[..., T], *args: Any, **kwargs: Any) -> T | None:
    """Call the backend; on failure show why and return None. When the backend does not answer, a read gives
    its last good answer instead (the offline banner says so). A call through a client that is no longer the
    session's (a live fragment still running after a log out holds the page's old one) reruns the whole app
    instead, which shows the login page."""
    owner = getattr(call, "__self__", None)
    if isinstance(owner, HiveClient) and owner is not st.session_state.get("client"):
        st.rerun(scope="app")
    key = _answer_key(call, args, kwargs)
    try:
        result = call(*args, **kwargs)
    except BackendUnavailable as error:
        offline.record_down()
        answers = st.session_state["backend_answers"]
        if error.read and key in answers:
            return answers[key]
        show_error(error, action)
        return None
    except BackendError as error:
        if session.ended(error):
            session.expire(error)
            st.rerun(scope="app")
        offline.record_ok()  # it answered, if only to refuse
        show_error(error, action)
        return None
    offline.record_ok()
    _remember(key, result)
    return result


def run_action(prefix: str, action: str, call: Callable[..., Any], *args: Any, notice: str = "") -> Any:
    """For button callbacks: record the failure (shown by show_feedback until the next action) or a notice. The
    same action (the same call with the same arguments) within REPEAT_SECONDS of its success is not sent again:
    None."""
    what = (prefix, action, getattr(call, "__qualname__", repr(call)), repr(args))
    last = st.session_state.get(LAST_ACTION)
    if last is not None and last["what"] == what and time.monotonic() - last["ended"] < REPEAT_SECONDS:
        return None
    st.session_state[LAST_ACTION] = None
    try:
        result = call(*args)
    except FAILURES as error:
        if isinstance(error, BackendUnavailable):
            offline.record_down()
        elif session.ended(error):
            session.expire(error)  # the run after the callback shows the login page
            return None
        else:
            offline.record_ok()
        st.session_state[f"{prefix}_error"] = {"action": action, "error": error}
        return None
    st.session_state[LAST_ACTION] = {"what": what, "ended": time.monotonic()}
    offline.record_ok()
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
