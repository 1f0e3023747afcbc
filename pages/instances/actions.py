"""Button callbacks of the instances page: lifecycle commands and the delete confirmation."""
from __future__ import annotations

import streamlit as st

from backend.client import HiveClient
from frontend import errors

PREFIX = "instances"


def start(client: HiveClient, name: str) -> None:
    errors.run_action(PREFIX, f"start {name}", client.start_instance, name, notice=f"Starting {name}")


def stop(client: HiveClient, name: str) -> None:
    errors.run_action(PREFIX, f"stop {name}", client.stop_instance, name, notice=f"Stopping {name}")


def restart(client: HiveClient, name: str) -> None:
    errors.run_action(PREFIX, f"restart {name}", client.restart_instance, name, notice=f"Restarting {name}")


def ask_delete(name: str) -> None:
    st.session_state["instances_confirm_delete"] = name


def cancel_delete() -> None:
    st.session_state["instances_confirm_delete"] = None


def delete(client: HiveClient, name: str) -> None:
    st.session_state["instances_confirm_delete"] = None
    errors.run_action(PREFIX, f"delete {name}", client.delete_instance, name, notice=f"Deleted {name}")
