"""The instance detail in headless Chromium against the real backend and a real market maker: log search, and the
CSV downloads of trades and PnL history (their content checked), with screenshots in test-artifacts/."""
from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import pytest
from playwright.sync_api import Locator, Page, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from backend.client import HiveClient
from tests.polling import wait_until

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]


def _download(page: Page, button: str, attempts: int = 3) -> str:
    """The file a download button gives. The detail refreshes itself every 2 s, and Streamlit fades what it is
    redrawing: on a loaded machine the button is seldom still long enough for Playwright's wait for a stable element
    (a person clicks it as it is). So it is clicked as it is, and again (bounded) when no download followed."""
    target = page.get_by_role("button", name=re.compile(re.escape(button)))
    expect(target).to_be_visible(timeout=30_000)
    for _ in range(attempts - 1):
        try:
            return _clicked_download(page, target)
        except PlaywrightTimeout:
            continue
    return _clicked_download(page, target)


def _clicked_download(page: Page, target: Locator) -> str:
    with page.expect_download(timeout=15_000) as info:
        target.click(force=True)
    return Path(info.value.path()).read_text()


def test_log_search_and_csv_downloads(dashboard, page: Page, artifacts_dir: Path):
    backend = dashboard.backend
    client = HiveClient(backend.url, backend.username, backend.password)
    client.start_broker()
    client.create_instance({"name": "csv1", "strategies": [{"id": "mm", "strategy": "market_maker"}]})

    page.goto(dashboard.url)
    expect(page.get_by_role("button", name="Log in")).to_be_visible(timeout=60_000)
    page.get_by_label("Username").fill(backend.username)
    page.get_by_label("Password", exact=True).fill(backend.password)
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("link", name="Instances").click()
    expect(page.get_by_role("heading", name="csv1")).to_be_visible(timeout=30_000)

    # the PnL history as CSV, from the overview
    wait_until(lambda: client.instance_performance("csv1"), 60, message="PnL points")
    wait_until(lambda: client.instance_logs("csv1", query="BUY filled"), 90, message="a buy of the market maker")
    pnl = list(csv.DictReader(io.StringIO(_download(page, "PnL history (CSV)"))))
    assert pnl and {"time", "ts", "strategy", "realized", "unrealized", "total"} <= set(pnl[0])
    assert {row["strategy"] for row in pnl} == {"mm"}

    # log search: the backend finds the lines holding the text, whatever its case
    page.get_by_role("tab", name="Logs").click()
    search = page.get_by_role("textbox", name="Search the log", exact=True)
    search.fill("buy FILLED")
    search.press("Enter")
    logs = page.get_by_test_id("stCode").last
    expect(logs).to_contain_text("BUY filled", timeout=30_000)
    expect(logs).not_to_contain_text("SELL filled")
    page.screenshot(path=artifacts_dir / "detail-log-search.png", full_page=True)
    lines = _download(page, "Download lines").splitlines()
    assert lines and all("BUY filled" in line for line in lines)

    # the trades as CSV: every stored fill, each order id with its run
    wait_until(lambda: client.instance_trades_count("csv1") >= 2, 60, message="two fills of the market maker")
    page.get_by_role("tab", name="Trades").click()
    expect(page.get_by_text("Trades: showing")).to_be_visible(timeout=30_000)
    page.screenshot(path=artifacts_dir / "detail-trades.png", full_page=True)
    trades = list(csv.DictReader(io.StringIO(_download(page, "Trades (CSV"))))
    assert len(trades) >= 2 and {"time", "order_id", "run", "side", "price", "amount"} <= set(trades[0])
    stored = {(t["order_id"], str(t["run"])) for t in client.instance_trades("csv1", 10_000)}
    assert {(t["order_id"], t["run"]) for t in trades} <= stored
    assert all(t["order_id"].startswith("mm-") and t["run"] == "1" for t in trades)
    client.close()
