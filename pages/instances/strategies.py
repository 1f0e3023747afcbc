"""Strategies page: the library (shipped and uploaded), upload of a .py file, an editor and old versions."""
from __future__ import annotations

import streamlit as st
from streamlit_ace import st_ace

from frontend import errors, session, tables
from frontend import format as fmt

PREFIX = "strategies"

client = session.client()

st.title("Strategies")
st.caption("Shipped examples and your uploaded strategy files. Every save of an uploaded file is kept as a version.")
errors.show_feedback(PREFIX)


def _upload() -> None:
    st.subheader("Upload a strategy")
    uploaded = st.file_uploader("Strategy file (.py)", type=["py"], help="a Python file of at most 512 KB",
                                key=f"strategies_upload_{st.session_state['strategies_upload_round']}")
    if not st.button("Upload", key="strategies_upload_submit", disabled=uploaded is None) or uploaded is None:
        return
    try:
        source = uploaded.getvalue().decode("utf-8")
    except UnicodeDecodeError:
        st.error(f"**Could not upload {uploaded.name}.** The file is not UTF-8 text; save it as UTF-8 and retry.")
        return
    stored = errors.attempt(f"upload {uploaded.name}", client.upload_strategy, uploaded.name, source)
    if stored is None:
        return  # the backend's message names the Python error and its line
    st.session_state["strategies_notice"] = f"Stored {stored['name']} version {stored.get('version')}"
    st.session_state["strategies_upload_round"] += 1  # a fresh, empty uploader
    st.session_state["strategies_selected"] = stored["name"]
    st.rerun()


def _editor(detail: dict) -> None:
    name = detail["name"]
    if detail["kind"] != "uploaded":
        st.caption("A shipped example: read-only. Upload a copy under another name to change it.")
        st.code(detail["source"], language="python", line_numbers=True, height=480)
        return
    st.caption(f"Version {detail.get('version')} · saved {fmt.clock(detail.get('updated_at'))}. "
               "Saving stores a new version; running instances keep the version they started with.")
    source = st_ace(value=detail["source"], language="python", theme="chrome", min_lines=20, max_lines=40,
                    auto_update=True, key=f"strategies_editor_{name}_{detail.get('version')}")
    if st.button("Save new version", key="strategies_save", type="primary"):
        saved = errors.attempt(f"save {name}", client.save_strategy, name, source or detail["source"])
        if saved is not None:
            st.session_state["strategies_notice"] = f"Saved {name} version {saved.get('version')}"
            st.rerun()


def _versions(detail: dict) -> None:
    versions = detail.get("versions") or []
    if detail["kind"] != "uploaded" or not versions:
        return
    st.markdown("**Versions**")
    tables.show_table(tables.versions_frame(versions), "No versions.")
    numbers = sorted((item["version"] for item in versions), reverse=True)
    number = st.selectbox("View version", numbers, index=min(1, len(numbers) - 1),  # the one before the latest
                          key=f"strategies_version_{detail['name']}")
    old = errors.attempt(f"read version {number} of {detail['name']}", client.strategy_version, detail["name"], number)
    if old is None:
        return
    st.code(old.get("source", ""), language="python", line_numbers=True, height=360)
    if number != detail.get("version") and st.button(f"Restore version {number}", key="strategies_restore"):
        saved = errors.attempt(f"restore version {number} of {detail['name']}", client.save_strategy,
                               detail["name"], old.get("source", ""))
        if saved is not None:
            st.session_state["strategies_notice"] = f"Restored version {number} as version {saved.get('version')}"
            st.rerun()


strategies = errors.attempt("list the strategies", client.list_strategies)
if strategies is not None:
    tables.show_table(tables.strategies_frame(strategies), "The library is empty: upload a strategy below.",
                      key="strategies_table")
    _upload()
    if strategies:
        st.subheader("View and edit")
        names = [item["name"] for item in strategies]
        if st.session_state.get("strategies_selected") not in names:
            st.session_state["strategies_selected"] = names[0]
        selected = st.selectbox("Strategy", names, key="strategies_selected")
        detail = errors.attempt(f"read {selected}", client.get_strategy, selected)
        if detail is not None:
            _editor(detail)
            _versions(detail)
