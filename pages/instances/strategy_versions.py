"""The versions of an uploaded strategy: who saved each and which instances run it, a diff between any two, and
roll back to one (a new version with its source, confirmed first)."""
from __future__ import annotations

import streamlit as st

from backend.client import HiveClient
from frontend import errors, tables
from pages.instances import strategy_actions as actions


def versions_section(client: HiveClient, detail: dict) -> None:
    versions = detail.get("versions") or []
    if detail["kind"] != "uploaded" or not versions:
        return
    name = detail["name"]
    st.subheader("Versions")
    tables.show_table(tables.versions_frame(versions), "No versions.", key="strategies_versions_table")
    numbers = sorted((item["version"] for item in versions), reverse=True)
    if len(numbers) < 2:
        st.caption("One version so far: save a change to compare and roll back.")
        return
    _diff(client, name, numbers)
    _roll_back(client, name, numbers)


def _diff(client: HiveClient, name: str, numbers: list[int]) -> None:
    st.markdown("**Compare two versions**")
    older, newer = st.columns(2)
    # keys carry the latest version: a new one resets the pair to (the one before the latest, the latest)
    start = older.selectbox("From version", numbers, index=1, format_func=lambda n: f"v{n}",
                            key=f"strategies_diff_from_{name}_{numbers[0]}")
    end = newer.selectbox("To version", numbers, index=0, format_func=lambda n: f"v{n}",
                          key=f"strategies_diff_to_{name}_{numbers[0]}")
    diff = errors.attempt(f"compare v{start} and v{end} of {name}", client.strategy_diff, name, start, end)
    if diff is None:
        return
    if diff["diff"]:
        st.code(diff["diff"], language="diff")
    else:
        st.caption(f"v{start} and v{end} have the same source.")


def _roll_back(client: HiveClient, name: str, numbers: list[int]) -> None:
    st.markdown("**Roll back**")
    number = st.selectbox("Roll back to version", numbers[1:], format_func=lambda n: f"v{n}",
                          key=f"strategies_rollback_{name}_{numbers[0]}")
    old = errors.attempt(f"read version {number} of {name}", client.strategy_version, name, number)
    if old is not None:
        with st.expander(f"Source of v{number}"):
            st.code(old.get("source", ""), language="python", line_numbers=True, height=360)
    st.button(f"Roll back to v{number}", key="strategies_rollback", icon=":material/history:",
              on_click=actions.ask, args=("restore", name, number))
    asked = st.session_state["strategies_confirm"]
    if asked is None or asked[:2] != ("restore", name):
        return
    st.warning(f"Roll **{name}** back to **v{asked[2]}**? A new version v{numbers[0] + 1} gets its source; the "
               "versions in between are kept. Running instances keep theirs until they restart.",
               icon=":material/history:")
    confirm = st.container(horizontal=True)
    confirm.button("Yes, roll back", key="strategies_rollback_yes", type="primary", on_click=actions.confirmed,
                   args=(client,))
    confirm.button("Cancel", key="strategies_rollback_cancel", on_click=actions.cancel)
