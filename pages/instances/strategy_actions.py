"""Button callbacks of the strategies page: new, rename, delete and roll back (the last three confirmed first),
and the configuration templates' delete."""
from __future__ import annotations

from typing import Any

import streamlit as st

from backend.client import HiveClient
from frontend import errors, session

PREFIX = "strategies"


def open_in_editor(name: str) -> None:
    """Show strategy `name` in the editor on the next run."""
    session.set_on_next_run("strategies_selected", name)


def new(client: HiveClient) -> None:
    name = st.session_state["strategies_new_name"].strip()
    made = errors.run_action(PREFIX, f"create {name or 'a strategy without a name'}", client.new_strategy, name,
                             notice=f"Created {name} from the starter template")
    if made is not None:
        open_in_editor(made["name"])
        st.session_state["strategies_new_name"] = ""


def ask(action: str, name: str, argument: Any = None) -> None:
    """Ask for the confirmation of `action` ("rename", "delete" or "restore") on strategy `name`."""
    if action == "rename":
        argument = st.session_state["strategies_rename_to"].strip()
    st.session_state["strategies_confirm"] = (action, name, argument)


def cancel() -> None:
    st.session_state["strategies_confirm"] = None


def confirmed(client: HiveClient) -> None:
    asked = st.session_state["strategies_confirm"]
    st.session_state["strategies_confirm"] = None
    if asked is None:
        return
    action, name, argument = asked
    if action == "rename":
        renamed = errors.run_action(PREFIX, f"rename {name} to {argument}", client.rename_strategy, name, argument,
                                    notice=f"Renamed {name} to {argument}")
        if renamed is not None:
            open_in_editor(renamed["name"])
            st.session_state["strategies_rename_to"] = ""
    elif action == "delete":
        errors.run_action(PREFIX, f"delete {name}", client.delete_strategy, name, notice=f"Deleted {name}")
    elif action == "restore":
        restored = errors.run_action(PREFIX, f"roll {name} back to version {argument}",
                                     client.restore_strategy_version, name, argument)
        if restored is not None:
            st.session_state["strategies_notice"] = (f"Rolled {name} back: version {restored['version']} has the "
                                                     f"source of version {argument}")


def ask_delete_template(name: str) -> None:
    st.session_state["strategies_template_confirm_delete"] = name


def cancel_delete_template() -> None:
    st.session_state["strategies_template_confirm_delete"] = None


def delete_template(client: HiveClient, name: str) -> None:
    st.session_state["strategies_template_confirm_delete"] = None
    errors.run_action(PREFIX, f"delete the template {name}", client.delete_config, name,
                      notice=f"Deleted the template {name}")
    if errors.recorded_error(PREFIX) is None:
        st.session_state["strategies_template"] = ""
