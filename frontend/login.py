"""The login gate: username and password, checked against the backend, which opens a session for them; and why
the operator is here again (the session expired, was logged out elsewhere...)."""
from __future__ import annotations

import streamlit as st

import CONFIG
from backend.client import BackendError, BackendUnavailable
from frontend import offline, session
from frontend.errors import show_error


def login_page() -> None:
    st.title(f"{CONFIG.PAGE_ICON} {CONFIG.PAGE_TITLE}")
    st.caption(f"Operator console for fleets of trading bots · backend {CONFIG.BACKEND_URL}")
    session.draw_cookie()
    if session.waiting_for_backend():
        offline.banner()
        st.info("This browser has a saved session: you are logged in again as soon as the backend answers.",
                icon=":material/hourglass_top:")
    notice = st.session_state.get("login_notice")
    if notice:
        st.warning(notice, icon=":material/logout:")
    with st.form("login_form"):
        username = st.text_input("Username", key="login_username")
        password = st.text_input("Password", type="password", key="login_password")
        submitted = st.form_submit_button("Log in", type="primary")
    if not submitted:
        return
    try:
        session.log_in(username, password)
    except BackendError as error:
        if error.status == 401:
            st.error("Wrong username or password", icon=":material/lock:")
        elif error.status == 429:
            when = f"in {error.retry_after} s" if error.retry_after else "later"
            st.error(f"Too many attempts, try again {when}", icon=":material/timer:")
        else:
            show_error(error, "log in")
    except BackendUnavailable as error:
        show_error(error, "log in")
    else:
        st.rerun()
