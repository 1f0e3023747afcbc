"""Button callbacks of the events page: call the backend, record the outcome for the page to show."""
from __future__ import annotations

import json

import streamlit as st

from backend.client import BackendError, HiveClient
from frontend import errors

PREFIX = "events"


def _targets(all_bots: bool, chosen: list[str]) -> list[str] | str:
    return "all" if all_bots else list(chosen)


def publish(client: HiveClient, name: str, source: str, all_bots: bool, chosen: list[str]) -> None:
    try:
        data = json.loads(source or "{}")
    except ValueError as error:
        st.session_state[f"{PREFIX}_error"] = {"action": "publish the event",
                                               "error": BackendError(422, f"the data is not valid JSON: {error}")}
        return
    if not isinstance(data, dict):
        st.session_state[f"{PREFIX}_error"] = {"action": "publish the event",
                                               "error": BackendError(422, "the data must be a JSON object {...}")}
        return
    event = errors.run_action(PREFIX, "publish the event", client.publish_event, name.strip(), data,
                              _targets(all_bots, chosen))
    if event is not None:
        published = sum(1 for v in event["deliveries"].values() if v == "published")
        targets = len(event["targets"])
        st.session_state[f"{PREFIX}_notice"] = f"Event {event['name']} published to {published} of {targets} bot(s)"


def create_webhook(client: HiveClient, hook: str, event: str, all_bots: bool, chosen: list[str],
                   tradingview_only: bool) -> None:
    spec = {"event": event.strip(), "targets": _targets(all_bots, chosen)}
    if hook.strip():
        spec["hook"] = hook.strip()
    if tradingview_only:
        spec["allow_ips"] = client.tradingview_ips()
    created = errors.run_action(PREFIX, "create the webhook", client.create_webhook, spec,
                                notice="Webhook created; copy its secret now, it is shown only once")
    st.session_state["events_created_hook"] = created


def delete_webhook(client: HiveClient, hook: str) -> None:
    errors.run_action(PREFIX, f"delete webhook {hook}", client.delete_webhook, hook, notice=f"Webhook {hook} deleted")
    created = st.session_state.get("events_created_hook")
    if created and created["hook"] == hook:
        st.session_state["events_created_hook"] = None
