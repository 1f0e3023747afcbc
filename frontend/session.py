"""Session state, initialised in one place, and the logged-in backend client.

Keys used by one page only carry that page's prefix (`broker_`, `instances_`, `strategies_`, `events_`, `orders_`,
`activity_`).
"""
from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any

import streamlit as st

import CONFIG
from backend.client import HiveClient

DEFAULTS: dict[str, Any] = {
    "client": None,  # HiveClient once logged in
    "username": "",
    # errors.run_action() records each page's last failed action and last success here
    "broker_error": None,
    "broker_notice": None,
    "broker_confirm_stop": False,  # Stop Broker was clicked: its confirmation (naming who is cut off) is shown
    "broker_clients_open": False,  # the connected clients' section is open: only then are they read
    "instances_error": None,
    "instances_notice": None,
    "instances_selected": None,
    "instances_confirm_delete": None,  # name of the instance whose deletion awaits confirmation
    "instances_strategy_error": None,  # the strategy controls' last failed action (pages/instances/strategy_controls)
    "instances_strategy_notice": None,
    "instances_strategy_pick": None,  # the strategy id the controls act on
    "instances_create_count": 1,  # strategies in the create form
    "instances_create_pair": "BTC-USDT",
    "instances_create_start": True,
    "instances_create_restart_policy": "on_failure",
    "instances_create_max_retries": 3,
    "credentials_error": None,
    "credentials_notice": None,
    "credentials_rotated": None,  # the last key rotation's answer, shown until the next save
    "credentials_venue": "binance_testnet",
    "instances_create_credential": "",
    # the detail's tabs and log viewer
    "instances_detail_tab": "Overview",  # the open tab: only it reads the backend
    "instances_log_query": "",
    "instances_log_tail": True,  # off: the lines read last stay on screen
    "instances_log_wrap": False,
    "instances_log_snapshot": None,  # {"asked": (instance, filter), "lines": [...]}: the lines read last
    # the Orders & errors page
    "orders_instance": "All instances",
    "orders_strategy": "",
    "orders_pair": "All pairs",
    "strategies_selected": None,
    "strategies_error": None,
    "strategies_notice": None,
    "strategies_upload_round": 0,  # bumped to empty the file uploader after an upload
    "events_error": None,
    "events_notice": None,
    "events_name": "tv.signal.buy",
    "events_all": True,
    "events_hook_all": False,
    "events_hook_event": "tv.alert",
    "events_created_hook": None,  # the webhook just created, with its secret (shown once)
    "activity_actor": "",  # the Activity page's filters
    "activity_action": "any",
    "activity_outcome": "",
    "activity_instance": "",
    "activity_q": "",
    "activity_since": None,  # a date, or None: from the first entry
    "activity_until": None,
    "activity_limit": 200,
    "activity_page": 1,
    "resource_history": {},  # subject -> {"cpu": [...], "memory": [...]}
}


def init_state() -> None:
    for key, value in DEFAULTS.items():
        if key not in st.session_state:
            st.session_state[key] = copy.deepcopy(value)


def client() -> HiveClient:
    current = st.session_state.get("client")
    if current is None:  # main.py shows no page before login; this guards against misuse
        raise RuntimeError("not logged in")
    return current


def empty_on_next_run(form: str) -> None:
    """Ask for `form`'s text inputs to be emptied: a widget's value can be set only before it is drawn again."""
    st.session_state[f"{form}_reset"] = True


def empty_if_asked(form: str, keys: Iterable[str]) -> None:
    """Call before drawing `form`: empties `keys` when empty_on_next_run(form) asked for it."""
    if st.session_state.get(f"{form}_reset"):
        for key in keys:
            st.session_state[key] = ""
        st.session_state[f"{form}_reset"] = False


def logged_in() -> bool:
    return st.session_state.get("client") is not None


def log_in(username: str, password: str) -> None:
    """Keeps the client only when the backend accepts the credentials; raises BackendError/BackendUnavailable."""
    candidate = HiveClient(CONFIG.BACKEND_URL, username, password, timeout=CONFIG.REQUEST_TIMEOUT)
    try:
        candidate.check_login()
    except Exception:
        candidate.close()
        raise
    st.session_state["client"] = candidate
    st.session_state["username"] = username


def log_out() -> None:
    current = st.session_state.get("client")
    if current is not None:
        current.close()
    for key in list(st.session_state.keys()):
        del st.session_state[key]
    init_state()
