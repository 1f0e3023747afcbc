"""The alerts not acknowledged yet, at the top of the Instances page: an instance crashed, went into error, was
restarted by the supervisor, or used up its restarts."""
from __future__ import annotations

import streamlit as st

import CONFIG
from backend.client import HiveClient
from frontend import errors
from frontend import format as fmt
from pages.instances import actions

SHOWN = 5  # the newest alerts listed; the others are counted
WORDS = {"crash": "crashed", "error": "went into error", "restart": "was restarted", "gave_up": "used up its restarts"}


@st.fragment(run_every=CONFIG.REFRESH_SECONDS)
def alerts_section(client: HiveClient) -> None:
    alerts = errors.attempt("read the alerts", client.alerts, SHOWN + 1, True)
    if not alerts:
        return
    with st.container(border=True, key="instances_alerts"):
        more = len(alerts) > SHOWN
        st.markdown(f"**{'More than ' if more else ''}{min(len(alerts), SHOWN)} unacknowledged "
                    f"alert{'' if len(alerts) == 1 else 's'}**")
        for alert in alerts[:SHOWN]:
            line, button = st.columns([8, 1], vertical_alignment="center")
            text = f"{fmt.clock(alert['ts'])} · **{alert['instance']}** {WORDS[alert['kind']]}: {alert['message']}"
            if alert["kind"] == "restart":
                line.warning(text, icon=":material/restart_alt:")
            else:
                line.error(text, icon=":material/error:")
            button.button("Acknowledge", key=f"instances_alert_ack_{alert['id']}",
                          on_click=actions.acknowledge, args=(client, alert["id"]))
        if len(alerts) > 1:
            st.button("Acknowledge all", key="instances_alerts_ack_all", on_click=actions.acknowledge_all,
                      args=(client,))
