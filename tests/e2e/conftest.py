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

from tests.conftest import ARTIFACTS, REPO_ROOT, free_port, wait_for_port
from tests.frontend.backend_process import BackendProcess

CHROMIUM = "/usr/bin/chromium"
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
    backend.start()
    port = free_port()
    log_file = tmp_path / "streamlit.log"
    env = {**os.environ, "HIVE_BACKEND_URL": backend.url, "HIVE_REFRESH_SECONDS": "1"}
    with open(log_file, "wb") as log:
        streamlit = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", "main.py", "--server.headless", "true",
             "--server.address", "127.0.0.1", "--server.port", str(port), "--browser.gatherUsageStats", "false",
             "--server.fileWatcherType", "none"],
            cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
        )
    try:
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
    """Keep each phase's report on the test, so the page fixture knows whether the test failed."""
    outcome = yield
    setattr(item, f"report_{call.when}", outcome.get_result())


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
