"""The fleet table in headless Chromium: select two rows of three running instances, Stop selected, confirm; the
two stop and the third keeps running. Screenshots of each step go to test-artifacts/."""
from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from backend.client import HiveClient
from tests.polling import wait_until

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

ROW_PX = 35  # the height of the table's header and of each row (st.dataframe's default)
NAMES = ("fleet-a", "fleet-b", "fleet-c")


def test_selecting_two_rows_and_stopping_them(dashboard, page: Page, artifacts_dir: Path):
    client = HiveClient(dashboard.backend.url, dashboard.backend.username, dashboard.backend.password, timeout=60)
    client.start_broker()
    for name in NAMES:
        client.create_instance({"name": name, "strategies": [{"id": "mm", "strategy": "market_maker"}],
                                "restart_policy": {"policy": "never"}})
    wait_until(lambda: [i["state"] for i in client.fleet()] == ["running"] * 3, 90, message="three running")

    page.goto(dashboard.url)
    page.get_by_label("Username").fill(dashboard.backend.username)
    page.get_by_label("Password", exact=True).fill(dashboard.backend.password)
    page.get_by_role("button", name="Log in", exact=True).click()
    page.get_by_role("link", name="Instances").click()
    table = page.locator(".st-key-instances_table")
    expect(table).to_be_visible(timeout=30_000)
    running = page.get_by_test_id("stMetric").filter(has_text="Running").get_by_test_id("stMetricValue")
    expect(running).to_have_text("3 of 3", timeout=30_000)
    page.screenshot(path=artifacts_dir / "fleet-01-table.png", full_page=True, animations="disabled")

    for row in (0, 1):  # the selection checkboxes at the rows' left, where the table is now (a banner may move it)
        box = table.bounding_box()
        assert box is not None
        page.mouse.click(box["x"] + 18, box["y"] + ROW_PX * (row + 1) + ROW_PX / 2)
        if row == 0:
            expect(page.get_by_role("button", name="Stop selected (1)", exact=True)).to_be_visible(timeout=30_000)
    stop = page.get_by_role("button", name="Stop selected (2)", exact=True)
    expect(stop).to_be_visible(timeout=30_000)
    # the row clicked last opens below
    expect(page.get_by_role("heading", name="fleet-b")).to_be_visible(timeout=30_000)
    page.screenshot(path=artifacts_dir / "fleet-02-two-selected.png", full_page=True, animations="disabled")

    stop.click()
    confirm = page.get_by_role("button", name="Yes, stop 2", exact=True)
    expect(page.get_by_text("fleet-a, fleet-b?")).to_be_visible(timeout=30_000)
    page.screenshot(path=artifacts_dir / "fleet-03-confirm.png", full_page=True, animations="disabled")
    confirm.click()
    expect(page.get_by_text("Stopped 2: fleet-a, fleet-b")).to_be_visible(timeout=60_000)
    expect(running).to_have_text("1 of 3", timeout=30_000)
    page.screenshot(path=artifacts_dir / "fleet-04-stopped.png", full_page=True, animations="disabled")

    assert [(i["name"], i["state"]) for i in client.fleet()] == [
        ("fleet-a", "stopped"), ("fleet-b", "stopped"), ("fleet-c", "running")]
    client.close()
