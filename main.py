"""Streamlit entry point, only a router: page config, login gate (resuming the browser's saved session), the
offline banner above every page, navigation over the pages."""
from __future__ import annotations

import streamlit as st

import CONFIG
from frontend import format, offline, session
from frontend.login import login_page

st.set_page_config(page_title=CONFIG.PAGE_TITLE, page_icon=CONFIG.PAGE_ICON, layout=CONFIG.LAYOUT)
session.init_state()
session.resume_from_cookie()

pages = [
    st.Page("pages/broker/app.py", title="Broker", icon=":material/hub:", url_path="broker", default=True),
    st.Page("pages/instances/app.py", title="Instances", icon=":material/smart_toy:", url_path="instances"),
    st.Page("pages/instances/orders.py", title="Orders & errors", icon=":material/receipt_long:", url_path="orders"),
    st.Page("pages/instances/strategies.py", title="Strategies", icon=":material/code:", url_path="strategies"),
    st.Page("pages/events/app.py", title="Events", icon=":material/bolt:", url_path="events"),
    st.Page("pages/events/activity.py", title="Activity", icon=":material/history:", url_path="activity"),
]

if not session.logged_in():
    # The pages stay registered, so a bookmarked /instances opens there right after login.
    st.navigation(pages, position="hidden")
    login_page()
    st.stop()

with st.sidebar:
    st.caption(f"Logged in as **{st.session_state['username']}** until "
               f"{format.clock(st.session_state['session_expires_at'])} · {CONFIG.BACKEND_URL}")
    st.button("Log out", key="logout", on_click=session.log_out)
    session.draw_cookie()

offline.banner()
st.navigation(pages).run()
