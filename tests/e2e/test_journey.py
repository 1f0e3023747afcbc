"""The operator's journey (docs/architecture.md, the journey's steps 2-6) in headless Chromium against the real backend.

Broker: Start Broker -> Running. Instances: Create Instance (market_maker) -> Running on heartbeats;
its PnL chart, trades and logs appear; Stop -> Stopped with the reason; Start and Restart -> Running;
Events: publish an external event to bot1 -> it appears in the live event log, delivered; Stop, then
Delete -> gone.
A screenshot of every step goes to test-artifacts/.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.widgets import choose

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

RUNNING_TIMEOUT_MS = 120_000  # process start + first heartbeat
PNL_TIMEOUT_MS = 120_000  # ARCHITECTURE: PnL and trades appear within a minute


class Journey:
    def __init__(self, page: Page, artifacts: Path) -> None:
        self.page = page
        self.artifacts = artifacts
        self.step = 0

    def shot(self, name: str) -> None:
        self.step += 1
        self.page.screenshot(path=self.artifacts / f"journey-{self.step:02d}-{name}.png", full_page=True)

    def button(self, label: str):
        return self.page.get_by_role("button", name=label, exact=True)

    def settled(self) -> None:
        """The page's script run is over: a click while Streamlit redraws can land on an element being replaced."""
        expect(self.page.get_by_test_id("stStatusWidget")).to_be_hidden(timeout=30_000)

    def badge(self, label: str):
        """The state badge of the page's subject (the broker, or the selected instance)."""
        return self.page.locator(".st-key-broker_state, .st-key-instances_state").get_by_text(label, exact=True)

    def reason(self):
        return self.page.locator(".st-key-instances_state").get_by_text(re.compile(r"^Reason: .+"))


def test_operator_journey(dashboard, page: Page, artifacts_dir: Path):
    journey = Journey(page, artifacts_dir)
    page.goto(dashboard.url)

    # log in
    expect(journey.button("Log in")).to_be_visible(timeout=60_000)
    page.get_by_label("Username").fill(dashboard.backend.username)
    page.get_by_label("Password", exact=True).fill(dashboard.backend.password)
    journey.shot("login")
    journey.button("Log in").click()

    # step 2: Broker page -> Start Broker -> Running, with clients, messages/s, CPU and memory
    expect(journey.button("Start Broker")).to_be_enabled()
    expect(journey.badge("Stopped")).to_be_visible()
    journey.shot("broker-stopped")
    journey.button("Start Broker").click()
    expect(journey.badge("Running")).to_be_visible(timeout=30_000)
    for metric in ("Address", "Connected clients", "Messages", "CPU", "Memory"):
        expect(page.get_by_test_id("stMetricLabel").filter(has_text=metric).first).to_be_visible()
    expect(page.get_by_test_id("stMetricValue").first).to_contain_text(str(dashboard.backend.broker_port))
    journey.shot("broker-running")

    # step 3: Instances -> Create Instance (market_maker) -> Created/Starting -> Running on heartbeats
    page.get_by_role("link", name="Instances").click()
    page.get_by_test_id("stExpander").locator("summary").filter(has_text="New instance").click()
    page.get_by_label("Name", exact=True).fill("bot1")
    choose(page, "Strategy 1", "market_maker (builtin)")
    journey.shot("create-form")
    journey.button("Create Instance").click()
    expect(page.get_by_role("heading", name="bot1")).to_be_visible(timeout=30_000)
    expect(journey.badge("Running")).to_be_visible(timeout=RUNNING_TIMEOUT_MS)
    journey.shot("instance-running")

    # step 4: PnL chart and trades appear; step 5: logs stream, filterable per strategy
    chart = page.locator(".st-key-instances_pnl_chart .js-plotly-plot").filter(visible=True).first
    expect(chart).to_be_visible(timeout=PNL_TIMEOUT_MS)
    page.get_by_role("tab", name="Trades").click()
    expect(page.get_by_text(re.compile(r"^Trades: showing [1-9]"))).to_be_visible(timeout=PNL_TIMEOUT_MS)
    page.get_by_role("tab", name="Logs").click()
    expect(page.get_by_text(re.compile(r"^\d[\d,]* lines, newest first"))).to_be_visible(timeout=PNL_TIMEOUT_MS)
    choose(page, "Strategy", "market_maker-1")
    logs = page.get_by_test_id("stCode").last
    expect(logs).to_contain_text("[market_maker-1]", timeout=30_000)
    expect(logs).not_to_contain_text("[hive.", timeout=30_000)  # the runtime's own lines are filtered out
    journey.shot("instance-pnl-trades-logs")

    # step 6: Stop -> Stopped with the reason
    journey.button("Stop").click()
    expect(journey.badge("Stopped")).to_be_visible(timeout=60_000)
    expect(journey.reason()).to_be_visible()
    journey.shot("instance-stopped")

    # Start -> Running; Restart -> Running again
    journey.button("Start").click()
    expect(journey.badge("Running")).to_be_visible(timeout=RUNNING_TIMEOUT_MS)
    journey.shot("instance-started-again")
    journey.button("Restart").click()
    expect(page.get_by_text("Restarting bot1")).to_be_visible(timeout=10_000)  # the action's toast
    expect(journey.badge("Running")).to_be_visible(timeout=RUNNING_TIMEOUT_MS)
    expect(page.get_by_test_id("stAlertContentError")).to_have_count(0)
    journey.shot("instance-restarted")

    # step 7: Events page -> publish an external event -> it appears in the live event log
    page.get_by_role("link", name="Events").click()
    expect(page.get_by_role("heading", name="Publish an event")).to_be_visible(timeout=30_000)
    name = page.get_by_label("Event name", exact=True).first
    name.fill("journey.ping")
    name.press("Enter")
    journey.settled()
    journey.button("Publish event").click()
    expect(page.get_by_text(re.compile(r"^Latest: journey\.ping from user:\w+, published to 1 of 1 bot"))
           ).to_be_visible(timeout=30_000)  # delivered to bot1
    expect(page.get_by_test_id("stDataFrame").last).to_be_visible()
    expect(page.get_by_test_id("stAlertContentError")).to_have_count(0)
    journey.shot("event-published")

    page.get_by_role("link", name="Instances").click()
    expect(page.get_by_role("heading", name="bot1")).to_be_visible(timeout=30_000)

    # Stop, then Delete (asks first) -> gone
    journey.button("Stop").click()
    expect(journey.badge("Stopped")).to_be_visible(timeout=60_000)
    journey.button("Delete").click()
    expect(journey.button("Yes, delete")).to_be_visible()
    journey.shot("delete-confirmation")
    journey.button("Yes, delete").click()
    expect(page.get_by_text("No instances yet", exact=False)).to_be_visible(timeout=30_000)
    expect(page.get_by_role("heading", name="bot1")).to_have_count(0)
    journey.shot("instance-deleted")

    # and the broker stops from its page
    page.get_by_role("link", name="Broker").click()
    journey.button("Stop Broker").click()
    expect(page.get_by_text("No instance is running: none is cut off.", exact=False)).to_be_visible()
    journey.button("Yes, stop the broker").click()
    expect(journey.badge("Stopped")).to_be_visible(timeout=30_000)
    journey.shot("broker-stopped-again")
