"""Configuration templates: a strategy's params saved under a name (Hummingbot-style script configs, stored by
the backend at /scripts/configs), made and edited with the form built from the strategy's params schema; the
Create Instance form offers them."""
from __future__ import annotations

import copy
from typing import Any

import streamlit as st

from backend.client import HiveClient
from frontend import errors, session, tables
from frontend.schema_form import param_inputs
from pages.instances import strategy_actions as actions

STRATEGY_KEYS = ("script_file_name", "controller_name")  # where a config names its strategy (Hummingbot's keys)


def strategy_of(config: dict[str, Any]) -> str:
    script = next((config[key] for key in STRATEGY_KEYS if config.get(key)), "")
    return str(script).removesuffix(".py")


def settings_of(config: dict[str, Any]) -> dict[str, Any]:
    """Everything but the strategy's name: its params (and, in a config Hummingbot wrote, its other settings)."""
    return {key: value for key, value in config.items() if key not in STRATEGY_KEYS}


def templates_section(client: HiveClient, strategies: list[dict]) -> None:
    st.caption("A strategy's params saved under a name, to reuse when creating instances.")
    listed = errors.attempt("list the configuration templates", client.list_configs)
    if listed is None:
        return
    contents: dict[str, dict[str, Any]] = {}
    for item in listed:
        config = errors.attempt(f"read the template {item['config_name']}", client.get_config, item["config_name"])
        if config is not None:
            contents[item["config_name"]] = config
    tables.show_table(tables.templates_frame([{"name": name, "strategy": strategy_of(config),
                                               "params": settings_of(config)} for name, config in contents.items()]),
                      "No templates yet: make one below.", key="strategies_templates_table")
    if st.session_state["strategies_template_open"] is not None:  # the one just saved
        st.session_state["strategies_template"] = st.session_state["strategies_template_open"]
        st.session_state["strategies_template_open"] = None
    if st.session_state["strategies_template"] not in ("", *contents):
        st.session_state["strategies_template"] = ""
    chosen = st.selectbox("Template", ["", *contents], key="strategies_template",
                          format_func=lambda name: name or "New template")
    library = {item["name"]: item for item in strategies}
    if chosen:
        _edit(client, chosen, contents[chosen], library)
    else:
        _new(client, library)


def _new(client: HiveClient, library: dict[str, dict]) -> None:
    if not library:
        st.caption("The library is empty: a template needs a strategy.")
        return
    session.empty_if_asked("strategies_template", ["strategies_template_name"])
    name = st.text_input("Template name", key="strategies_template_name", max_chars=127,
                         help="Letters, digits, '_', '-' or '.', starting with a letter or digit.")
    strategy = st.selectbox("For strategy", list(library), key="strategies_template_strategy")
    params = param_inputs(library[strategy].get("params_schema") or {}, f"strategies_template_new_{strategy}")
    if st.button("Save template", key="strategies_template_save", type="primary"):
        _save(client, name.strip(), {"script_file_name": f"{strategy}.py", **params})


def _edit(client: HiveClient, name: str, config: dict[str, Any], library: dict[str, dict]) -> None:
    strategy = strategy_of(config)
    if strategy not in library:
        st.warning(f"Its strategy **{strategy or '(none)'}** is not in the library: its params are shown as they are.")
        st.json(settings_of(config))
    else:
        st.caption(f"Strategy: **{strategy}**")
        schema = copy.deepcopy(library[strategy].get("params_schema") or {})
        properties = schema.get("properties") or {}
        for key, prop in properties.items():  # the inputs start at the template's values
            if key in config:
                prop["default"] = config[key]
        params = param_inputs(schema, f"strategies_template_{name}_{strategy}")
        kept = {key: value for key, value in config.items() if key not in properties}  # its script_file_name...
        if st.button("Save template", key="strategies_template_save", type="primary"):
            _save(client, name, {**kept, **params})
    st.button("Delete template", key="strategies_template_delete", icon=":material/delete:",
              on_click=actions.ask_delete_template, args=(name,))
    if st.session_state["strategies_template_confirm_delete"] == name:
        st.warning(f"Delete the template **{name}**? Instances made with it keep their params.",
                   icon=":material/delete:")
        confirm = st.container(horizontal=True)
        confirm.button("Yes, delete", key="strategies_template_delete_yes", type="primary",
                       on_click=actions.delete_template, args=(client, name))
        confirm.button("Cancel", key="strategies_template_delete_cancel", on_click=actions.cancel_delete_template)


def _save(client: HiveClient, name: str, config: dict[str, Any]) -> None:
    """Drawn inline, not as a callback: a callback's arguments are the inputs' values of the run before the click."""
    if errors.attempt(f"save the template {name or '(no name)'}", client.save_config, name, config) is None:
        return
    st.session_state["strategies_notice"] = f"Saved the template {name}"
    st.session_state["strategies_template_open"] = name.removesuffix(".yml")
    session.empty_on_next_run("strategies_template")
    st.rerun()
