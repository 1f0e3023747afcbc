"""Broker page: choose and start the MQTT broker every instance meets at (embedded, a Mosquitto container, or an
external one), stop it, and watch its health, clients and log live."""
from __future__ import annotations

import streamlit as st

import CONFIG
from frontend import badges, errors, session
from frontend import format as fmt
from frontend.resources import resource_metrics
from pages.broker import actions

client = session.client()

st.title("Broker")
st.caption("The MQTT broker every instance connects to. Start it before creating instances.")


@st.fragment(run_every=CONFIG.REFRESH_SECONDS)
def broker_panel() -> None:
    status = errors.attempt("read the broker's state", client.broker_status)
    if status is None:
        return
    active = status["state"] in ("running", "starting")
    host, port = actions.reachable_host(status["host"]), status["port"]

    choice = st.radio("Broker", list(actions.CHOICES), key="broker_kind", horizontal=True, disabled=active,
                      index=list(actions.CHOICES.values()).index(status["kind"]),
                      help="Embedded: amqtt in a process of its own. Container: Mosquitto on the local Docker "
                           "engine, with a generated password. External: a broker someone else runs.")
    kind = actions.CHOICES[choice]
    if kind == "external":
        external_form(active, host, port)
    else:
        chosen_port = st.number_input("Port", min_value=1, max_value=65535, value=port, step=1, key="broker_port",
                                      disabled=active, width=200,
                                      help="where the broker listens; the default is the setting HIVE_BROKER_PORT")
    buttons = st.container(horizontal=True)
    if kind != "external":
        buttons.button("Start Broker", key="broker_start", type="primary", disabled=active,
                       on_click=actions.start, args=(client, int(chosen_port), kind))
    buttons.button("Stop Broker", key="broker_stop", disabled=status["state"] == "stopped",
                   on_click=actions.stop, args=(client,))
    errors.show_feedback(actions.PREFIX)
    if actions.port_taken():
        st.button(f"Use the broker already at {host}:{port}", key="broker_use_external",
                  on_click=actions.use_external, args=(client, host, port))

    badges.state_badge(status["state"], status.get("reason", ""), key="broker_state")
    st.caption(actions.describe(status))

    address, clients, throughput, uptime = st.columns([2, 1, 1, 1])
    address.metric("Address", f"{host}:{port}", border=True)
    clients.metric("Connected clients", fmt.count(status.get("clients_connected")), border=True)
    throughput.metric("Messages", fmt.rate(status.get("messages_per_s")), border=True)
    uptime.metric("Uptime", fmt.duration(status.get("uptime_s")), border=True)
    resource_metrics("broker", status.get("cpu_percent"), status.get("memory_bytes"))
    if status["kind"] != "external" and status["state"] != "stopped":
        with st.expander("Broker log"):
            broker_log = errors.attempt("read the broker's log", client.broker_log, CONFIG.LOG_LINES)
            if broker_log is not None:
                st.code("\n".join(broker_log["lines"]) or "(nothing logged yet)", language=None, height=300)


def external_form(active: bool, host: str, port: int) -> None:
    """Where the external broker is, and its login when it needs one (sent once, kept encrypted, never shown)."""
    where, at = st.columns([3, 1])
    ext_host = where.text_input("Host", value=host, key="broker_ext_host", disabled=active)
    at.number_input("Port", min_value=1, max_value=65535, value=port, step=1, key="broker_ext_port",
                    disabled=active)
    user, secret = st.columns(2)
    user.text_input("Username", key="broker_ext_username", disabled=active,
                    help="leave empty for a broker that takes anonymous clients")
    secret.text_input("Password", type="password", key="broker_ext_password", disabled=active)
    st.button("Connect", key="broker_connect", type="primary", disabled=active or not ext_host,
              on_click=actions.connect_external, args=(client,))


broker_panel()
