"""The external bots gone silent (GET /fleet/gone): a collapsed section under the fleet table listing them with when
they were last heard, and a way to forget one. A bot that speaks again is back in the table by itself."""
from __future__ import annotations

import time

import pandas as pd
import streamlit as st

from backend.client import HiveClient
from frontend import errors, tables
from frontend import format as fmt

PREFIX = "instances_gone"


def forget(client: HiveClient, name: str | None) -> None:
    if name:
        errors.run_action(PREFIX, f"forget {name}", client.forget_gone_bot, name, notice=f"Forgot {name}")


def gone_frame(gone: list[dict], now: float) -> pd.DataFrame:
    return pd.DataFrame([{"Name": bot["name"], "Last heard": fmt.clock(bot.get("last_heard")),
                          "Silent for": fmt.duration(now - bot["last_heard"]) if bot.get("last_heard") else "–",
                          "First heard": fmt.clock(bot.get("first_heard"))} for bot in gone])


def gone_section(client: HiveClient) -> None:
    """Nothing when no bot is gone. The label stays the same whatever their count, so the section stays open or
    closed as the operator left it across refreshes."""
    gone = errors.attempt("list the gone bots", client.gone_bots)
    errors.show_feedback(PREFIX)
    if not gone:
        return
    with st.expander("Gone external bots", key="instances_gone"):
        st.caption(f"{len(gone)} external bot{'s' if len(gone) != 1 else ''} silent for longer than the backend's "
                   "HIVE_EXTERNAL_GONE_AFTER: out of the table and the totals until they speak again.")
        tables.show_table(gone_frame(gone, time.time()), "", key="instances_gone_table")
        names = [bot["name"] for bot in gone]
        row = st.container(horizontal=True, vertical_alignment="bottom")
        chosen = row.selectbox("Bot to forget", names, key="instances_gone_chosen", width=260)
        row.button("Forget", key="instances_gone_forget", on_click=forget, args=(client, chosen),
                   help="forget what was heard of it; it comes back to the table when it speaks again")
