"""The Create Instance form: strategies from the library, their params built from each one's schema.

What the user typed stays in the widgets when the backend refuses the spec; only a success clears the name.
"""
from __future__ import annotations

from typing import Any

import streamlit as st

from backend.client import HiveClient
from frontend import errors, session
from frontend.schema_form import param_inputs

RUNTIMES = {"process": "process (a local subprocess)", "docker": "docker (a container)"}
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


def _docker_inputs(client: HiveClient) -> dict[str, Any] | None:
    """Host, image and limits of a docker instance; None when the hosts cannot be listed (the error is shown)."""
    hosts = errors.attempt("list the Docker hosts", client.list_hosts)
    if hosts is None:
        return None
    health = {item["name"]: item.get("health", {}) for item in hosts}
    host_col, image_col = st.columns(2)
    host = host_col.selectbox("Docker host", list(health) or ["local"], key="instances_create_host",
                              format_func=lambda item: f"{item} ({health.get(item, {}).get('status', 'unknown')})",
                              help="the Docker engine it runs on (add hosts under Docker hosts and images)")
    images = errors.attempt(f"list the images on {host}", client.list_images, host) or []
    tags = [tag for item in images for tag in item.get("tags", [])]
    if not tags:
        image_col.warning(f"{host} has no Hive instance image yet: build one under Docker hosts and images.")
    image = image_col.selectbox("Image", tags, key="instances_create_image",
                                help="the bot version it runs (images labelled as Hive instance images)")
    cpus_col, memory_col, pids_col, log_col = st.columns(4)
    cpus = cpus_col.number_input("CPUs", min_value=0.0, value=0.0, step=0.25, key="instances_create_cpus",
                                 help="0: no limit; 1.5 = one and a half cores")
    memory = memory_col.number_input("Memory (MiB)", min_value=0, value=0, step=64, key="instances_create_memory",
                                     help="0: no limit; at least 64; the container is killed (out of memory) above it")
    pids = pids_col.number_input("Processes", min_value=0, value=0, step=16, key="instances_create_pids",
                                 help="0: no limit; processes and threads inside the container (at least 16)")
    log_mb = log_col.number_input("Log size (MiB)", min_value=1, max_value=1024, value=10, key="instances_create_log",
                                  help="the container's log is rotated at this size (3 files kept)")
    return {"host": host, "image": image or None,
            "limits": {"cpus": cpus or None, "memory_mb": int(memory) or None, "pids": int(pids) or None,
                       "log_max_mb": int(log_mb)}}


@st.fragment
def create_form(client: HiveClient) -> None:
    session.empty_if_asked("instances_create", ["instances_create_name"])
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
        runtime = runtime_col.selectbox("Runtime", list(RUNTIMES), key="instances_create_runtime",
                                        format_func=RUNTIMES.__getitem__,
                                        help="process: a local subprocess on this machine; docker: a container with "
                                             "its own limits, on one of the Docker hosts")
        pairs = pair_col.text_input("Trading pair", key="instances_create_pair",
                                    help="on the built-in simulated exchange; several separated by commas")

        placement = _docker_inputs(client) if runtime == "docker" else {}
        if placement is None:
            return
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
            **placement,
        }
        created = errors.attempt(f"create the instance {spec['name'] or '(no name)'}", client.create_instance, spec)
        if created is None:
            return  # the error is shown above and every input keeps its value
        st.session_state["instances_selected"] = created["name"]
        st.session_state["instances_notice"] = f"Created {created['name']}"
        session.empty_on_next_run("instances_create")
        st.rerun(scope="app")
