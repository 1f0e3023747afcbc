"""The start-up of the instance just created, step by step, live until its first heartbeat or a failure.

The steps and their times come from the backend (GET /instances/{name}/startup): created, image ready (docker),
process or container started, first heartbeat. While it starts, a fragment asks again every refresh; once it is
running, failed or called off, the answer is kept in the session (`instances_startup["final"]`) and shown as it
was, with the failing step, the reason and its process's last log lines, until the operator dismisses it.
"""
from __future__ import annotations

from datetime import datetime

import streamlit as st

import CONFIG
from backend.client import HiveClient
from frontend import errors

LIVE = ("starting", "not_started")  # outcomes still moving


def _dismiss() -> None:
    st.session_state["instances_startup"] = None


def _time(ts: float, origin: float | None) -> str:
    """`12:00:01 (+0.8 s)`: the clock time and how long after the instance was created."""
    words = datetime.fromtimestamp(ts).strftime("%H:%M:%S")
    return f"{words} (+{ts - origin:.1f} s)" if origin is not None else words


def _step(step: dict, origin: float | None) -> None:
    label, state, detail = step["label"], step["state"], step["detail"]
    if state == "done":
        with st.status(f"{label} · {_time(step['at'], origin)}" if step["at"] else label, state="complete"):
            st.caption(detail or "done")
    elif state == "running":
        with st.status(f"{label}…", state="running"):
            st.caption("under way")
    elif state == "failed":
        with st.status(f"{label} failed" + (f" · {_time(step['at'], origin)}" if step["at"] else ""),
                       state="error", expanded=True):
            st.markdown(detail or "failed")
    elif state == "skipped":
        st.markdown(f":gray[:material/remove: {label}: {detail or 'not reached'}]")
    else:
        st.markdown(f":gray[:material/radio_button_unchecked: {label}: not yet]")


def _headline(startup: dict, origin: float | None) -> None:
    name = startup["name"]
    if startup["outcome"] == "running":
        heartbeat = startup["steps"][-1]["at"]
        after = f" {heartbeat - origin:.1f} s after it was created" if heartbeat and origin else ""
        st.success(f"**{name} is running**: its first heartbeat arrived{after}.", icon=":material/check_circle:")
    elif startup["outcome"] == "failed":
        label = next(step["label"] for step in startup["steps"] if step["key"] == startup["failed_step"])
        st.error(f"**{name} did not start: {label} failed.** The step below says why.", icon=":material/error:")
    elif startup["outcome"] == "stopped":
        st.info(f"The start of {name} was called off: {startup['reason']}", icon=":material/stop_circle:")
    else:
        st.markdown(f"**Starting {name}…**")


def _draw(startup: dict) -> None:
    with st.container(border=True, key="instances_startup_view"):
        origin = startup["steps"][0]["at"]
        _headline(startup, origin)
        for step in startup["steps"]:
            _step(step, origin)
        if startup["log"]:
            st.caption("The last lines its process wrote:")
            st.text("\n".join(startup["log"]))
        st.button("Dismiss", key="instances_startup_dismiss", type="tertiary", on_click=_dismiss)


@st.fragment(run_every=CONFIG.REFRESH_SECONDS)
def watch_startup(client: HiveClient) -> None:
    """Live while it starts; once it ended either way, the answer is kept and the page drawn again without polling."""
    record = st.session_state["instances_startup"]
    if record is None or record["final"] is not None:
        return  # dismissed, or ended: a run left over from before is not to change what was seen
    startup = errors.attempt(f"follow the start of {record['name']}", client.instance_startup, record["name"],
                             record["since"])
    if startup is None:
        st.button("Dismiss", key="instances_startup_dismiss", type="tertiary", on_click=_dismiss)
        return
    if startup["outcome"] not in LIVE:
        record["final"] = startup
        st.rerun(scope="app")
    _draw(startup)


def show_startup() -> None:
    """How the start ended, as it was last seen."""
    _draw(st.session_state["instances_startup"]["final"])
