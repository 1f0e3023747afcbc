"""The login survives a reload and a second tab (the `hive_session` cookie), Log out ends it; the dashboard
survives its backend: stopped, every page keeps its last state under a banner, and recovers by itself, without a
reload, when the backend is back. In headless Chromium against the real backend and `streamlit run`.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import REFRESH_SECONDS

pytestmark = [pytest.mark.timeout(300)]

BANNER = re.compile(r"Backend unreachable since \d\d:\d\d:\d\d, showing data from \d\d:\d\d:\d\d — retrying every "
                    rf"{REFRESH_SECONDS:g} s")


def log_in(page: Page, username: str, password: str) -> None:
    expect(page.get_by_role("button", name="Log in")).to_be_visible(timeout=60_000)
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Log in").click()


def logged_in(page: Page) -> None:
    expect(page.get_by_role("button", name="Log out")).to_be_visible(timeout=30_000)
    expect(page.get_by_role("button", name="Start Broker")).to_be_visible()  # the Broker page, read from the backend


def session_cookie(page: Page) -> dict | None:
    return next((c for c in page.context.cookies() if c["name"] == "hive_session"), None)


def test_the_login_survives_reloads_and_tabs_and_the_dashboard_survives_its_backend(dashboard, page: Page,
                                                                                   artifacts_dir: Path):
    backend = dashboard.backend
    page.goto(dashboard.url)
    log_in(page, backend.username, backend.password)
    logged_in(page)

    # the browser keeps the session: a cookie, same-site only, expiring with the session (12 h)
    page.wait_for_function("document.cookie.includes('hive_session=')", timeout=10_000)
    cookie = session_cookie(page)
    assert cookie is not None and cookie["sameSite"] == "Strict" and cookie["path"] == "/"
    assert cookie["value"] != backend.password and len(cookie["value"]) >= 40
    expires_in = cookie["expires"] - page.evaluate("Date.now() / 1000")
    assert 11.9 * 3600 < expires_in <= 12 * 3600

    page.reload()
    logged_in(page)
    expect(page.get_by_role("button", name="Log in")).to_have_count(0)
    page.screenshot(path=artifacts_dir / "session-01-after-reload.png", full_page=True)

    second = page.context.new_page()
    second.goto(f"{dashboard.url}/instances")
    expect(second.get_by_role("button", name="Log out")).to_be_visible(timeout=30_000)
    expect(second.get_by_role("heading", name="Instances")).to_be_visible()
    second.close()

    # the backend stops: the page keeps its last state under a banner, and comes back by itself
    broker_state = page.locator(".st-key-broker_state").get_by_text("Stopped", exact=True)
    expect(broker_state).to_be_visible()
    backend.stop()
    banner = page.locator(".st-key-backend_offline")
    expect(banner).to_contain_text(BANNER, timeout=15_000)
    expect(broker_state).to_be_visible()
    expect(page.get_by_test_id("stException")).to_have_count(0)
    page.screenshot(path=artifacts_dir / "session-02-backend-unreachable.png", full_page=True)

    backend.start()  # the same port and data dir: the session outlives the restart
    expect(banner).to_have_count(0, timeout=30_000)
    logged_in(page)
    expect(broker_state).to_be_visible()
    page.get_by_role("button", name="Start Broker").click()  # it acts again, with the same session
    expect(page.locator(".st-key-broker_state").get_by_text("Running", exact=True)).to_be_visible(timeout=30_000)
    page.screenshot(path=artifacts_dir / "session-03-backend-back.png", full_page=True)

    # Log out ends it: the cookie is gone and a reload shows the login form
    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("button", name="Log in")).to_be_visible(timeout=30_000)
    page.wait_for_function("!document.cookie.includes('hive_session=')", timeout=30_000)
    ended = page.evaluate("localStorage.getItem('hive_session_ended')")  # so no later write brings it back
    assert re.fullmatch(r"[0-9a-f]{32}", ended) and ended not in cookie["value"]
    page.reload()
    expect(page.get_by_role("button", name="Log in")).to_be_visible(timeout=30_000)
    expect(page.get_by_role("button", name="Log out")).to_have_count(0)
