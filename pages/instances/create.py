"""The Create Instance form: strategies from the library, their params built from each one's schema.

What the user typed stays in the widgets when the backend refuses the spec; only a success clears the name.
"""
from __future__ import annotations

from typing import Any

import streamlit as st

from backend.client import HiveClient
from frontend import errors
from frontend.schema_form import param_inputs

RUNTIMES = ["process"]
RESTART_POLICIES = {"on_failure": "on failure", "never": "never"}


def _add_strategy() -> None:
    st.session_state["instances_create_count"] += 1


def _remove_strategy() -> None:
    st.session_state["instances_create_count"] = max(1, st.session_state["instances_create_count"] - 1)


def _strategy_entry(index: int, library: dict[str, dict]) -> dict[str, Any]:
    with st.container(border=True):
        pick, ident, interval = st.columns([2, 2, 1])
        name = pick.selectbox(f"Strategy {index + 1}", list(library), key=f"instances_create_strategy_{index}",
                              format_func=lambda item: f"{item} ({library[item]['kind']})")
        default_id = f"{name}-{index + 1}"
        ident_value = ident.text_input("Strategy id", key=f"instances_create_id_{index}", placeholder=default_id,
                                       help=f"unique within the instance; {default_id} when left empty")
        seconds = interval.number_input("Tick interval (s)", min_value=0.01, value=1.0, step=0.5,
                                        key=f"instances_create_interval_{index}")
        if library[name].get("description"):
            st.caption(library[name]["description"])
        params = param_inputs(library[name].get("params_schema") or {}, key_prefix=f"instances_create_{index}_{name}")
    return {"id": ident_value.strip() or default_id, "strategy": name, "params": params, "interval": seconds}


@st.fragment
def create_form(client: HiveClient) -> None:
    if st.session_state["instances_create_reset"]:
        st.session_state["instances_create_name"] = ""
        st.session_state["instances_create_reset"] = False
    with st.expander("New instance", icon=":material/add:"):
        strategies = errors.attempt("list the strategies", client.list_strategies)
        if strategies is None:
            return
        if not strategies:
            st.warning("The strategy library is empty: upload a strategy on the Strategies page first.")
            return
        library = {item["name"]: item for item in strategies}

        name_col, runtime_col, pair_col = st.columns(3)
        name = name_col.text_input("Name", key="instances_create_name", placeholder="bot1",
                                   help="1-63 letters, digits, '_' or '-'; also the bot's id on the wire")
        runtime = runtime_col.selectbox("Runtime", RUNTIMES, key="instances_create_runtime",
                                        help="process: a local subprocess on this machine")
        pairs = pair_col.text_input("Trading pair", key="instances_create_pair",
                                    help="on the built-in simulated exchange; several separated by commas")

        entries = [_strategy_entry(index, library) for index in range(st.session_state["instances_create_count"])]
        more = st.container(horizontal=True)
        more.button("Add strategy", key="instances_create_add", on_click=_add_strategy)
        more.button("Remove strategy", key="instances_create_remove", on_click=_remove_strategy,
                      disabled=len(entries) == 1)

        policy_col, retries_col = st.columns(2)
        policy = policy_col.selectbox("Restart policy", list(RESTART_POLICIES), key="instances_create_restart_policy",
                                      format_func=RESTART_POLICIES.__getitem__,
                                      help="on failure: when its process exits or is killed while it runs, start it "
                                           "again after 2 s, 4 s, 8 s... (at most 60 s); never: leave it in error")
        retries = retries_col.number_input("Max retries", min_value=0, max_value=100, step=1,
                                           key="instances_create_max_retries", disabled=policy == "never",
                                           help="restarts in a row before it is left in error; the count starts "
                                                "again after a minute running or a start by you")
        credentials = errors.attempt("list the credentials", client.list_credentials) or []
        credential = st.selectbox("Credential", ["", *(item["name"] for item in credentials)],
                                  key="instances_create_credential", format_func=lambda item: item or "none",
                                  help="venue credentials handed to its process while it runs (see Credentials)")
        start_now = st.checkbox("Start now", key="instances_create_start")
        if not st.button("Create Instance", key="instances_create_submit", type="primary"):
            return
        spec = {
            "name": name.strip(),
            "runtime": runtime,
            "strategies": entries,
            "trading_pairs": [pair.strip() for pair in pairs.split(",") if pair.strip()],
            "start": start_now,
            "restart_policy": {"policy": policy, "max_retries": int(retries)},
            "credential": credential or None,
        }
        created = errors.attempt(f"create the instance {spec['name'] or '(no name)'}", client.create_instance, spec)
        if created is None:
            return  # the error is shown above and every input keeps its value
        st.session_state["instances_selected"] = created["name"]
        st.session_state["instances_notice"] = f"Created {created['name']}"
        st.session_state["instances_create_reset"] = True
        st.rerun(scope="app")
