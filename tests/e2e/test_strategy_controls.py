"""In Chromium, on a REAL running instance: stop one strategy while its neighbour trades on, resume it, then
hot-reload another library version of its code; the instance is not restarted, the strategy's PnL is kept, and
the reload (version from -> to) shows in the strategy's history on the page."""
from __future__ import annotations

import re
from pathlib import Path

from playwright.sync_api import Page, expect

from backend.client import HiveClient
from tests.backend.test_strategy_controls import maker_source
from tests.e2e.widgets import choose
from tests.polling import wait_until

NAME = "e2e-ctl"


def strategy(client: HiveClient, strategy_id: str) -> dict:
    return next(item for item in client.get_instance(NAME)["strategies"] if item["id"] == strategy_id)


def statuses(client: HiveClient) -> dict[str, str | None]:
    return {item["id"]: item["status"] for item in client.get_instance(NAME)["strategies"]}


def test_one_strategy_is_stopped_and_hot_reloaded_in_the_browser_keeping_its_pnl(dashboard, page: Page,
                                                                               artifacts_dir: Path):
    backend = dashboard.backend
    client = HiveClient(backend.url, backend.username, backend.password)
    client.start_broker()
    client.upload_strategy("my_maker.py", maker_source("my_maker version one"))
    client.save_strategy("my_maker", maker_source("my_maker version two"))
    client.create_instance({"name": NAME, "restart_policy": {"policy": "never"}, "strategies": [
        {"id": "s1", "strategy": "my_maker", "params": {"spread_bps": 5}},
        {"id": "s2", "strategy": "market_maker", "params": {"spread_bps": 5}}]})

    page.goto(dashboard.url)
    expect(page.get_by_role("button", name="Log in", exact=True)).to_be_visible(timeout=60_000)
    page.get_by_label("Username").fill(backend.username)
    page.get_by_label("Password", exact=True).fill(backend.password)
    page.get_by_role("button", name="Log in", exact=True).click(no_wait_after=True)
    page.get_by_role("link", name="Instances").click()
    expect(page.get_by_text("my_maker version 2 · running", exact=True)).to_be_visible(timeout=30_000)
    pid = client.get_instance(NAME)["pid"]

    page.get_by_role("button", name="Stop strategy", exact=True).click(no_wait_after=True)
    wait_until(lambda: statuses(client) == {"s1": "stopped", "s2": "running"}, 15, message="s1 alone stopped")
    history = page.get_by_text(re.compile(r"^Last: "))   # the newest line of the strategy's history
    expect(history).to_contain_text("stop for s1", timeout=15_000)
    expect(page.get_by_text("my_maker version 2 · stopped", exact=True)).to_be_visible(timeout=15_000)
    page.screenshot(path=artifacts_dir / "strategy-controls-1-one-strategy-stopped.png", full_page=True)
    page.get_by_role("button", name="Resume strategy", exact=True).click(no_wait_after=True)
    wait_until(lambda: statuses(client) == {"s1": "running", "s2": "running"}, 15, message="s1 resumed")

    before = wait_until(lambda: (pnl := strategy(client, "s1")["pnl"])["volume"] > 0 and pnl, 60, message="s1 traded")
    choose(page, "Version of my_maker (runs version 2 now)", "1")
    page.get_by_role("button", name="Reload code", exact=True).click(no_wait_after=True)
    expect(history).to_contain_text("strategy/reload for s1: my_maker version 2 → 1", timeout=15_000)
    expect(page.get_by_text("my_maker version 1 · running", exact=True)).to_be_visible(timeout=15_000)
    after = wait_until(lambda: (item := strategy(client, "s1"))["pnl"]["volume"] > before["volume"] and item, 30,
                       message="s1 trading on after the reload")
    assert after["version"] == 1 and after["pnl"]["volume"] >= before["volume"]   # the PnL went on from where it was
    reloads = [entry["detail"] for entry in client.strategy_history(NAME, "s1", 10) if "reload" in entry["detail"]]
    assert reloads == ["strategy/reload for s1: my_maker version 2 → 1"]   # one click, one reload
    assert client.get_instance(NAME)["pid"] == pid and client.get_instance(NAME)["state"] == "running"
    page.screenshot(path=artifacts_dir / "strategy-controls-2-reloaded-version-1.png", full_page=True)
    client.stop_instance(NAME)
    client.close()
