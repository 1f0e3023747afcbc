"""Button callbacks of the instances page: lifecycle commands (one instance, or the table's selection at once),
the delete and bulk confirmations, and acknowledging alerts."""
from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import streamlit as st

from backend.client import HiveClient
from frontend import errors

PREFIX = "instances"
BULK_WORKERS = 8  # instances acted on at once: a stop waits for its process, so they go in parallel
BULK = {"start": "Started", "stop": "Stopped", "restart": "Restarted"}  # action -> its past, for the report
CONFIRM_ABOVE = 1  # stop and restart of more instances than this ask first


def start(client: HiveClient, name: str) -> None:
    errors.run_action(PREFIX, f"start {name}", client.start_instance, name, notice=f"Starting {name}")


def stop(client: HiveClient, name: str) -> None:
    errors.run_action(PREFIX, f"stop {name}", client.stop_instance, name, notice=f"Stopping {name}")


def restart(client: HiveClient, name: str) -> None:
    errors.run_action(PREFIX, f"restart {name}", client.restart_instance, name, notice=f"Restarting {name}")


def command(client: HiveClient, name: str, command: str) -> None:
    """Send `command` to a bot (an external one's start and stop); an error reply shows as the failure, in its
    words."""
    errors.run_action(PREFIX, f"{command} {name}", client.command, name, command,
                      notice=f"{name} accepted {command}")


def delete_blocked(instance: dict) -> str | None:
    """Why the instance cannot be deleted now, in words (the Delete button's help); None when it can."""
    if instance["state"] in ("starting", "running", "stopping"):
        return f"{instance['name']} is {instance['state']}: stop it first (its process must end before it is deleted)"
    if instance["runtime"] == "external":
        return f"{instance['name']} is an external bot: the backend did not create it, so it cannot delete it"
    return None


def ask_delete(name: str) -> None:
    st.session_state["instances_confirm_delete"] = name


def cancel_delete() -> None:
    st.session_state["instances_confirm_delete"] = None


def delete(client: HiveClient, name: str) -> None:
    st.session_state["instances_confirm_delete"] = None
    errors.run_action(PREFIX, f"delete {name}", client.delete_instance, name, notice=f"Deleted {name}")


# --- the table's selection at once ---------------------------------------------------------------
def ask_bulk(client: HiveClient, action: str, names: list[str], external: list[str]) -> None:
    """Start at once; stop or restart several only once confirmed. `external`: those of `names` that are external
    bots (their strategy is started and stopped by command: their process is not Hive's)."""
    if action != "start" and len(names) > CONFIRM_ABOVE:
        st.session_state["instances_confirm_bulk"] = {"action": action, "names": list(names),
                                                      "external": list(external)}
    else:
        bulk(client, action, names, external)


def cancel_bulk() -> None:
    st.session_state["instances_confirm_bulk"] = None


def bulk(client: HiveClient, action: str, names: list[str], external: list[str]) -> None:
    """Run `action` on every instance named, in parallel (an external bot's strategy by its start and stop commands);
    the report says which worked and, in words, why the others did not."""
    st.session_state["instances_confirm_bulk"] = None
    call: Callable[[str], object] = {"start": client.start_instance, "stop": client.stop_instance,
                                     "restart": client.restart_instance}[action]
    commands = {"start": ("start",), "stop": ("stop",), "restart": ("stop", "start")}[action]

    def attempt(name: str) -> str | None:
        try:
            if name in external:
                for command in commands:
                    client.command(name, command)
            else:
                call(name)
        except errors.FAILURES as error:
            what, todo = errors.explain(error)
            return f"{what} {todo}".strip()
        return None

    with ThreadPoolExecutor(max_workers=min(BULK_WORKERS, len(names) or 1)) as pool:
        outcomes = dict(zip(names, pool.map(attempt, names), strict=True))
    st.session_state["instances_bulk_result"] = {
        "action": action, "done": [name for name, failure in outcomes.items() if failure is None],
        "failed": {name: failure for name, failure in outcomes.items() if failure is not None}}


def dismiss_bulk_result() -> None:
    st.session_state["instances_bulk_result"] = None


# --- alerts --------------------------------------------------------------------------------------
def acknowledge(client: HiveClient, alert_id: int) -> None:
    errors.run_action(PREFIX, f"acknowledge alert {alert_id}", client.acknowledge_alert, alert_id)


def acknowledge_all(client: HiveClient) -> None:
    errors.run_action(PREFIX, "acknowledge the alerts", client.acknowledge_alerts, notice="Alerts acknowledged")
