"""The selected instance: state with its reason, controls, PnL, trades, logs, history, commands and resource use."""
from __future__ import annotations

import streamlit as st

import CONFIG
from backend.client import HiveClient
from frontend import badges, errors, tables
from frontend import format as fmt
from frontend.charts import pnl_chart, resources_chart
from frontend.logs import log_filters, log_view
from frontend.resources import resource_metrics
from pages.instances import actions

COMMANDS_SHOWN = 100  # the newest commands listed on the detail


def _controls(client: HiveClient, instance: dict) -> None:
    name, state = instance["name"], instance["state"]
    buttons = st.container(horizontal=True)
    buttons.button("Start", key="instances_start", disabled=state in ("running", "starting", "stopping"),
                      on_click=actions.start, args=(client, name))
    buttons.button("Stop", key="instances_stop", disabled=state in ("created", "stopped", "stopping"),
                      on_click=actions.stop, args=(client, name))
    buttons.button("Restart", key="instances_restart", on_click=actions.restart, args=(client, name))
    blocked = actions.delete_blocked(instance)
    buttons.button("Delete", key="instances_delete", on_click=actions.ask_delete, args=(name,),
                   disabled=blocked is not None, help=blocked)
    if st.session_state["instances_confirm_delete"] == name:
        st.warning(f"Delete **{name}**? Its configuration and history go with it. A running instance must be "
                   "stopped first.", icon=":material/delete:")
        confirm = st.container(horizontal=True)
        confirm.button("Yes, delete", key="instances_delete_confirm", type="primary",
                       on_click=actions.delete, args=(client, name))
        confirm.button("Cancel", key="instances_delete_cancel", on_click=actions.cancel_delete)
    errors.show_feedback(actions.PREFIX)


def _summary(instance: dict) -> None:
    pnl = instance.get("pnl", {})
    heartbeat, realized, unrealized, volume = st.columns(4)
    heartbeat.metric("Last heartbeat", fmt.age(instance.get("last_heartbeat_age_s")), border=True)
    realized.metric("Realized PnL", fmt.money(pnl.get("realized")), border=True)
    unrealized.metric("Unrealized PnL", fmt.money(pnl.get("unrealized")), border=True)
    volume.metric("Volume", f"{pnl.get('volume', 0.0):,.2f}", border=True)
    resource_metrics(f"instance:{instance['name']}", instance.get("cpu_percent"), instance.get("memory_bytes"))


def instance_detail(client: HiveClient, instance: dict) -> None:
    name = instance["name"]
    st.subheader(name)
    badges.state_badge(instance["state"], instance.get("reason", ""), key="instances_state")
    version = f" (Hive {instance['image_version']})" if instance.get("image_version") else ""
    placement = f" on {instance['host']} · image {instance['image']}{version}" if instance.get("host") else ""
    since = fmt.clock(instance.get("state_since"))
    st.caption(f"{instance['runtime']} runtime{placement} · in this state since {since}"
               + (f" · pid {instance['pid']}" if instance.get("pid") else "")
               + (f" · {restarts}" if (restarts := fmt.restarts(instance)) else ""))
    _controls(client, instance)
    _summary(instance)

    st.markdown("**PnL over time**")
    points = errors.attempt(f"read the PnL of {name}", client.instance_performance, name)
    if points is not None:
        pnl_chart(points, key="instances_pnl_chart")

    st.markdown("**Resource use over time**")
    samples = errors.attempt(f"read the resource use of {name}", client.instance_resources, name)
    if samples is not None:
        resources_chart(samples, key="instances_resources_chart")

    st.markdown("**PnL per strategy**")
    tables.show_table(tables.strategy_pnl_frame(instance.get("strategies", [])), "No strategies.")

    st.markdown("**Recent trades**")
    trades = errors.attempt(f"read the trades of {name}", client.instance_trades, name, CONFIG.TRADES_LIMIT)
    if trades is not None:
        tables.show_table(tables.trades_frame(trades), "No trades yet: they appear as the strategies' orders fill.",
                          height=300)

    st.markdown("**State history**")
    changes = errors.attempt(f"read the state history of {name}", client.instance_history, name)
    if changes is not None:
        tables.show_table(tables.history_frame(changes), "No state changes yet.", height=250)

    st.markdown("**Commands**")
    st.caption("Every command that reached this bot and changed something: through Hive, or straight over MQTT "
               "from another controller (hbotrc, Hummingbot's API server), as the bot reported it.")
    entries = errors.attempt(f"read the commands of {name}", client.audit_log, COMMANDS_SHOWN, name)
    if entries is not None:
        tables.show_table(tables.commands_frame(entries), "No commands yet.", key="instances_commands", height=250)

    st.markdown("**Logs**")
    log_filter = log_filters("instances", [item["id"] for item in instance.get("strategies", [])])
    lines = errors.attempt(f"read the logs of {name}", client.instance_logs, name, CONFIG.LOG_LINES,
                           log_filter.strategy)
    if lines is not None:
        log_view(lines, log_filter)
