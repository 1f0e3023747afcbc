"""Broker page: start/stop the MQTT broker every instance meets at, and watch its health live."""
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

    chosen_port = st.number_input("Port", min_value=1, max_value=65535, value=port, step=1, key="broker_port",
                                  disabled=active, width=200,
                                  help="where the embedded broker listens; the default is the setting HIVE_BROKER_PORT")
    buttons = st.container(horizontal=True)
    buttons.button("Start Broker", key="broker_start", type="primary", disabled=active,
                   on_click=actions.start, args=(client, int(chosen_port)))
    buttons.button("Stop Broker", key="broker_stop", disabled=status["state"] == "stopped",
                 on_click=actions.stop, args=(client,))
    errors.show_feedback(actions.PREFIX)
    if actions.port_taken():
        st.button(f"Use the broker already at {host}:{port}", key="broker_use_external",
                  on_click=actions.use_external, args=(client, host, port))

    badges.state_badge(status["state"], status.get("reason", ""), key="broker_state")
    kind = "embedded" if status["kind"] == "embedded" else "external (connect only)"
    fleet = "connected" if status.get("fleet_connected") else "not connected"
    st.caption(f"{kind} broker · the backend's fleet connection is {fleet}")

    address, clients, throughput, uptime = st.columns([2, 1, 1, 1])
    address.metric("Address", f"{host}:{port}", border=True)
    clients.metric("Connected clients", fmt.count(status.get("clients_connected")), border=True)
    throughput.metric("Messages", fmt.rate(status.get("messages_per_s")), border=True)
    uptime.metric("Uptime", fmt.duration(status.get("uptime_s")), border=True)
    resource_metrics("broker", status.get("cpu_percent"), status.get("memory_bytes"))


broker_panel()
