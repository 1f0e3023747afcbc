"""The instance detail's tabs and the Orders & errors page, against the real backend and a real hive_core instance
(a market maker and a strategy that fails on every tick)."""
from __future__ import annotations

import pytest

from backend.client import HiveClient
from tests.backend.test_api_detail import FAILING
from tests.frontend.helpers import errors, rerun_until, table_with

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]


def _open_tab(at, label: str):
    at.session_state["instances_detail_tab"] = label
    return at.run()


def _codes(at) -> list[str]:
    return [code.value for code in at.code]


def test_detail_tabs_and_the_fleet_page_show_orders_trades_logs_and_errors(app, backend):
    client = HiveClient(backend.url, backend.username, backend.password)
    client.start_broker()
    client.upload_strategy("failing.py", FAILING)
    client.create_instance({"name": "tabs1", "strategies": [
        {"id": "mm", "strategy": "market_maker"}, {"id": "bad", "strategy": "failing", "interval": 0.5}]})
    at = app.switch_page("pages/instances/app.py").run()

    # Overview: the PnL chart (one marker: the first start) and the strategies; no other tab's content is read
    rerun_until(at, lambda page: len(page.get("plotly_chart")) == 1, timeout=90)
    assert "instances_log_query" not in [box.key for box in at.text_input]  # the Logs tab is not drawn
    assert {"Strategy id", "Realized"} <= set(table_with(at, "Strategy id").columns)

    # Orders: the market maker's open orders with side and age, and each strategy's balances
    _open_tab(at, "Orders")
    rerun_until(at, lambda page: any("Side" in frame.value.columns for frame in page.dataframe), timeout=60)
    orders = table_with(at, "Side")
    assert orders["Order"].str.startswith("mm-").all() and set(orders["Side"]) <= {"BUY", "SELL"}
    assert set(table_with(at, "USDT")["Strategy"]) == {"mm", "bad"}
    assert any(markdown.value.startswith("**Open orders: ") for markdown in at.markdown)

    # Trades: counted, each order id with its run
    _open_tab(at, "Trades")
    rerun_until(at, lambda page: any("Fee" in frame.value.columns for frame in page.dataframe), timeout=90)
    assert table_with(at, "Fee")["Order"].str.endswith(" · run 1").all()
    [heading] = [m.value for m in at.markdown if m.value.startswith("**Trades: showing")]
    shown, total = heading.removeprefix("**Trades: showing ").split("**")[0].split(" of ")
    assert 1 <= int(shown) <= int(total.replace(",", ""))

    # Logs: the search is the backend's (any case); with the live tail off the lines stay as read
    _open_tab(at, "Logs")
    at.text_input(key="instances_log_query").input("RUNTIMEERROR: BOOM").run()
    [text] = _codes(at)
    assert text and all("RuntimeError: boom" in line for line in text.splitlines() if "[bad]" in line)
    assert "[mm]" not in text
    at.text_input(key="instances_log_query").input("").run()
    at.toggle(key="instances_log_tail").set_value(False).run()
    [frozen] = _codes(at)
    rerun_until(at, lambda page: client.instance_logs("tabs1", limit=1)[-1]["msg"] not in frozen, timeout=30)
    assert _codes(at) == [frozen]  # a newer line is stored, the view stays
    at.toggle(key="instances_log_tail").set_value(True).run()
    assert _codes(at) != [frozen]

    # Errors: grouped by strategy, each with its stack trace
    _open_tab(at, "Errors")
    [group] = [expander.label for expander in at.expander if expander.label.startswith("bad:")]
    assert " errors, last at " in group or " error, last at " in group
    assert any("Traceback" in code and "boom" in code for code in _codes(at))
    assert not errors(at)

    # the fleet page: the same open orders with their instance, and the errors by instance and strategy
    page = app.switch_page("pages/instances/orders.py").run()
    rerun_until(page, lambda p: any("Instance" in frame.value.columns for frame in p.dataframe), timeout=30)
    fleet = table_with(page, "Instance")
    assert set(fleet["Instance"]) == {"tabs1"} and set(fleet["Strategy"]) == {"mm"}
    assert any(expander.label.startswith("tabs1 / bad:") for expander in page.expander)
    page.selectbox(key="orders_pair").select("All pairs")
    page.text_input(key="orders_strategy").input("nobody").run()
    assert any("No open orders match these filters." in caption.value for caption in page.caption)
    assert not errors(page)
    client.stop_instance("tabs1")
    client.close()
