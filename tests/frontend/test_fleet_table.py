"""The fleet table on the Instances page: totals, filters and sort by the backend, a selected row opens its
instance below and stays selected as the rows move, bulk Start / Stop with confirmation and per-instance
failures in words, Delete disabled while running, and the crash alert with its Acknowledge button."""
from __future__ import annotations

import os
import signal

import pytest

from backend.client import HiveClient
from tests.frontend.helpers import errors, rerun_until, table_with
from tests.polling import wait_until

PAGE = "pages/instances/app.py"
NEVER = {"policy": "never"}


def create(client: HiveClient, name: str, pair: str = "BTC-USDT", **extra) -> None:
    client.create_instance({"name": name, "strategies": [{"id": "mm", "strategy": "market_maker"}],
                            "trading_pairs": [pair], "start": False, "restart_policy": NEVER, **extra})


def names(at) -> list[str]:
    return list(table_with(at, "Heartbeat")["Name"])


def select_rows(at, rows: list[int]):
    at.session_state["instances_table"] = {"selection": {"rows": rows, "columns": [], "cells": []}}
    return at.run()


def metric(at, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


def test_totals_filters_sort_and_a_selected_row_opens_below_and_stays_selected(app, client):
    create(client, "alpha")
    create(client, "bravo")
    create(client, "charlie", pair="ETH-BTC")
    at = app.switch_page(PAGE).run()

    assert names(at) == ["alpha", "bravo", "charlie"]
    row = table_with(at, "Heartbeat").iloc[2].to_dict()
    assert (row["State"], row["Unit"], row["Strategies"], row["Trades"], row["Uptime"]) == (
        "Created", "BTC", 1, 0, "–")
    assert metric(at, "Running") == "0 of 3"
    assert any(m.label == "Realized PnL (mixed)" for m in at.metric)  # USDT and BTC: summed, said to be mixed

    at.text_input(key="instances_filter_text").input("BRA").run()
    assert names(at) == ["bravo"]
    at.text_input(key="instances_filter_text").input("nobody").run()
    assert any("No instance matches the filters" in info.value for info in at.info)
    at.text_input(key="instances_filter_text").input("").run()
    at.multiselect(key="instances_filter_states").select("running").run()
    assert any("No instance matches the filters" in info.value for info in at.info)
    at.multiselect(key="instances_filter_states").unselect("running").select("created").run()
    assert names(at) == ["alpha", "bravo", "charlie"]

    at.toggle(key="instances_sort_descending").set_value(True).run()
    assert names(at) == ["charlie", "bravo", "alpha"]
    select_rows(at, [0])  # charlie
    assert at.selectbox(key="instances_selected").value == "charlie"
    assert any(h.value == "charlie" for h in at.subheader)

    at.toggle(key="instances_sort_descending").set_value(False).run()  # charlie moves to the last row
    assert names(at) == ["alpha", "bravo", "charlie"]
    assert list(at.session_state["instances_table"]["selection"]["rows"]) == [2]
    assert at.session_state["instances_picked"] == ["charlie"]
    assert at.selectbox(key="instances_selected").value == "charlie"


@pytest.mark.timeout(240)
@pytest.mark.slow
def test_bulk_start_and_confirmed_stop_with_failures_in_words_delete_disabled_and_the_crash_alert(app, client):
    for name in ("alpha", "bravo", "charlie"):
        create(client, name)
    at = app.switch_page(PAGE).run()
    assert at.button(key="instances_bulk_start").disabled  # nothing selected

    select_rows(at, [0, 1])
    assert at.session_state["instances_picked"] == ["alpha", "bravo"]
    at.button(key="instances_bulk_start").click().run()  # a start of several needs no confirmation
    assert any(s.value.startswith("Started 2: alpha, bravo") for s in at.success)
    # the totals and the table are two reads: both are waited for, as either may be a refresh behind the other
    rerun_until(at, lambda page: list(table_with(page, "Heartbeat")["State"])[:2] == ["Running", "Running"]
                and metric(page, "Running") == "2 of 3", 90)

    at.selectbox(key="instances_selected").select("alpha").run()
    delete = at.button(key="instances_delete")
    assert delete.disabled and "stop it first" in delete.help

    select_rows(at, [0, 1, 2])
    at.button(key="instances_bulk_start").click().run()  # alpha and bravo run already: refused, in words
    assert any(s.value.startswith("Started 1: charlie") for s in at.success)
    failures = [e for e in errors(at) if e.startswith("**Could not start")]
    assert len(failures) == 2 and all("it cannot be started now" in e for e in failures), failures
    at.button(key="instances_bulk_dismiss").click().run()

    select_rows(at, [1, 2])
    at.button(key="instances_bulk_stop").click().run()  # several: asks first
    assert any("Stop **2 instances**: bravo, charlie?" in w.value for w in at.warning)
    assert client.get_instance("bravo")["state"] in ("starting", "running")
    at.button(key="instances_bulk_confirm").click().run()
    assert any(s.value.startswith("Stopped 2: bravo, charlie") for s in at.success)
    assert {client.get_instance(n)["state"] for n in ("bravo", "charlie")} <= {"stopping", "stopped"}

    pid = client.get_instance("alpha")["pid"]
    os.kill(pid, signal.SIGKILL)
    rerun_until(at, lambda page: any("alpha** crashed: killed by SIGKILL" in e for e in errors(page)), 30)
    [alert] = client.alerts(unacknowledged=True)
    at.button(key=f"instances_alert_ack_{alert['id']}").click().run()
    assert not any("crashed" in e for e in errors(at))
    wait_until(lambda: client.alerts(unacknowledged=True) == [], 5)


def test_the_dashboard_benchmark_renders_every_row_and_times_it() -> None:
    from benchmarks.dashboard import measure

    result = measure(3, repeats=1)
    assert result["instances"] == 3 and result["build_ms"] > 0 and result["render_ms"] > 0
