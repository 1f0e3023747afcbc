"""Session state, initialised in one place, and the logged-in backend client.

Keys used by one page only carry that page's prefix (`broker_`, `instances_`, `strategies_`, `events_`, `orders_`,
`activity_`).

Logging in opens a backend session (POST /auth/session): the client holds its token, never the password, and the
browser keeps it in a cookie (frontend/session_cookie.py), so a reload or a second tab resumes it (checked with
the backend first) until it expires or Log out ends it, everywhere.
"""
from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any

import streamlit as st

import CONFIG
from backend.client import BackendError, BackendUnavailable, HiveClient
from frontend import offline, session_cookie

DEFAULTS: dict[str, Any] = {
    "client": None,  # HiveClient once logged in, with the session's token
    "username": "",
    "session_expires_at": None,  # epoch s: when the backend session ends
    "session_cookie_write": False,  # logged in here with the password: keep the browser's cookie up to date
    "session_cookie_checked": False,  # the cookie this browser session opened with was looked at
    "session_cookie_clear": None,  # the token of a session that ended, to forget in the browser
    "login_notice": None,  # why the login page is shown again (the session expired...)
    # errors.attempt() / frontend/offline.py: the last good answers, and whether the backend answers
    "backend_answers": {},
    "backend_last_ok": None,
    "backend_down_since": None,
    "backend_banner_shown": False,
    "downloads_held": {},  # frontend/downloads.py: each download button's file, made again at most every 15 s
    # errors.run_action() records each page's last failed action and last success here, and its last action
    "actions_last": None,
    "broker_error": None,
    "broker_notice": None,
    "broker_confirm_stop": False,  # Stop Broker was clicked: its confirmation (naming who is cut off) is shown
    "broker_clients_open": False,  # the connected clients' section is open: only then are they read
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
    "instances_strategy_error": None,  # the strategy controls' last failed action (pages/instances/strategy_controls)
    "instances_strategy_notice": None,
    "instances_strategy_pick": None,  # the strategy id the controls act on
    "instances_create_count": 1,  # strategies in the create form
    "instances_create_pair": "BTC-USDT",
    "instances_create_start": True,
    "instances_create_restart_policy": "on_failure",
    "instances_create_max_retries": 3,
    "instances_create_name": "",
    "instances_create_runtime": "process",
    "instances_create_checked": False,  # Create was tried: each field shows what is wrong with it
    "instances_create_clear": False,  # set by a success: the next run puts the form back to its defaults
    "instances_create_round": 0,  # counts the successes: a strategy's param inputs are new widgets after each
    "instances_startup": None,  # {"name", "since", "final"}: the start-up followed under the form (progress.py)
    "credentials_error": None,
    "credentials_notice": None,
    "credentials_rotated": None,  # the last key rotation's answer, shown until the next save
    "credentials_venue": "binance_testnet",
    "instances_create_credential": "",
    "instances_create_trading": "sim",  # simulated exchange, paper on a live venue, or live
    "instances_create_live_venue": "binance_testnet",
    "instances_create_ccxt_testnet": False,
    "instances_create_confirm": None,  # a live instance's spec, waiting for the operator's confirmation
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
    "strategies_new_name": "",
    "strategies_rename_to": "",
    "strategies_confirm": None,  # (action, strategy, argument) awaiting confirmation: rename, delete or roll back
    "strategies_template": "",  # the configuration template being edited; "" for a new one
    "strategies_template_name": "",
    "strategies_template_open": None,  # the template just saved: opened for editing at the next run
    "strategies_template_confirm_delete": None,  # name of the template whose deletion awaits confirmation
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


def set_on_next_run(key: str, value: Any) -> None:
    """Give widget `key` this value on the next run (set_if_asked applies it right before the widget is drawn):
    setting the key itself now could be undone by a rerun that still carries the browser's old value."""
    st.session_state[f"{key}_next"] = value


def set_if_asked(key: str, allowed: Iterable[Any]) -> None:
    """Call right before drawing widget `key`: applies what set_on_next_run asked for, when it is among `allowed`."""
    wanted = st.session_state.pop(f"{key}_next", None)
    if wanted is not None and wanted in allowed:
        st.session_state[key] = wanted


def logged_in() -> bool:
    return st.session_state.get("client") is not None


def _new_client(token: str) -> HiveClient:
    return HiveClient(CONFIG.BACKEND_URL, token=token, timeout=CONFIG.REQUEST_TIMEOUT)


def _keep(candidate: HiveClient, username: str, expires_at: float) -> None:
    st.session_state["client"] = candidate
    st.session_state["username"] = username
    st.session_state["session_expires_at"] = expires_at
    st.session_state["session_cookie_checked"] = True
    st.session_state["session_cookie_clear"] = None
    st.session_state["login_notice"] = None
    offline.record_ok()


def log_in(username: str, password: str) -> None:
    """Opens a backend session when the backend accepts the credentials; raises BackendError/BackendUnavailable."""
    with_password = HiveClient(CONFIG.BACKEND_URL, username, password, timeout=CONFIG.REQUEST_TIMEOUT)
    try:
        opened = with_password.open_session()
    finally:
        with_password.close()
    _keep(_new_client(opened["token"]), opened["username"], opened["expires_at"])
    st.session_state["session_cookie_write"] = True


def resume_from_cookie() -> None:
    """On a new browser session (reload, second tab): log in with the cookie's session when the backend still
    accepts it. While the backend does not answer it is tried again on every run (the offline banner reruns
    the page when it is back)."""
    if logged_in() or st.session_state["session_cookie_checked"]:
        return
    token = session_cookie.read()
    if token is None:
        st.session_state["session_cookie_checked"] = True
        return
    candidate = _new_client(token)
    try:
        answer = candidate.check_login()
    except BackendUnavailable:
        candidate.close()
        offline.record_down()
        return
    except BackendError as error:
        candidate.close()
        if error.status == 401:
            st.session_state["session_cookie_checked"] = True
            _forget(token, notice_of(error))
        return  # a lock-out (429) or a failing backend: tried again on the next run
    _keep(candidate, answer["username"], answer["expires_at"])


def waiting_for_backend() -> bool:
    """A saved session awaits the backend's word: the backend did not answer yet."""
    return not logged_in() and not st.session_state["session_cookie_checked"] and session_cookie.read() is not None


def draw_cookie() -> None:
    """The browser side of the session: keep its cookie (logged in here), or forget an ended one."""
    current = st.session_state.get("client")
    if current is not None and current.token and st.session_state["session_cookie_write"]:
        session_cookie.write(current.token, st.session_state["session_expires_at"])
    elif st.session_state.get("session_cookie_clear"):
        session_cookie.clear(st.session_state["session_cookie_clear"])


def ended(error: BackendError) -> bool:
    """The backend refuses the session this dashboard logged in with (expired, logged out elsewhere...)."""
    current = st.session_state.get("client")
    return error.status == 401 and current is not None and bool(current.token)


def notice_of(error: BackendError) -> str:
    if error.code == "session_expired":
        return "Your session expired: log in again."
    if error.code == "session_ended":
        return "Your session was logged out (in another tab or window): log in again."
    return f"The backend no longer accepts your session ({error.message})."


def _forget(token: str | None, notice: str | None) -> None:
    """Empty the session state; the browser forgets `token` on the next run; the login page says `notice`.

    The client is dropped, not closed: a live fragment of the page may still hold it for the rest of its run (a
    callback in a fragment reruns only the fragment), and a closed one would fail there with a traceback. Its
    token is refused from now on anyway; its connections close when it is collected."""
    for key in list(st.session_state.keys()):
        del st.session_state[key]
    init_state()
    st.session_state["session_cookie_checked"] = True  # this browser session's cookies are read only once
    st.session_state["session_cookie_clear"] = token
    st.session_state["login_notice"] = notice


def expire(error: BackendError) -> None:
    """The backend ended the session (see ended()): back to the login page, which says why."""
    current = st.session_state.get("client")
    _forget(current.token if current is not None else None, notice_of(error))


def log_out() -> None:
    """End the session at the backend (everywhere it is used) and here."""
    current = st.session_state.get("client")
    notice = None
    if current is not None and current.token:
        try:
            current.end_session()
        except BackendUnavailable:
            notice = ("Logged out here, but the backend did not answer, so the session could not be ended there: "
                      "it ends by itself at its expiry.")
        except BackendError:
            pass  # already ended or expired: nothing left to end
    _forget(current.token if current is not None else None, notice)
