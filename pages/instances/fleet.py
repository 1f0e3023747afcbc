"""The fleet: totals, filters and sort, the table (select rows to act on them together; the newest row picked
opens below), the bulk Start / Stop / Restart, the external bots gone silent (collapsed), and the selected
instance's detail.

It lives in a fragment that refreshes itself: the rest of the page (the create form, credentials, Docker) does
not rerun with it. The backend filters and sorts (GET /instances), in the summary view: one request for the
table whatever the fleet's size, and one for the selected instance's full entry.
"""
from __future__ import annotations

import pandas as pd
import streamlit as st

import CONFIG
from backend.client import HiveClient
from frontend import errors, tables
from frontend import format as fmt
from frontend.badges import STATES, label_css
from pages.instances import actions
from pages.instances.detail import instance_detail
from pages.instances.gone import gone_section

RUNTIMES = ("all", "process", "docker", "external")
SORTS = {"name": "Name", "state": "State", "pnl": "PnL", "realized": "Realized PnL", "unrealized": "Unrealized PnL",
         "volume": "Volume", "trades": "Trades", "uptime": "Uptime", "heartbeat": "Heartbeat age", "cpu": "CPU",
         "memory": "Memory", "strategies": "Strategies", "created": "Created"}
TABLE_KEY = "instances_table"
NUMBERS = {"Realized": "%+.2f", "Unrealized": "%+.2f", "Volume": "%.2f"}
RUN_FIGURES = ("summed over each instance's current run (its last, when stopped): a restart starts its PnL and "
               "volume at zero, as the restart marks on its PnL chart show")


def fleet_totals(client: HiveClient) -> None:
    totals = errors.attempt("read the fleet totals", client.fleet_totals)
    if totals is None or not totals["instances"]:
        return
    states = totals["by_state"]
    unit = f" ({totals['pnl_unit']})" if totals.get("pnl_unit") else ""
    pnl = totals["pnl"]
    count, failing, trades, volume = st.columns(4)
    count.metric("Running", f"{states.get('running', 0)} of {totals['instances']}", border=True,
                 help="; ".join(f"{n} {state}" for state, n in sorted(states.items())))
    failing.metric("In error", states.get("error", 0), border=True,
                   help=f"besides: {totals['broker_unreachable']} running with the broker unreachable, "
                        f"{totals.get('late', 0)} running with late heartbeats")
    trades.metric("Trades", f"{totals['trades']:,}", border=True, help="every trade stored, of every run")
    volume.metric(f"Volume{unit}", f"{pnl['volume']:,.2f}", border=True, help=RUN_FIGURES)
    realized, unrealized, cpu, memory = st.columns(4)
    realized.metric(f"Realized PnL{unit}", fmt.money(pnl["realized"]), border=True, help=RUN_FIGURES)
    unrealized.metric(f"Unrealized PnL{unit}", fmt.money(pnl["unrealized"]), border=True, help=RUN_FIGURES)
    cpu.metric("CPU", fmt.percent(totals["cpu_percent"]), border=True, help="summed: 100 % is one core")
    memory.metric("Memory", fmt.size(totals["memory_bytes"]), border=True)


def _filters(client: HiveClient) -> dict:
    """The filter and sort inputs, as GET /instances parameters."""
    row = st.container(horizontal=True)
    with row:
        st.multiselect("State", list(STATES), key="instances_filter_states", format_func=lambda s: STATES[s][0],
                       placeholder="every state", width=260)
        st.selectbox("Runtime", RUNTIMES, key="instances_filter_runtime", width=130)
        hosts = ["all", "local", *(h["name"] for h in (errors.attempt("list the Docker hosts", client.list_hosts)
                                                        or []) if h["name"] != "local")]
        if st.session_state["instances_filter_host"] not in hosts:
            st.session_state["instances_filter_host"] = "all"
        st.selectbox("Docker host", hosts, key="instances_filter_host", width=150)
        st.text_input("Find instances", key="instances_filter_text", placeholder="name or reason", max_chars=200,
                      width=220)
        st.selectbox("Sort by", list(SORTS), key="instances_sort", format_func=SORTS.__getitem__, width=160)
        st.toggle("Descending", key="instances_sort_descending")
    state = st.session_state
    return {"state": state["instances_filter_states"],
            "runtime": None if state["instances_filter_runtime"] == "all" else state["instances_filter_runtime"],
            "host": None if state["instances_filter_host"] == "all" else state["instances_filter_host"],
            "q": state["instances_filter_text"].strip() or None,
            "sort": ("-" if state["instances_sort_descending"] else "") + state["instances_sort"]}


def _keep_selection(names: list[str]) -> None:
    """Select again, where they are now, the rows picked in the table as it was last drawn (the table's selection
    is by row position, and the rows move as the fleet changes)."""
    shown = st.session_state["instances_table_names"]
    event = st.session_state.get(TABLE_KEY)
    rows = list(event["selection"]["rows"]) if event else []
    picked = [shown[row] for row in rows if row < len(shown)] if event else st.session_state["instances_picked"]
    wanted = [names.index(name) for name in picked if name in names]
    if wanted != rows:
        st.session_state[TABLE_KEY] = {"selection": {"rows": wanted, "columns": [], "cells": []}}


def _table(frame: pd.DataFrame) -> list[int]:
    styled = frame.style.format(precision=2, na_rep="–").map(label_css, subset=["State"])
    event = st.dataframe(styled, key=TABLE_KEY, on_select="rerun", selection_mode="multi-row", hide_index=True,
                         column_config={"Reason": st.column_config.TextColumn(width="large"),
                                        **{column: st.column_config.NumberColumn(format=number)
                                           for column, number in NUMBERS.items()}},
                         height=min(38 + 35 * len(frame), 520))
    return list(event.selection.rows)


def _bulk(client: HiveClient, names: list[str], external: list[str]) -> None:
    """The bulk buttons for the selected `names`; `external`: those that are external bots."""
    buttons = st.container(horizontal=True)
    count = f" ({len(names)})" if names else ""
    by_command = f"; {', '.join(external)}: the strategy, by command (external)" if external else ""
    for action in actions.BULK:
        buttons.button(f"{action.capitalize()} selected{count}", key=f"instances_bulk_{action}", disabled=not names,
                       on_click=actions.ask_bulk, args=(client, action, names, external),
                       help="select rows in the table first" if not names else ", ".join(names) + by_command)
    confirm = st.session_state["instances_confirm_bulk"]
    if confirm:
        action, chosen, outside = confirm["action"], confirm["names"], confirm["external"]
        note = (f" For the external bots ({', '.join(outside)}) this {action}s their strategy by command: their "
                "processes are not Hive's and stay connected." if outside else "")
        st.warning(f"{action.capitalize()} **{len(chosen)} instances**: {', '.join(chosen)}?{note}",
                   icon=":material/warning:")
        yes = st.container(horizontal=True)
        yes.button(f"Yes, {action} {len(chosen)}", key="instances_bulk_confirm", type="primary",
                   on_click=actions.bulk, args=(client, action, chosen, outside))
        yes.button("Cancel", key="instances_bulk_cancel", on_click=actions.cancel_bulk)
    result = st.session_state["instances_bulk_result"]
    if result:
        if result["done"]:
            st.success(f"{actions.BULK[result['action']]} {len(result['done'])}: {', '.join(result['done'])}",
                       icon=":material/check_circle:")
        for name, words in result["failed"].items():
            st.error(f"**Could not {result['action']} {name}.** {words}", icon=":material/error:")
        st.button("Dismiss", key="instances_bulk_dismiss", type="tertiary", on_click=actions.dismiss_bulk_result)


@st.fragment(run_every=CONFIG.REFRESH_SECONDS)
def fleet(client: HiveClient) -> None:
    selected = fleet_table(client)
    gone_section(client)
    if selected is None:
        return
    st.divider()
    instance = errors.attempt(f"read {selected}", client.get_instance, selected)
    if instance is not None:
        instance_detail(client, instance)


def fleet_table(client: HiveClient) -> str | None:
    """Totals, filters, the table and its bulk actions; returns the name of the instance to show below (None when
    the table is empty)."""
    fleet_totals(client)
    query = _filters(client)
    instances = errors.attempt("list the instances", client.fleet, **query)
    if instances is None:
        return None
    filtered = any(value for key, value in query.items() if key != "sort")
    if not instances:
        errors.show_feedback(actions.PREFIX)
        st.info("No instance matches the filters." if filtered else
                "No instances yet: open **New instance** above to create one.")
        return None
    names = [item["name"] for item in instances]
    before = st.session_state["instances_picked"]
    _keep_selection(names)
    picked = [names[row] for row in _table(tables.instances_frame(instances)) if row < len(names)]
    # before any other element: a rerun may interrupt this one at the next, and must find these already noted
    added = [name for name in picked if name not in before]
    if added:  # the row just clicked opens below
        st.session_state["instances_selected"] = added[-1]
    if st.session_state.get("instances_selected") not in names:
        st.session_state["instances_selected"] = picked[-1] if picked else names[0]
    st.session_state["instances_table_names"], st.session_state["instances_picked"] = names, picked
    external = {item["name"] for item in instances if item["runtime"] == "external"}
    _bulk(client, picked, [name for name in picked if name in external])
    return st.selectbox("Instance", names, key="instances_selected",
                        help="the instance shown below; clicking a row in the table opens it too")
