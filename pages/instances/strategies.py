"""Strategies page: the library (shipped and uploaded), new and upload, rename and delete, the editor, the
versions with their authors, a diff between any two, roll back; and the configuration templates."""
from __future__ import annotations

import re

import streamlit as st

from backend.client import BackendError
from frontend import errors, session, tables
from frontend import format as fmt
from frontend.editor import code_editor
from pages.instances import strategy_actions as actions
from pages.instances.strategy_versions import versions_section
from pages.instances.templates import templates_section

PREFIX = actions.PREFIX
MAX_UPLOAD = "512 KB"  # backend/strategies/validation.py MAX_SOURCE_BYTES
_LINE = re.compile(r"\bline (\d+)\b")

client = session.client()

st.title("Strategies")
st.caption("Shipped examples and your own strategies. Every save of one of yours is kept as a version, with who saved "
           "it; instances keep running the version they started with.")
errors.show_feedback(PREFIX)


def _stored(action: str, source: str, call, *args) -> dict | None:
    """Store through the backend; a refusal is shown with the offending line of `source` quoted when it names one."""
    try:
        return call(*args)
    except errors.FAILURES as error:
        errors.show_error(error, action)
        found = _LINE.search(error.message) if isinstance(error, BackendError) else None
        lines = source.splitlines()
        if found is not None and 1 <= int(found.group(1)) <= len(lines):
            number = int(found.group(1))
            st.markdown(f"**Line {number}:**")
            st.code(lines[number - 1], language="python")
        return None


def _new() -> None:
    with st.popover("New strategy", icon=":material/add:"):
        st.text_input("Name", key="strategies_new_name", max_chars=63,
                      help="Letters, digits or '_', starting with a letter. It starts as a small working strategy "
                           "that you edit here.")
        st.button("Create", key="strategies_new_submit", type="primary", on_click=actions.new, args=(client,))


def _upload() -> None:
    with st.popover("Upload a strategy", icon=":material/upload:"):
        uploaded = st.file_uploader("Strategy file (.py)", type=["py"],
                                    help=f"A Python file of at most {MAX_UPLOAD} defining a class derived from "
                                         "hive_core's Strategy; its name (the file's) must be new.",
                                    key=f"strategies_upload_{st.session_state['strategies_upload_round']}")
        clicked = st.button("Check and store", key="strategies_upload_submit", disabled=uploaded is None)
    if not clicked or uploaded is None:
        return
    try:
        source = uploaded.getvalue().decode("utf-8")
    except UnicodeDecodeError:
        st.error(f"**Could not upload {uploaded.name}.** The file is not UTF-8 text; save it as UTF-8 and retry.")
        return
    stored = _stored(f"upload {uploaded.name}", source, client.upload_strategy, uploaded.name, source)
    if stored is None:
        return
    st.session_state["strategies_notice"] = f"Stored {stored['name']} version {stored.get('version')}"
    st.session_state["strategies_upload_round"] += 1  # a fresh, empty uploader
    actions.open_in_editor(stored["name"])
    st.rerun()


def _manage(detail: dict) -> None:
    """Rename and delete, each confirmed; refused while instances are configured with the strategy."""
    name = detail["name"]
    rename, delete = st.columns([3, 1], vertical_alignment="bottom")
    with rename, st.container(horizontal=True, vertical_alignment="bottom"):
        st.text_input("Rename to", key="strategies_rename_to", max_chars=63)
        st.button("Rename", key="strategies_rename", on_click=actions.ask, args=("rename", name))
    delete.button("Delete", key="strategies_delete", icon=":material/delete:", on_click=actions.ask,
                  args=("delete", name))
    asked = st.session_state["strategies_confirm"]
    if asked is None or asked[1] != name or asked[0] not in ("rename", "delete"):
        return
    users = detail.get("used_by") or []
    if asked[0] == "rename":
        st.warning(f"Rename **{name}** to **{asked[2]}**? Its versions keep their numbers.", icon=":material/edit:")
    else:
        st.warning(f"Delete **{name}** and its {len(detail.get('versions') or [])} versions?",
                   icon=":material/delete:")
    if users:
        st.caption(f"Instances configured with it: {', '.join(users)}. The backend refuses while they exist.")
    confirm = st.container(horizontal=True)
    confirm.button(f"Yes, {asked[0]}", key="strategies_confirm_yes", type="primary", on_click=actions.confirmed,
                   args=(client,))
    confirm.button("Cancel", key="strategies_confirm_cancel", on_click=actions.cancel)


def _editor(detail: dict) -> None:
    name = detail["name"]
    if detail["kind"] != "uploaded":
        st.caption("A shipped example: read-only. Create or upload a strategy under another name to change it.")
        st.code(detail["source"], language="python", line_numbers=True, height=480)
        return
    st.caption(f"Version {detail.get('version')} · saved {fmt.clock(detail.get('updated_at'))}. "
               "Saving stores a new version; running instances keep the version they started with.")
    source = code_editor(detail["source"], key=f"strategies_editor_{name}_{detail.get('version')}")
    if source is not None and source != detail["source"]:
        st.caption("Unsaved changes: **Save new version** keeps them.")
    if st.button("Save new version", key="strategies_save", type="primary"):
        text = source if source is not None else detail["source"]
        saved = _stored(f"save {name}", text, client.save_strategy, name, text)
        if saved is not None:
            unchanged = saved.get("version") == detail.get("version")
            st.session_state["strategies_notice"] = (f"{name} is unchanged: no new version" if unchanged
                                                     else f"Saved {name} version {saved.get('version')}")
            st.rerun()


def _library() -> list[dict] | None:
    strategies = errors.attempt("list the strategies", client.list_strategies)
    if strategies is None:
        return None
    tables.show_table(tables.strategies_frame(strategies), "The library is empty: create or upload a strategy.",
                      key="strategies_table")
    with st.container(horizontal=True):
        _new()
        _upload()
    if not strategies:
        return strategies
    st.subheader("View and edit")
    names = [item["name"] for item in strategies]
    session.set_if_asked("strategies_selected", names)
    if st.session_state.get("strategies_selected") not in names:
        st.session_state["strategies_selected"] = names[0]
    selected = st.selectbox("Strategy", names, key="strategies_selected")
    detail = errors.attempt(f"read {selected}", client.get_strategy, selected)
    if detail is None:
        return strategies
    users = detail.get("used_by") or []
    st.caption(f"Used by: {', '.join(users)}" if users else "Used by no instance.")
    if detail["kind"] == "uploaded":
        _manage(detail)
    _editor(detail)
    versions_section(client, detail)
    return strategies


library_tab, templates_tab = st.tabs(["Library", "Configuration templates"])
with library_tab:
    listed = _library()
with templates_tab:
    templates_section(client, listed or [])
