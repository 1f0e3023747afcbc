"""Button callbacks of the broker page: call the backend, record the outcome for the panel to show."""
from __future__ import annotations

import streamlit as st

from backend.client import HiveClient
from frontend import errors, session

PREFIX = "broker"
_WILDCARD_HOSTS = {"", "0.0.0.0", "::", "[::]"}
CHOICES = {"Embedded": "embedded", "Container (Mosquitto)": "container", "External": "external"}
ROLES = {"Bot (one bot id's topics)": "bot", "Controller (every topic)": "controller"}
LOGIN_FORM = "broker_login"
LOGIN_INPUTS = ("broker_login_username", "broker_login_bot")


def reachable_host(host: str) -> str:
    """A broker listening on every interface is reached on loopback from here."""
    return "127.0.0.1" if host in _WILDCARD_HOSTS else host


def start(client: HiveClient, port: int, kind: str = "embedded") -> None:
    notice = "Broker started" if kind == "embedded" else "Broker container starting"
    errors.run_action(PREFIX, "start the broker", client.start_broker, port, kind, notice=notice)


def ask_stop() -> None:
    st.session_state["broker_confirm_stop"] = True


def cancel_stop() -> None:
    st.session_state["broker_confirm_stop"] = False


def stop(client: HiveClient) -> None:
    st.session_state["broker_confirm_stop"] = False
    errors.run_action(PREFIX, "stop the broker", client.stop_broker, notice="Broker stopped")


def cut_off(instances: list[dict]) -> str:
    """What stopping the broker does to the instances, in words: how many it cuts off, and which."""
    live = [item["name"] for item in instances if item["state"] in ("starting", "running")]
    if not live:
        return "No instance is running: none is cut off."
    names = ", ".join(live[:10]) + (f" and {len(live) - 10} more" if len(live) > 10 else "")
    return (f"It cuts off **{len(live)} running instance{'' if len(live) == 1 else 's'}** ({names}): they keep "
            "running but can neither report nor be commanded until a broker runs again.")


def use_external(client: HiveClient, host: str, port: int, username: str | None = None,
                 password: str | None = None) -> None:
    errors.run_action(PREFIX, f"use the broker at {host}:{port}", client.use_external_broker, host, port,
                      username, password, notice=f"Using the broker at {host}:{port}")


def connect_external(client: HiveClient) -> None:
    """The external broker as the form holds it now: read from the session, since a click right after typing may
    come before the rerun that would pass the new values as arguments."""
    state = st.session_state
    use_external(client, state["broker_ext_host"].strip(), int(state["broker_ext_port"]),
                 state.get("broker_ext_username") or None, state.get("broker_ext_password") or None)


def create_login(client: HiveClient) -> None:
    """The extra login as the form holds it now (see connect_external); its password is kept to be shown once."""
    state = st.session_state
    role = ROLES[state["broker_login_role"]]
    bot_id = (state.get("broker_login_bot") or "").strip() if role == "bot" else None
    username = state["broker_login_username"].strip()
    created = errors.run_action(PREFIX, f"create the broker login {username}", client.create_broker_login,
                                username, role, bot_id or None,
                                notice=f"Broker login {username} created; copy its password now, it is shown once")
    state["broker_login_created"] = created
    if created is not None:
        session.empty_on_next_run(LOGIN_FORM)


def revoke_login(client: HiveClient) -> None:
    """The login picked now (see connect_external), not the one of the last rerun."""
    username = st.session_state["broker_login_revoke_pick"]
    errors.run_action(PREFIX, f"revoke the broker login {username}", client.revoke_broker_login, username,
                      notice=f"Broker login {username} revoked")
    created = st.session_state.get("broker_login_created")
    if created and created["username"] == username:
        st.session_state["broker_login_created"] = None


def forget_created_login() -> None:
    st.session_state["broker_login_created"] = None


def anonymous_warning(status: dict) -> str | None:
    """What to say when the broker in use takes clients without a login."""
    if not status.get("anonymous_allowed"):
        return None
    todo = ("install Hive's logins and ACL on it (below)" if status["kind"] == "external"
            else "stop it and start it again, so that it runs with Hive's logins")
    return (f"**This broker accepts clients without a login**: any process that reaches it can read every bot's "
            f"messages and command every bot. To close it, {todo}.")


def authentication(status: dict) -> str:
    """How the broker in use authenticates its clients, in words."""
    if status.get("anonymous_allowed"):
        return "**Authentication: none.** The broker accepts clients without a login."
    if status["kind"] == "external":
        backend = "with the login given above" if status.get("login_required") else "without a login"
        checked = ("it refuses clients without a login" if status.get("anonymous_allowed") is False
                   else "whether it refuses clients without a login is not known yet")
        return f"**Authentication:** the backend connects {backend}; {checked}."
    return ("**Authentication: logins required.** Every client logs in with a login of its own (none shown here "
            "but at its creation); the ACL keeps each instance and bot login to its own bot's topics.")


def describe(status: dict) -> str:
    """The broker's kind, its container and health, and the backend's connection, in one line."""
    fleet = "connected" if status.get("fleet_connected") else "not connected"
    if status["kind"] == "container":
        container = (status.get("container_id") or "")[:12]
        what = f"Mosquitto container {container} ({status.get('image')})" if container else "Mosquitto container"
    else:
        what = "embedded broker" if status["kind"] == "embedded" else "external broker (connect only)"
    login = " · login required" if status.get("login_required") else ""
    health = f" · {status['health']}" if status.get("health") else ""
    return f"{what}{health}{login} · the backend's fleet connection is {fleet}"


def port_taken() -> bool:
    """The last Start failed because something else listens on the broker port."""
    error = errors.recorded_error(PREFIX)
    return getattr(error, "code", None) == "port_in_use"
