"""Orders & errors page: the open orders of every running instance, with filters and totals, and the errors of
every instance with their stack traces. Refreshes itself."""
from __future__ import annotations

import streamlit as st

import CONFIG
from frontend import errors, session, tables
from frontend.logs import error_groups

ALL_INSTANCES = "All instances"
ALL_PAIRS = "All pairs"
ERRORS_SHOWN = 200

client = session.client()

st.title("Orders & errors")
st.caption("What every instance has resting on the venues, as its strategies last reported it (up to 50 orders a "
           "strategy), and what went wrong where.")


def _choice(label: str, options: list[str], key: str) -> str:
    """A selectbox whose kept choice falls back to the first option when it is gone (an instance deleted)."""
    if st.session_state.get(key) not in options:
        st.session_state[key] = options[0]
    return st.selectbox(label, options, key=key)


def _totals(orders: list[dict]) -> None:
    count, instances, sides, notional = st.columns(4)
    count.metric("Open orders", f"{len(orders):,}", border=True)
    instances.metric("Instances quoting", len({order["instance"] for order in orders}), border=True)
    buys = sum(order["side"] == "BUY" for order in orders)
    sides.metric("Buy / sell", f"{buys:,} / {len(orders) - buys:,}", border=True)
    notional.metric("Open notional (quote)", f"{sum(_open_value(order) for order in orders):,.2f}", border=True,
                    help="price × unfilled amount, summed over the limit orders shown")


def _open_value(order: dict) -> float:
    price = order.get("price") or 0.0
    return price * max(order["amount"] - (order.get("filled_amount") or 0.0), 0.0)


@st.fragment(run_every=CONFIG.REFRESH_SECONDS)
def fleet_orders_and_errors() -> None:
    orders = errors.attempt("read the open orders", client.open_orders)
    lines = errors.attempt("read the errors", client.fleet_errors, ERRORS_SHOWN)
    if orders is None or lines is None:
        return
    names = sorted({order["instance"] for order in orders} | {line["instance"] for line in lines})
    instance_box, strategy_box, pair_box = st.columns(3)
    with instance_box:
        instance = _choice("Instance", [ALL_INSTANCES, *names], "orders_instance")
    with pair_box:
        pair = _choice("Pair", [ALL_PAIRS, *sorted({order["trading_pair"] for order in orders})], "orders_pair")
    strategy = strategy_box.text_input("Strategy id", key="orders_strategy", placeholder="all strategies").strip()

    def wanted(item: dict) -> bool:
        return (instance in (ALL_INSTANCES, item["instance"])
                and (not strategy or strategy == (item.get("strategy") or ""))
                and pair in (ALL_PAIRS, item.get("trading_pair", pair)))

    shown = [order for order in orders if wanted(order)]
    st.subheader("Open orders")
    _totals(shown)
    if shown:
        tables.csv_download("Open orders (CSV)", tables.csv_bytes(shown), "open-orders.csv", "orders_csv",
                            basis=(instance, strategy, pair))
    tables.show_table(tables.open_orders_frame(shown), "No open orders" + (" match these filters." if orders else
                      ": no running instance reports any."), key="orders_table")

    st.subheader("Errors")
    failures = [line for line in lines if wanted(line)]
    if not failures:
        st.caption("No errors logged" + (" that match these filters." if lines else "."))
        return
    st.caption(f"The newest {len(failures)} ERROR and CRITICAL lines (of the fleet's newest {ERRORS_SHOWN}), by "
               "instance and strategy, each with its stack trace.")
    error_groups(failures, with_instance=True)


fleet_orders_and_errors()
