"""Browser journey fixtures: the real backend, the real dashboard (`streamlit run`), headless Chromium."""
from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright
from playwright.sync_api import Error as PlaywrightError

from tests.conftest import ARTIFACTS, REPO_ROOT, free_port, wait_for_port
from tests.frontend.backend_process import BackendProcess

CHROMIUM = "/usr/bin/chromium"
# The dashboard's live parts refresh as they do by default: an open page costs Chromium and Streamlit about a core
# together at 2 s, nearly two at 1 s, which the other workers' tests would wait for.
REFRESH_SECONDS = 2.0
# A page's answer to a click is a script run against a backend; with the whole suite on two cores (three workers,
# browsers, brokers and bots) one may take longer than Playwright's default of 5 s to show.
expect.set_options(timeout=20_000)
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]


@dataclass
class Dashboard:
    url: str
    backend: BackendProcess
    log_file: Path


@pytest.fixture
def dashboard(tmp_path: Path) -> Iterator[Dashboard]:
    backend = BackendProcess(tmp_path / "data", heartbeat_interval=1.0)
    port = free_port()
    log_file = tmp_path / "streamlit.log"
    env = {**os.environ, "HIVE_BACKEND_URL": backend.url, "HIVE_REFRESH_SECONDS": f"{REFRESH_SECONDS:g}"}
    # The dashboard starts while the backend does: it calls the backend only once a page is opened.
    with open(log_file, "wb") as log:
        streamlit = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", "main.py", "--server.headless", "true",
             "--server.address", "127.0.0.1", "--server.port", str(port), "--browser.gatherUsageStats", "false",
             "--server.fileWatcherType", "none"],
            cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
        )
    try:
        backend.start()
        wait_for_port("127.0.0.1", port, timeout=60)
        yield Dashboard(f"http://127.0.0.1:{port}", backend, log_file)
    finally:
        streamlit.terminate()
        try:
            streamlit.wait(timeout=15)
        except subprocess.TimeoutExpired:
            streamlit.kill()
            streamlit.wait(timeout=10)
        backend.stop()


@pytest.fixture
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium package (make browser)")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[None]:
    """Keep each phase's report on the test, so the page fixture knows whether the test failed; a failed test's
    report also holds what the page said (its alerts, which an aria snapshot leaves out) and the logs' ends."""
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"report_{call.when}", report)
    if call.when == "call" and report.failed:
        for title, text in _failure_context(getattr(item, "funcargs", {})):
            report.sections.append((title, text))


def _failure_context(fixtures: dict) -> list[tuple[str, str]]:
    sections = []
    page = fixtures.get("page")
    if isinstance(page, Page) and not page.is_closed():
        try:
            alerts = page.locator("[data-testid=stAlert], [data-testid=stException]").all_inner_texts()
            text = page.get_by_test_id("stMain").inner_text(timeout=5_000)
        except PlaywrightError as error:
            alerts, text = [f"(could not read the page: {error})"], ""
        sections.append(("the page's alerts", "\n---\n".join(alerts) or "(none)"))
        sections.append(("the page's text", text[:6000]))
    dashboard = fixtures.get("dashboard")
    if isinstance(dashboard, Dashboard):
        sections.append(("the dashboard's log (end)", _tail(dashboard.log_file)))
        sections.append(("the backend's log (end)", dashboard.backend.log_tail(60)))
    return sections


def _tail(path: Path, lines: int = 60) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return f"(no {path.name})"


@pytest.fixture
def page(browser: Browser, request: pytest.FixtureRequest) -> Iterator[Page]:
    # Tall: Streamlit scrolls inside the page, so a screenshot shows only what fits the viewport.
    context = browser.new_context(viewport={"width": 1440, "height": 2400})
    context.set_default_timeout(30_000)
    tab = context.new_page()
    yield tab
    report = getattr(request.node, "report_call", None)
    if report is not None and report.failed:  # what the page showed when it failed, for the one reading CI's log
        ARTIFACTS.mkdir(exist_ok=True)
        tab.screenshot(path=str(ARTIFACTS / f"{request.node.name}-failure.png"), full_page=True)
    context.close()
