"""Events page: publish an external event to bots, set up TradingView webhooks, and watch the event log live."""
from __future__ import annotations

import datetime
import json

import pandas as pd
import streamlit as st
from streamlit_ace import st_ace

import CONFIG
from frontend import errors, session
from pages.events import actions

client = session.client()

st.title("Events")
st.caption("External events reach the strategies that listen for them (docs/protocol.md: P/external/event/...). "
           "Publish one here, or let a TradingView alert send it through a webhook.")
errors.show_feedback(actions.PREFIX)

instances = errors.attempt("list the instances", client.list_instances) or []
names = [i["name"] for i in instances]

# --- publish ---------------------------------------------------------------------------------------
st.subheader("Publish an event")
name_col, targets_col = st.columns([1, 2])
event_name = name_col.text_input("Event name", key="events_name", help="dotted, e.g. tv.signal.buy")
all_bots = targets_col.checkbox("All bots", key="events_all")
targets_col.multiselect("Targets", names, key="events_targets", disabled=all_bots)
st.caption("Data (a JSON object)")
source = st_ace(value='{\n  "side": "buy"\n}', language="json", theme="chrome", min_lines=4, max_lines=15,
                key="events_data", auto_update=True)
st.button("Publish event", key="events_publish", type="primary", disabled=not event_name.strip(),
          on_click=actions.publish, args=(client, source))

# --- webhooks --------------------------------------------------------------------------------------
st.subheader("TradingView webhooks")
created = st.session_state.get("events_created_hook")
if created:
    url = CONFIG.BACKEND_URL.rstrip("/") + created["path"]
    st.success(f"Webhook **{created['hook']}** created. Its secret is shown only now.")
    st.caption("Webhook URL for the TradingView alert (the backend must be reachable from the internet):")
    st.code(url, language=None)
    st.caption("Alert message (the secret is in it; TradingView fills the {{...}} placeholders):")
    st.code(created["alert_template"], language="json")

with st.expander("New webhook"):
    hook_col, hook_event_col = st.columns(2)
    hook_col.text_input("Webhook id", key="events_hook_id", placeholder="generated when empty")
    hook_event = hook_event_col.text_input("Event name", key="events_hook_event")
    hook_all = st.checkbox("All bots", key="events_hook_all")
    st.multiselect("Targets", names, key="events_hook_targets", disabled=hook_all)
    st.checkbox("Accept calls only from TradingView's addresses", key="events_hook_tv",
                                   help="52.89.214.238, 34.212.75.30, 54.218.53.128, 52.32.178.7")
    st.button("Create webhook", key="events_hook_create", disabled=not hook_event.strip(),
              on_click=actions.create_webhook, args=(client,))

hooks = errors.attempt("list the webhooks", client.list_webhooks) or []
if hooks:
    st.dataframe(pd.DataFrame([{
        "Webhook": h["hook"], "Event": h["event"],
        "Targets": "all" if h["targets"] == "all" else ", ".join(h["targets"]),
        "Allowlist": ", ".join(h["allow_ips"]) or "any sender", "URL": CONFIG.BACKEND_URL.rstrip("/") + h["path"],
    } for h in hooks]), hide_index=True, key="events_hooks_table")
    delete_col, button_col = st.columns([2, 1], vertical_alignment="bottom")
    doomed = delete_col.selectbox("Webhook", [h["hook"] for h in hooks], key="events_hook_delete_choice")
    button_col.button("Delete webhook", key="events_hook_delete", on_click=actions.delete_webhook,
                      args=(client, doomed))
else:
    st.caption("No webhooks yet.")


# --- live log --------------------------------------------------------------------------------------
@st.fragment(run_every=CONFIG.REFRESH_SECONDS)
def event_log() -> None:
    st.subheader("Event log")
    events = errors.attempt("read the event log", client.list_events, 100)
    if events is None:
        return
    if not events:
        st.caption("No events yet.")
        return
    latest = events[0]
    delivered = sum(1 for v in latest["deliveries"].values() if v == "published")
    st.caption(f"Latest: {latest['name']} from {latest['sender']}, "
               f"published to {delivered} of {len(latest['targets'])} bot(s)", help="newest first below")
    st.dataframe(pd.DataFrame([{
        "Time": datetime.datetime.fromtimestamp(e["ts"]).strftime("%Y-%m-%d %H:%M:%S"), "Event": e["name"],
        "Sender": e["sender"], "Targets": ", ".join(e["targets"]) or "none",
        "Delivery": ", ".join(f"{t}: {v}" for t, v in e["deliveries"].items()) or "no bot to deliver to",
        "Data": json.dumps(e["data"]),
    } for e in events]), hide_index=True, key="events_log_table")


event_log()
