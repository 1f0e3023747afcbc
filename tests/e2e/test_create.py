"""Create Instance in headless Chromium against the real backend and hive_core: the form refuses a bad field under
it, a success collapses and clears it, and the start is followed step by step up to the first heartbeat; a strategy
that raises while the instance starts fails the start at the step it failed, with the process's own log.
Screenshots go to test-artifacts/create-*.png.
"""
from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from backend.client import HiveClient

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]

STEP_TIMEOUT_MS = 60_000
FAULTY = '''"""Raises while its instance starts: a strategy whose start fails."""
import sys

from hive_core.strategy import Strategy

if "run" in sys.argv:  # the instance's start, not the library's look at the file
    raise RuntimeError("no venue keys configured: refusing to start")


class Faulty(Strategy):
    """Never trades."""

    def on_tick(self, now: float) -> None:
        pass
'''


def _client(dashboard) -> HiveClient:
    """The test's own client, with the broker started (instances need it even to be created)."""
    client = HiveClient(dashboard.backend.url, dashboard.backend.username, dashboard.backend.password)
    client.start_broker()
    return client


def _log_in_and_open_the_form(page: Page, dashboard) -> None:
    page.goto(dashboard.url)
    log_in = page.get_by_role("button", name="Log in", exact=True)
    expect(log_in).to_be_visible(timeout=60_000)
    page.get_by_label("Username").fill(dashboard.backend.username)
    page.get_by_label("Password", exact=True).fill(dashboard.backend.password)
    log_in.click()
    page.get_by_role("link", name="Instances").click()
    page.get_by_test_id("stExpander").locator("summary").filter(has_text="New instance").click()
    expect(page.get_by_label("Name", exact=True)).to_be_visible()


def _settled(page: Page) -> None:
    expect(page.get_by_test_id("stStatusWidget")).to_be_hidden(timeout=30_000)


def _type(page: Page, label: str, text: str) -> None:
    box = page.get_by_label(label, exact=True)
    box.fill(text)
    box.press("Enter")  # Streamlit takes a text input's value on Enter (or blur)
    _settled(page)


def _choose(page: Page, label: str, option: str) -> None:
    box = page.get_by_label(label, exact=True)
    box.click()
    box.fill(option)
    box.press("Enter")
    expect(box).to_have_value(option)
    _settled(page)


def _create(page: Page) -> None:
    page.get_by_role("button", name="Create Instance", exact=True).click()


def _progress(page: Page):
    return page.locator(".st-key-instances_startup_view")


def test_create_with_progress_up_to_the_first_heartbeat(dashboard, page: Page, artifacts_dir: Path):
    client = _client(dashboard)
    _log_in_and_open_the_form(page, dashboard)
    try:
        _type(page, "Name", "bad name!")
        _create(page)
        expect(page.get_by_text("Must be 1-63 letters, digits, '_' or '-', starting with a letter or digit "
                                "(got 'bad name!').")).to_be_visible()
        expect(page.get_by_text("Not created: 1 field to fix, marked above.")).to_be_visible()
        page.screenshot(path=artifacts_dir / "create-01-field-refused.png", full_page=True)
        assert client.list_instances() == []

        _type(page, "Name", "e2e-bot")
        expect(page.get_by_text("Not created:")).to_be_hidden()
        _create(page)

        progress = _progress(page)
        expect(progress.get_by_text("e2e-bot is running")).to_be_visible(timeout=STEP_TIMEOUT_MS)
        for step in ("created · ", "process started · ", "first heartbeat · "):
            expect(progress.get_by_test_id("stExpander").filter(has_text=step)).to_be_visible(timeout=30_000)
        expect(progress.get_by_text("image ready: not needed for a process")).to_be_visible()
        expect(page.get_by_label("Name", exact=True)).to_be_hidden()  # the form collapsed
        page.screenshot(path=artifacts_dir / "create-02-progress-running.png", full_page=True)

        page.get_by_test_id("stExpander").locator("summary").filter(has_text="New instance").click()
        expect(page.get_by_label("Name", exact=True)).to_have_value("")  # cleared for the next one
        assert client.get_instance("e2e-bot")["state"] == "running"

        progress.get_by_role("button", name="Dismiss").click()
        expect(progress).to_be_hidden()
    finally:
        client.close()


def test_a_strategy_raising_at_start_fails_the_start_naming_the_step_and_showing_its_log(
        dashboard, page: Page, artifacts_dir: Path):
    client = _client(dashboard)
    client.upload_strategy("faulty.py", FAULTY)
    _log_in_and_open_the_form(page, dashboard)
    try:
        _type(page, "Name", "doomed")
        _choose(page, "Strategy 1", "faulty (uploaded)")
        _choose(page, "Restart policy", "never")  # its log stays that of the failed start
        _create(page)

        progress = _progress(page)
        expect(progress.get_by_text("doomed did not start: first heartbeat failed.")).to_be_visible(
            timeout=STEP_TIMEOUT_MS)
        for step in ("process started · ", "first heartbeat failed · "):
            expect(progress.get_by_test_id("stExpander").filter(has_text=step)).to_be_visible(timeout=30_000)
        log = progress.get_by_test_id("stText")
        expect(log).to_contain_text("RuntimeError: no venue keys configured: refusing to start", timeout=30_000)
        page.screenshot(path=artifacts_dir / "create-03-progress-failed.png", full_page=True)
    finally:
        client.close()
