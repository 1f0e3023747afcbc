"""The Docker section of the instances page: the Docker hosts with their health, the instance images on each,
and building or pulling an image with its progress. TLS material is typed into password fields and is never
shown again once the backend has it."""
from __future__ import annotations

import streamlit as st

from backend.client import HiveClient
from frontend import errors, session, tables

PREFIX = "docker"
TLS_KEYS = ("docker_host_ca", "docker_host_cert", "docker_host_key")
JOB_REFRESH_SECONDS = 1.0


def _delete_host(client: HiveClient, name: str) -> None:
    errors.run_action(PREFIX, f"remove the Docker host {name}", client.delete_host, name,
                      notice=f"Removed the Docker host {name}")


def _start_job(client: HiveClient, kind: str, host: str) -> None:
    if kind == "build":
        job = errors.run_action(PREFIX, f"build the instance image on {host}", client.build_image, host)
    else:
        image = st.session_state.get("docker_pull_image", "").strip()  # as typed right before the click
        if not image:
            st.toast("Type the image to pull first: name:tag, e.g. registry.example.com/bot:1.2",
                     icon=":material/warning:")
            return
        job = errors.run_action(PREFIX, f"pull {image} onto {host}", client.pull_image, image, host)
    if job is not None:
        st.session_state["docker_job"] = job["id"]


@st.fragment(run_every=JOB_REFRESH_SECONDS)
def _job_progress(client: HiveClient) -> None:
    """The latest build or pull: its state, a progress bar and the engine's last lines, until it ends."""
    job_id = st.session_state.get("docker_job")
    if not job_id:
        return
    job = errors.attempt("read the image job", client.image_job, job_id)
    if job is None:
        return
    title = f"{job['kind'].capitalize()} of {job['image']} on {job['host']}"
    if job["state"] == "running":
        st.progress(min(1.0, (job.get("percent") or 0.0) / 100), text=f"{title}: {job.get('summary') or 'starting'}")
    elif job["state"] == "succeeded":
        st.success(f"{title}: done. {job.get('summary', '')}", icon=":material/check_circle:")
    else:
        st.error(f"{title} failed: {job.get('error') or 'no reason given'}", icon=":material/error:")
    if job.get("progress"):
        st.code("\n".join(job["progress"][-12:]), language=None, wrap_lines=True)


def _add_host(client: HiveClient) -> None:
    st.markdown("**Add a Docker host**")
    name_col, url_col, broker_col = st.columns(3)
    name = name_col.text_input("Host name", key="docker_host_name", placeholder="server2")
    url = url_col.text_input("Engine URL", key="docker_host_url", placeholder="tcp://10.0.0.5:2376",
                             help="unix:///var/run/docker.sock, tcp://host:2376 (TLS), or ssh://user@host")
    broker = broker_col.text_input("Broker address from there", key="docker_host_broker", placeholder="10.0.0.2",
                                   help="how instances on that host reach the broker; empty: the backend's own")
    with st.container(horizontal=True):
        ca = st.text_area("CA certificate (PEM)", key="docker_host_ca", height=90)
        cert = st.text_area("Client certificate (PEM)", key="docker_host_cert", height=90)
        key = st.text_input("Client key (PEM)", key="docker_host_key", type="password",
                            help="paste the whole key; it is stored encrypted and never shown again")
    if not st.button("Add host", key="docker_host_submit"):
        return
    added = errors.attempt(f"add the Docker host {name.strip() or '(no name)'}", client.add_host, name.strip(),
                           url.strip(), ca or None, cert or None, key or None, broker.strip() or None)
    if added is None:
        return  # every input keeps its value
    health = added.get("health", {})
    st.session_state[f"{PREFIX}_notice"] = (f"Added the Docker host {added['name']}: {health.get('status')}"
                                            + (f" ({health['error']})" if health.get("error") else ""))
    session.empty_on_next_run("docker_host")
    st.rerun(scope="app")  # the create form lists it too


@st.fragment
def docker_section(client: HiveClient) -> None:
    session.empty_if_asked("docker_host", ["docker_host_name", "docker_host_url", "docker_host_broker", *TLS_KEYS])
    with st.expander("Docker hosts and images", icon=":material/deployed_code:"):
        st.caption("The Docker engines instances of the docker runtime run on, and the instance images on each. "
                   "Every instance, wherever it runs, reports to the same broker.")
        errors.show_feedback(PREFIX)
        hosts = errors.attempt("list the Docker hosts", client.list_hosts)
        if hosts is None:
            return
        tables.show_table(tables.docker_hosts_frame(hosts), "No Docker hosts.", key="docker_hosts_table")
        names = [item["name"] for item in hosts]
        row = st.container(horizontal=True)
        host = row.selectbox("Docker host", names, key="docker_selected_host", label_visibility="collapsed")
        removable = {item["name"]: item.get("removable", False) for item in hosts}
        row.button("Remove host", key="docker_host_delete", on_click=_delete_host, args=(client, host),
                   disabled=not removable.get(host), help="local comes from the settings and stays")

        st.markdown(f"**Instance images on {host}**")
        health = next((item.get("health") or {} for item in hosts if item["name"] == host), {})
        if health.get("status") == "unreachable":
            why = health.get("error") or "no reason given"
            st.info(f"{host} does not answer, so its images cannot be listed: {why}. "
                    "Instances of the docker runtime need a Docker engine there; the process runtime needs none.",
                    icon=":material/cloud_off:")
            _add_host(client)
            return
        images = errors.attempt(f"list the images on {host}", client.list_images, host)
        if images is not None:
            tables.show_table(tables.images_frame(images), "No instance image on this host yet: build one.",
                              key="docker_images_table")
        actions = st.container(horizontal=True)
        actions.button("Build hive-core image", key="docker_build", on_click=_start_job, args=(client, "build", host),
                       help="builds hive/hive-core from this Hive's sources on the chosen host")
        actions.text_input("Image to pull", key="docker_pull_image", label_visibility="collapsed",
                           placeholder="registry.example.com/bot:1.2")
        actions.button("Pull", key="docker_pull", on_click=_start_job, args=(client, "pull", host))
        _job_progress(client)
        _add_host(client)
