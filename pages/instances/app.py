"""Instances page: the fleet table, the Create Instance form, and the selected instance's live detail."""
from __future__ import annotations

import streamlit as st

import CONFIG
from frontend import errors, session, tables
from pages.instances.create import create_form
from pages.instances.credentials import credentials_section
from pages.instances.detail import instance_detail
from pages.instances.docker import docker_section

client = session.client()

st.title("Instances")
st.caption("Each instance is one hive_core runtime hosting one or more strategies, trading on the simulated exchange, "
           "as a local process or in a Docker container.")
create_form(client)
credentials_section(client)
docker_section(client)


@st.fragment(run_every=CONFIG.REFRESH_SECONDS)
def fleet() -> None:
    instances = errors.attempt("list the instances", client.list_instances)
    if instances is None:
        return
    if not instances:
        errors.show_feedback("instances")
        st.info("No instances yet: open **New instance** above to create one.")
        return
    tables.show_table(tables.instances_frame(instances), "", key="instances_table")

    by_name = {item["name"]: item for item in instances}
    if st.session_state.get("instances_selected") not in by_name:
        st.session_state["instances_selected"] = next(iter(by_name))
    selected = st.selectbox("Instance", list(by_name), key="instances_selected")
    st.divider()
    instance_detail(client, by_name[selected])


fleet()
