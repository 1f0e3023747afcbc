"""The selected instance: state with its reason and controls, then tabs: overview (PnL, strategies, history,
commands), open orders and balances, trades, logs, errors, resource use. Only the open tab reads the backend.

An external bot (heard on the broker, not created here) shows the same: its logs, trades, PnL and errors are stored
like an instance's. Its start and stop are commands to the bot (its strategy), and what Hive cannot know of it (its
process, resource use, strategy files, state history) says why it is absent."""
from __future__ import annotations

import streamlit as st

import CONFIG
from backend.client import HiveClient
from frontend import badges, errors, tables
from frontend import format as fmt
from frontend.charts import pnl_chart, resources_chart
from frontend.logs import error_groups, log_filters, log_view
from frontend.resources import resource_metrics
from pages.instances import actions
from pages.instances.strategy_controls import strategy_controls

COMMANDS_SHOWN = 100  # the newest commands listed on the detail
ERRORS_SHOWN = 200  # the newest error lines listed on the detail
TRADES_EXPORTED = 10_000  # the newest trades in the CSV (the backend's bound)
TABS = ("Overview", "Orders", "Trades", "Logs", "Errors", "Resources")


EXTERNAL_RESOURCES = ("Nothing is measured of an external bot: it runs where Hive cannot see its process. CPU, memory "
                      "and network show for the instances Hive runs.")
EXTERNAL_HISTORY = ("No state history is kept of an external bot: its state is derived from what it says (its replies "
                    "to start and stop, its notifications) and its heartbeats, as the reason above tells.")


def _external_controls(client: HiveClient, instance: dict) -> None:
    """Start and stop its strategy by command (its process is not Hive's), unless it cannot be reached; the bot
    answers in its own words (an error reply shows as the failure)."""
    name, state = instance["name"], instance["state"]
    unreachable = state == "error" or "went offline" in instance.get("reason", "")
    why = f"{name} cannot be reached now" if unreachable else None
    buttons = st.container(horizontal=True)
    buttons.button("Start strategy", key="instances_start", disabled=unreachable, on_click=actions.command,
                   args=(client, name, "start"), help=why or "sends the bot the start command")
    buttons.button("Stop strategy", key="instances_stop", disabled=unreachable, on_click=actions.command,
                   args=(client, name, "stop"), help=why or "sends the bot the stop command; it stays connected")
    errors.show_feedback(actions.PREFIX)


def _controls(client: HiveClient, instance: dict) -> None:
    name, state = instance["name"], instance["state"]
    if instance["runtime"] == "external":
        _external_controls(client, instance)
        return
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


def _overview(client: HiveClient, instance: dict) -> None:
    name = instance["name"]
    external = instance["runtime"] == "external"
    changes = [] if external else errors.attempt(f"read the state history of {name}", client.instance_history, name)
    starts = sorted(change["ts"] for change in changes or [] if change["to_state"] == "starting")

    st.markdown("**PnL over time**")
    points = errors.attempt(f"read the PnL of {name}", client.instance_performance, name)
    if points is not None:
        pnl_chart(points, key="instances_pnl_chart", starts=starts)
        if points:
            tables.csv_download("PnL history (CSV)", tables.csv_bytes(points), f"{name}-pnl.csv", "instances_pnl_csv")

    st.markdown("**PnL per strategy**")
    tables.show_table(tables.strategy_pnl_frame(instance.get("strategies", [])), "No strategies.")
    strategy_controls(client, instance)

    st.markdown("**State history**")
    if external:
        st.caption(EXTERNAL_HISTORY)
    elif changes is not None:
        tables.show_table(tables.history_frame(changes), "No state changes yet.", height=250)

    st.markdown("**Commands**")
    st.caption("Every command that reached this bot and changed something: through Hive, or straight over MQTT "
               "from another controller (hbotrc, Hummingbot's API server), as the bot reported it.")
    entries = errors.attempt(f"read the commands of {name}", client.audit_log, COMMANDS_SHOWN, name)
    if entries is not None:
        tables.show_table(tables.commands_frame(entries), "No commands yet.", key="instances_commands", height=250)


def _orders(_client: HiveClient, instance: dict) -> None:
    """From the instance as listed: its strategies' last report, no further call."""
    strategies = instance.get("strategies", [])
    if instance["state"] not in ("running", "starting"):
        st.info("No open orders: the instance is not running. They show while it runs, as its strategies report "
                "them.")
        return
    every = [order | {"strategy": item["id"]} for item in strategies for order in item.get("open_orders", [])]
    total = sum(item.get("open_orders_count", 0) for item in strategies)
    heading = st.container(horizontal=True, vertical_alignment="center")
    heading.markdown(f"**Open orders: {total:,}**")
    if every:
        tables.csv_download("Open orders (CSV)", tables.csv_bytes(every), f"{instance['name']}-open-orders.csv",
                  "instances_orders_csv")
    for item in strategies:
        listed, count = item.get("open_orders", []), item.get("open_orders_count", 0)
        shown = f" (the oldest {len(listed)} shown)" if count > len(listed) else ""
        st.markdown(f"`{item['id']}` · {item['strategy']}: {count:,} open order{'s' if count != 1 else ''}{shown}")
        tables.show_table(tables.open_orders_frame(listed), "No open orders.", key=f"instances_orders_{item['id']}")
    st.markdown("**Balances**")
    tables.show_table(tables.balances_frame(strategies), "No balances reported yet.", key="instances_balances")


def _trades(client: HiveClient, instance: dict) -> None:
    name = instance["name"]
    trades = errors.attempt(f"read the trades of {name}", client.instance_trades, name, CONFIG.TRADES_LIMIT)
    count = errors.attempt(f"count the trades of {name}", client.instance_trades_count, name)
    if trades is None or count is None:
        return
    heading = st.container(horizontal=True, vertical_alignment="center")
    heading.markdown(f"**Trades: showing {len(trades):,} of {count:,}**, newest first. An order id is given with "
                     "its run: a bot numbers its orders afresh on each start.")
    if count:
        exported = f"the newest {TRADES_EXPORTED:,}" if count > TRADES_EXPORTED else f"all {count:,}"
        tables.csv_download(f"Trades (CSV, {exported})",
                            lambda: tables.csv_bytes(client.instance_trades(name, TRADES_EXPORTED)),
                            f"{name}-trades.csv", "instances_trades_csv", place=heading)
    tables.show_table(tables.trades_frame(trades), "No trades yet: they appear as the strategies' orders fill.",
                      key="instances_trades", height=420)


def _logs(client: HiveClient, instance: dict) -> None:
    """With the live tail off, the lines read last stay (until a filter changes), so they can be read at rest."""
    name = instance["name"]
    log_filter = log_filters("instances", [item["id"] for item in instance.get("strategies", [])])
    asked = (name, log_filter.backend_args())
    kept = st.session_state["instances_log_snapshot"]
    if not log_filter.tail and kept is not None and kept["asked"] == asked:
        lines = kept["lines"]
    else:
        lines = errors.attempt(f"read the logs of {name}", client.instance_logs, name, CONFIG.LOG_LINES,
                               **log_filter.backend_args())
        st.session_state["instances_log_snapshot"] = None if lines is None else {"asked": asked, "lines": lines}
    if lines is not None:
        log_view(lines, log_filter, f"{name}-logs.txt", key="instances_logs_download")


def _errors(client: HiveClient, instance: dict) -> None:
    name = instance["name"]
    lines = errors.attempt(f"read the errors of {name}", client.fleet_errors, ERRORS_SHOWN, name)
    if lines is None:
        return
    if not lines:
        st.caption("No errors logged.")
        return
    st.caption(f"The newest {len(lines)} ERROR and CRITICAL lines, by strategy, each with its stack trace.")
    error_groups(lines)


def _resources(client: HiveClient, instance: dict) -> None:
    name = instance["name"]
    if instance["runtime"] == "external":
        st.info(EXTERNAL_RESOURCES, icon=":material/info:")
        return
    samples = errors.attempt(f"read the resource use of {name}", client.instance_resources, name)
    if samples is not None:
        resources_chart(samples, key="instances_resources_chart")


SECTIONS = (_overview, _orders, _trades, _logs, _errors, _resources)


def instance_detail(client: HiveClient, instance: dict) -> None:
    name = instance["name"]
    st.subheader(name)
    badges.state_badge(badges.shown_state(instance), instance.get("reason", ""), key="instances_state")
    version = f" (Hive {instance['image_version']})" if instance.get("image_version") else ""
    placement = f" on {instance['host']} · image {instance['image']}{version}" if instance.get("host") else ""
    since = fmt.clock(instance.get("state_since"))
    st.caption(f"trades on {fmt.venue(instance)} · {instance['runtime']} runtime{placement} · in this state since "
               f"{since}"
               + (f" · pid {instance['pid']}" if instance.get("pid") else "")
               + (f" · {restarts}" if (restarts := fmt.restarts(instance)) else ""))
    _controls(client, instance)
    _summary(instance)

    tabs = st.tabs(TABS, key="instances_detail_tab", on_change="rerun")
    for tab, section in zip(tabs, SECTIONS, strict=True):
        if tab.open is not False:  # None where tabs are not tracked: every tab is drawn
            with tab:
                section(client, instance)
