"""Instances page: the unacknowledged alerts, the Create Instance form, credentials, Docker, and the fleet (its
totals, the table with its filters and bulk actions, and the selected instance's live detail)."""
from __future__ import annotations

import streamlit as st

from frontend import session
from pages.instances.alerts import alerts_section
from pages.instances.create import create_form
from pages.instances.credentials import credentials_section
from pages.instances.docker import docker_section
from pages.instances.fleet import fleet

client = session.client()

st.title("Instances")
st.caption("Each instance is one hive_core runtime hosting one or more strategies, as a local process or in a Docker "
           "container. It trades on the simulated exchange, on paper against a live venue's market data, or live with "
           "a credential.")
alerts_section(client)
create_form(client)
credentials_section(client)
docker_section(client)
fleet(client)
