"""One strategy of the selected instance at a time: stop, resume, change its params, hot-reload a version of its
code, and its history (who did which of these, when, and how it ended), without restarting the instance."""
from __future__ import annotations

from typing import Any

import streamlit as st

from backend.client import HiveClient
from frontend import errors, tables
from frontend import format as fmt
from frontend.schema_form import param_inputs

PREFIX = "instances_strategy"
HISTORY_SHOWN = 50


def stop(client: HiveClient, name: str, strategy: str) -> None:
    errors.run_action(PREFIX, f"stop {strategy}", client.stop_strategy, name, strategy,
                      notice=f"Stopping {strategy}; the other strategies run on")


def resume(client: HiveClient, name: str, strategy: str) -> None:
    errors.run_action(PREFIX, f"resume {strategy}", client.resume_strategy, name, strategy,
                      notice=f"{strategy} resumed")


def reload(client: HiveClient, name: str, strategy: str, version_key: str | None) -> None:
    """The version picked now (read from the session, as the broker page's callbacks do), None for a shipped one."""
    version = st.session_state.get(version_key) if version_key else None
    words = f" to version {version}" if version else ""
    errors.run_action(PREFIX, f"reload {strategy}{words}", client.reload_strategy, name, strategy, version,
                      notice=f"{strategy} reloaded{words}; its PnL and state are kept")


def _prefilled(schema: dict, params: dict[str, Any]) -> dict:
    """The params schema with each property's default replaced by the strategy's current value."""
    properties = {key: {**prop, "default": params[key]} if key in params else prop
                  for key, prop in (schema.get("properties") or {}).items()}
    return {**schema, "properties": properties}


def _params_form(client: HiveClient, name: str, item: dict, schema: dict) -> None:
    if not schema.get("properties"):
        st.caption("This strategy declares no parameters.")
        return
    key = f"instances_strategy_params_{name}_{item['id']}"
    with st.form(key, border=False):
        values = param_inputs(_prefilled(schema, item.get("params", {})), key)
        submitted = st.form_submit_button("Apply parameters")
    if not submitted:
        return
    current = {key: prop.get("default") for key, prop in schema["properties"].items()} | item.get("params", {})
    changed = {key: value for key, value in values.items() if current.get(key) != value}
    if not changed:
        st.info("Nothing changed: every value is the one it runs with.")
        return
    words = ", ".join(f"{key} = {value}" for key, value in changed.items())
    errors.run_action(PREFIX, f"change the parameters of {item['id']}", client.change_strategy_params, name,
                      item["id"], changed, notice=f"{item['id']}: {words}")
    st.rerun()


def _reload(client: HiveClient, name: str, item: dict, detail: dict, live: bool) -> None:
    versions = sorted((entry["version"] for entry in detail.get("versions") or []), reverse=True)
    running = f"version {item['version']}" if item.get("version") else "the shipped code"
    pick, button = st.columns([2, 1], vertical_alignment="bottom")
    version_key = None
    if detail.get("kind") == "uploaded" and versions:
        version_key = f"instances_strategy_version_{name}_{item['id']}"
        pick.selectbox(f"Version of {item['strategy']} (runs {running} now)", versions, index=0, key=version_key,
                       help="the library's versions, newest first; the reload keeps its state, orders and PnL")
    else:
        pick.caption(f"{item['strategy']} is a shipped example: a reload loads its code again ({running}).")
    button.button("Reload code", key=f"instances_strategy_reload_{item['id']}", disabled=not live,
                  on_click=reload, args=(client, name, item["id"], version_key))


def strategy_controls(client: HiveClient, instance: dict) -> None:
    """Controls of one strategy of `instance` (picked here) and its history."""
    strategies = instance.get("strategies") or []
    if instance.get("runtime") == "external":
        st.caption("Strategy controls (stop or resume one strategy, its parameters, its code's versions) are for the "
                   "instances Hive runs: an external bot's strategies and their files are its own. Start or stop its "
                   "strategy with the buttons above.")
        return
    if not strategies:
        return
    name = instance["name"]
    st.markdown("**Strategy controls**")
    live = instance["state"] == "running"
    if not live:
        st.caption("The instance is not running: its strategies can be controlled once it runs.")
    ids = [item["id"] for item in strategies]
    if st.session_state.get("instances_strategy_pick") not in ids:
        st.session_state["instances_strategy_pick"] = ids[0]
    picked = st.selectbox("Strategy to control", ids, key="instances_strategy_pick")
    item = next(entry for entry in strategies if entry["id"] == picked)
    version = f" version {item['version']}" if item.get("version") else ""
    st.caption(f"{item['strategy']}{version} · {item.get('status') or 'status unknown'}")
    buttons = st.container(horizontal=True)
    buttons.button("Stop strategy", key="instances_strategy_stop", disabled=not live or item.get("status") == "stopped",
                   on_click=stop, args=(client, name, picked))
    buttons.button("Resume strategy", key="instances_strategy_resume",
                   disabled=not live or item.get("status") == "running", on_click=resume, args=(client, name, picked))
    errors.show_feedback(PREFIX)
    detail = errors.attempt(f"read the strategy {item['strategy']}", client.get_strategy, item["strategy"])
    if detail is not None:
        _reload(client, name, item, detail, live)
        with st.expander("Change parameters"):
            _params_form(client, name, item, detail.get("params_schema") or {})
    st.caption(f"History of {picked}")
    history = errors.attempt(f"read the history of {picked}", client.strategy_history, name, picked, HISTORY_SHOWN)
    if history:
        last = history[0]
        st.caption(f"Last: {last['detail']} · {last['outcome']} · by {last['actor']} at {fmt.clock(last['ts'])}")
    if history is not None:
        tables.show_table(tables.commands_frame(history), "No stop, resume, parameter change or reload yet.",
                          key="instances_strategy_history", height=200)
