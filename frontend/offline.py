"""While the backend does not answer: since when, the data of when, and the banner that says so.

Every read goes through errors.attempt, which records here whether the backend answered; the banner (drawn
once by main.py, above the page) pings /health on its own every CONFIG.REFRESH_SECONDS, and when the backend
answers again it reruns the whole page, so what was read once (not only the live fragments) is fresh again.
"""
from __future__ import annotations

import time

import streamlit as st

import CONFIG
from backend.client import BackendError, BackendUnavailable, HiveClient


def record_ok() -> None:
    st.session_state["backend_last_ok"] = time.time()
    st.session_state["backend_down_since"] = None


def record_down() -> None:
    if st.session_state.get("backend_down_since") is None:
        st.session_state["backend_down_since"] = time.time()


def down() -> bool:
    return st.session_state.get("backend_down_since") is not None


def _clock(ts: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(ts))


def banner_text() -> str:
    last_ok = st.session_state.get("backend_last_ok")
    data = f"showing data from {_clock(last_ok)}" if last_ok else "no data read yet"
    return (f"**Backend unreachable** since {_clock(st.session_state['backend_down_since'])}, {data} — retrying "
            f"every {CONFIG.REFRESH_SECONDS:g} s. (backend: {CONFIG.BACKEND_URL})")


def _ping() -> None:
    """GET /health with the session's client (or a throwaway one before login); records the outcome."""
    client = st.session_state.get("client")
    pinger = client or HiveClient(CONFIG.BACKEND_URL, timeout=CONFIG.REQUEST_TIMEOUT)
    try:
        pinger.health()
    except BackendUnavailable:
        record_down()
    except BackendError:
        record_ok()  # it answered: unhealthy is the pages' to say
    else:
        record_ok()
    finally:
        if client is None:
            pinger.close()


@st.fragment(run_every=CONFIG.REFRESH_SECONDS)
def banner() -> None:
    _ping()
    if down():
        st.session_state["backend_banner_shown"] = True
        with st.container(key="backend_offline"):
            st.warning(banner_text(), icon=":material/cloud_off:")
    elif st.session_state.get("backend_banner_shown"):
        st.session_state["backend_banner_shown"] = False
        st.rerun(scope="app")  # back: read everything again, the parts outside fragments too
