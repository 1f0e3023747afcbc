"""Tables the pages show: each builder turns the backend's JSON into a readable frame."""
from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Literal

import pandas as pd
import streamlit as st

from frontend import downloads
from frontend import format as fmt
from frontend.badges import label_css, shown_state, state_label

STATE_COLUMNS = ("State", "From", "To")
ROW_PX, HEADER_PX = 35, 38  # st.dataframe's row and header heights


def show_table(frame: pd.DataFrame, empty: str, key: str | None = None, height: int | Literal["auto"] = "auto") -> None:
    """A read-only table; state columns are coloured like the badges. A `height` in pixels is the most it takes: a
    table of a few rows is no taller than they are, instead of trailing empty lines."""
    if frame.empty:
        st.caption(empty)
        return
    states = [column for column in STATE_COLUMNS if column in frame.columns]
    styled = frame.style.format(precision=4, na_rep="–").map(label_css, subset=states)
    if height != "auto":
        height = min(height, HEADER_PX + ROW_PX * len(frame) + 2)
    st.dataframe(styled, hide_index=True, key=key, height=height)


def instances_frame(instances: list[dict]) -> pd.DataFrame:
    """The fleet table, one row per instance in the order given (the listing's summary view is enough): PnL and
    volume as numbers in the instance's unit (its quote asset, or "mixed"), resource use in words."""
    rows = [
        {
            "Name": item["name"],
            "Runtime": f"{item['runtime']} @ {item['host']}" if item.get("host") else item["runtime"],
            "Venue": fmt.venue(item),
            "State": state_label(shown_state(item)),
            "Reason": item.get("reason", ""),
            "Uptime": fmt.duration(item.get("uptime_s")),
            "Strategies": item.get("strategy_count", len(item.get("strategies", []))),
            "Realized": item.get("pnl", {}).get("realized", 0.0),
            "Unrealized": item.get("pnl", {}).get("unrealized", 0.0),
            "Volume": item.get("pnl", {}).get("volume", 0.0),
            "Unit": item.get("pnl_unit") or "–",
            "Trades": item.get("trade_count", 0),
            "Heartbeat": fmt.age(item.get("last_heartbeat_age_s")),
            "CPU": fmt.percent(item.get("cpu_percent")),
            "Memory": fmt.size(item.get("memory_bytes")),
            "Network": fmt.traffic(item.get("network_rx_bytes"), item.get("network_tx_bytes")),
        }
        for item in instances
    ]
    return pd.DataFrame(rows)


def feed_frame(upstreams: list[dict]) -> pd.DataFrame:
    """The market-data service's venue endpoints: one connection each, one subscription per stream, and how many
    instances take each stream."""
    rows = [
        {
            "Venue": item["stream_url"],
            "Connected": "yes" if item["connected"] else "no",
            "Behind the venue": fmt.lag(item.get("lag_ms")),
            "Streams": len(item["streams"]),
            "Instances per stream": ", ".join(f"{stream} ×{count}" for stream, count in item["streams"].items())
            or "–",
            "Messages": item["messages"],
            "Gaps resynced": item["resyncs"],
            "Reconnects": item["reconnects"],
        }
        for item in upstreams
    ]
    return pd.DataFrame(rows)


def docker_hosts_frame(hosts: list[dict]) -> pd.DataFrame:
    rows = []
    for item in hosts:
        health = item.get("health") or {}
        rows.append({
            "Name": item["name"],
            "URL": item["url"],
            "TLS": "yes" if item.get("tls") else "–",
            "Health": health.get("status", "unknown") + (f": {health['error']}" if health.get("error") else ""),
            "Engine": health.get("version") or "–",
            "Containers": f"{health.get('running') or 0} of {health.get('containers') or 0} running"
            if health.get("containers") is not None else "–",
            "Checked": fmt.clock(health.get("checked_at")),
        })
    return pd.DataFrame(rows)


def images_frame(images: list[dict]) -> pd.DataFrame:
    rows = [
        {
            "Image": ", ".join(item["tags"]) or item["id"][:19],
            "Version": item.get("version") or "–",
            "Size": fmt.size(item.get("size_bytes")),
            "Created": fmt.clock(item.get("created_at")),
        }
        for item in images
    ]
    return pd.DataFrame(rows)


def credentials_frame(credentials: list[dict]) -> pd.DataFrame:
    rows = [
        {
            "Name": item["name"],
            "Venue": item["venue"],
            "API key": item["api_key_hint"],
            "Passphrase": "set" if item["has_passphrase"] else "–",
            "Used by": ", ".join(item["instances"]) or "–",
            "Updated": fmt.clock(item["updated_at"]),
        }
        for item in credentials
    ]
    return pd.DataFrame(rows)


def broker_logins_frame(logins: list[dict]) -> pd.DataFrame:
    rows = [
        {
            "Login": item["username"],
            "Role": item["role"],
            "Topics": "every topic" if item["role"] in ("backend", "controller") else f"bot {item['scope']}",
            "Made by": item.get("created_by") or "–",
            "Created": fmt.clock(item["created_at"]),
        }
        for item in logins
    ]
    return pd.DataFrame(rows)


def broker_clients_frame(clients: list[dict]) -> pd.DataFrame:
    """Who is connected to the broker; for an external broker, the bots heard on it (no client id, no address)."""
    rows = [
        {
            "Client id": item.get("client_id") or "–",
            "Login": item.get("username") or "–",
            "Bot / instance": item["who"],
            "Address": item.get("address") or "–",
            "Connected since": fmt.clock(item.get("since")),
        }
        | ({"Last heard": fmt.clock(item["last_heard"])} if item.get("last_heard") is not None else {})
        for item in clients
    ]
    return pd.DataFrame(rows)


def strategy_pnl_frame(strategies: list[dict]) -> pd.DataFrame:
    rows = [
        {
            "Strategy id": item["id"],
            "Strategy": item["strategy"] + (f" v{item['version']}" if item.get("version") else ""),
            "Status": item.get("status") or "–",
            "Realized": item.get("pnl", {}).get("realized", 0.0),
            "Unrealized": item.get("pnl", {}).get("unrealized", 0.0),
            "Total": item.get("pnl", {}).get("total", 0.0),
            "Volume": item.get("pnl", {}).get("volume", 0.0),
            "Error": item.get("error") or "",
        }
        for item in strategies
    ]
    return pd.DataFrame(rows)


def trades_frame(trades: list[dict]) -> pd.DataFrame:
    rows = [
        {
            "Time": fmt.clock(item["ts"]),
            "Strategy": item.get("strategy") or "–",
            "Pair": item["trading_pair"],
            "Side": item["side"],
            "Price": item["price"],
            "Amount": item["amount"],
            "Fee": item["fee"],
            "Order": order_key(item),
        }
        for item in sorted(trades, key=lambda trade: trade["ts"], reverse=True)
    ]
    return pd.DataFrame(rows)


def order_key(trade: dict) -> str:
    """The order id qualified by its run: a bot numbers its orders afresh on each start, so `mm-000001` recurs."""
    run = trade.get("run")
    return f"{trade['order_id']} · run {run}" if run else trade["order_id"]


def open_orders_frame(orders: list[dict], now: float | None = None) -> pd.DataFrame:
    """Open orders (of one strategy, or the fleet's when they carry `instance` and `strategy`) with their age."""
    now = time.time() if now is None else now
    return pd.DataFrame([_open_order_row(item, now) for item in orders])


def _open_order_row(item: dict, now: float) -> dict:
    owner = {label: item[field] for label, field in (("Instance", "instance"), ("Strategy", "strategy"))
             if field in item}
    return owner | {
        "Order": item["order_id"],
        "Pair": item["trading_pair"],
        "Side": item["side"],
        "Price": item.get("price"),
        "Amount": item["amount"],
        "Filled": item.get("filled_amount", 0.0),
        "Age": fmt.duration(now - item["created_at"]) if fmt.present(item.get("created_at")) else "–",
    }


def balances_frame(strategies: list[dict]) -> pd.DataFrame:
    """One row per strategy, one column per asset it holds."""
    rows = [{"Strategy": item["id"], **item["balances"]} for item in strategies if item.get("balances")]
    return pd.DataFrame(rows)


def csv_bytes(records: list[dict]) -> bytes:
    """The backend's records as CSV, as they came (numbers unrounded, ids whole), with `time` in ISO 8601 (UTC)
    first when they carry epoch seconds."""
    frame = pd.DataFrame(records)
    for field in ("ts", "timestamp", "created_at"):
        if field in frame.columns:
            frame.insert(0, "time", [datetime.fromtimestamp(ts, UTC).isoformat() if fmt.present(ts) else ""
                                     for ts in frame[field]])
            break
    return frame.to_csv(index=False).encode()


def csv_download(label: str, data: bytes | Callable[[], bytes], file_name: str, key: str, *, basis: object = None,
                 place: Any = st, disabled: bool = False) -> None:
    """A download button for CSV (`data`, or a callable that makes it): see frontend/downloads.py for `basis`."""
    downloads.download(label, data, file_name, key, mime="text/csv", basis=basis, place=place, disabled=disabled)


def history_frame(changes: list[dict]) -> pd.DataFrame:
    rows = [
        {
            "Time": fmt.clock(item["ts"]),
            "From": state_label(item["from_state"]) if item.get("from_state") else "–",
            "To": state_label(item["to_state"]),
            "Reason": item.get("reason", ""),
        }
        for item in sorted(changes, key=lambda change: change["ts"], reverse=True)
    ]
    return pd.DataFrame(rows)


def commands_frame(entries: list[dict]) -> pd.DataFrame:
    """The audit entries of the commands that reached one bot, newest first, with who sent them and by which path."""
    rows = [
        {
            "Time": fmt.clock(item["ts"]),
            "Command": item.get("detail", ""),
            "Outcome": item.get("outcome", ""),
            "By": item.get("actor", ""),
            "Path": "MQTT, not through Hive" if item.get("origin") == "mqtt" else "Hive",
        }
        for item in entries if item.get("action") == "command"
    ]
    return pd.DataFrame(rows)


def audit_frame(entries: list[dict]) -> pd.DataFrame:
    """Audit entries as the Activity page lists them: when, who, what and the result."""
    rows = [
        {
            "Time": fmt.clock(item["ts"]),
            "Who": item.get("actor", ""),
            "Action": item.get("action", ""),
            "Result": item.get("outcome", ""),
            "Instance": item.get("instance") or "–",
            "Strategy": item.get("strategy") or "–",
            "What": item.get("detail", ""),
        }
        for item in entries
    ]
    return pd.DataFrame(rows)


def strategies_frame(strategies: list[dict]) -> pd.DataFrame:
    rows = [
        {
            "Name": item["name"],
            "Kind": "shipped" if item["kind"] == "builtin" else "uploaded",
            "Version": f"v{item['version']}" if item.get("version") else "–",
            "Description": " ".join(item.get("description", "").split("\n\n")[0].split()),  # first paragraph
            "Updated": fmt.clock(item.get("updated_at")),
        }
        for item in strategies
    ]
    return pd.DataFrame(rows)


def versions_frame(versions: list[dict]) -> pd.DataFrame:
    """A strategy's versions, newest first, with who saved each and the instances configured with it."""
    rows = [
        {
            "Version": f"v{item['version']}",
            "Author": item.get("created_by") or "unknown",
            "Saved": fmt.clock(item["created_at"]),
            "Size": fmt.size(item["size"]),
            "Note": item.get("note") or "",
            "Run by": ", ".join(item.get("instances") or []) or "–",
        }
        for item in sorted(versions, key=lambda version: version["version"], reverse=True)
    ]
    return pd.DataFrame(rows)


def templates_frame(templates: list[dict]) -> pd.DataFrame:
    """Configuration templates: `{"name", "strategy", "params"}` each."""
    rows = [
        {
            "Name": item["name"],
            "Strategy": item.get("strategy") or "–",
            "Params": ", ".join(f"{key}={value}" for key, value in item["params"].items()) or "–",
        }
        for item in templates
    ]
    return pd.DataFrame(rows)
