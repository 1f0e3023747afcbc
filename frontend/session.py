"""Session state, initialised in one place, and the logged-in backend client.

Keys used by one page only carry that page's prefix (`broker_`, `instances_`, `strategies_`, `events_`).
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
    "instances_error": None,
    "instances_notice": None,
    "instances_selected": None,
    # the fleet table (pages/instances/fleet.py): filters, sort, the rows' names as last drawn, the bulk actions
    "instances_filter_states": [],
    "instances_filter_runtime": "all",
    "instances_filter_host": "all",
    "instances_filter_text": "",
    "instances_sort": "name",
    "instances_sort_descending": False,
    "instances_table_names": [],
    "instances_picked": [],  # the names selected in the table, kept when the rows move
    "instances_confirm_bulk": None,  # {"action", "names"} of a bulk stop/restart awaiting confirmation
    "instances_bulk_result": None,  # {"action", "done": [names], "failed": {name: words}} of the last bulk action
    "instances_confirm_delete": None,  # name of the instance whose deletion awaits confirmation
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
