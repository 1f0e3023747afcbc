"""Button callbacks of the events page: call the backend, record the outcome for the page to show."""
from __future__ import annotations

import json

import streamlit as st

from backend.client import BackendError, HiveClient
from frontend import errors

PREFIX = "events"


def _targets(all_bots: bool, chosen: list[str]) -> list[str] | str:
    return "all" if all_bots else list(chosen)


def publish(client: HiveClient, source: str) -> None:
    """The event as the inputs hold it now: a click right after typing may come before the rerun that would have
    handed the new values over as arguments (a busy machine), so they are read from the session here."""
    state = st.session_state
    name, source = state["events_name"], state.get("events_data") or source
    try:
        data = json.loads(source or "{}")
    except ValueError as error:
        state[f"{PREFIX}_error"] = {"action": "publish the event",
                                    "error": BackendError(422, f"the data is not valid JSON: {error}")}
        return
    if not isinstance(data, dict):
        state[f"{PREFIX}_error"] = {"action": "publish the event",
                                    "error": BackendError(422, "the data must be a JSON object {...}")}
        return
    event = errors.run_action(PREFIX, "publish the event", client.publish_event, name.strip(), data,
                              _targets(state["events_all"], state.get("events_targets") or []))
    if event is not None:
        published = sum(1 for v in event["deliveries"].values() if v == "published")
        targets = len(event["targets"])
        state[f"{PREFIX}_notice"] = f"Event {event['name']} published to {published} of {targets} bot(s)"


def create_webhook(client: HiveClient) -> None:
    """The webhook as the inputs hold it now (see publish)."""
    state = st.session_state
    spec = {"event": state["events_hook_event"].strip(),
            "targets": _targets(state["events_hook_all"], state.get("events_hook_targets") or [])}
    if (hook := (state.get("events_hook_id") or "").strip()):
        spec["hook"] = hook
    if state.get("events_hook_tv"):
        spec["allow_ips"] = client.tradingview_ips()
    created = errors.run_action(PREFIX, "create the webhook", client.create_webhook, spec,
                                notice="Webhook created; copy its secret now, it is shown only once")
    state["events_created_hook"] = created


def delete_webhook(client: HiveClient, hook: str) -> None:
    errors.run_action(PREFIX, f"delete webhook {hook}", client.delete_webhook, hook, notice=f"Webhook {hook} deleted")
    created = st.session_state.get("events_created_hook")
    if created and created["hook"] == hook:
        st.session_state["events_created_hook"] = None
