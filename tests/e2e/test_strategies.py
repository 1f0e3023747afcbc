"""The Strategies page in headless Chromium against the real backend: upload a file, edit it in the Ace editor
(typed, with underscores drawn and no completion taking Enter), save a new version, the diff shows the change, roll
back (the old source is the latest version again), and a syntax error is refused with its line quoted.
Screenshots go to test-artifacts/strategies-*.png."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from backend.client import HiveClient

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

SOURCE = '''"""A grid of resting orders around the mid price."""
from hive_core.strategy import Strategy


class Grid(Strategy):
    """A grid of resting orders."""

    level_count = 3

    def on_tick(self, now):
        pass
'''
STORED_MS = 30_000  # an upload or a save is checked by hive_core in the sandbox first
# typed after the last line (Ace indents them at class level after `pass`): underscores, and a first line ending in
# a word of the file, where a completion popup would take the Enter that follows
ADDED = ["level_count_max = level_count", "spacing_bps = 25"]


class StrategiesPage:
    def __init__(self, page: Page, artifacts: Path) -> None:
        self.page = page
        self.artifacts = artifacts
        # the editor shown: a replaced one lingers, with no height, while the new one mounts
        self.frame = page.frame_locator('iframe[title="streamlit_ace.streamlit_ace"]:visible')
        self.editor = self.frame.locator("#ace-editor")

    def shot(self, name: str) -> None:
        self.page.screenshot(path=self.artifacts / f"strategies-{name}.png", full_page=True)

    def button(self, label: str):
        return self.page.get_by_role("button", name=label, exact=True)

    def settled(self) -> None:
        """The page's script run is over: a click while Streamlit redraws can land on an element being replaced."""
        expect(self.page.get_by_test_id("stStatusWidget")).to_be_hidden(timeout=30_000)

    def type_at_the_end(self, text: str) -> None:
        """Type into the editor after its last line (the source ends with a newline) as a person does: a new line,
        auto-indented like the line before, then `text`."""
        self.editor.locator(".ace_content").click(force=True)  # the editor's own layers cover its lines
        self.page.keyboard.press("Control+End")
        self.page.keyboard.press("Backspace")  # to the end of the last line with text
        self.page.keyboard.press("Enter")
        self.page.keyboard.type(text, delay=20)
        # auto_update: the page gets the text as it is typed; it says so once it has it
        expect(self.page.get_by_text("Unsaved changes")).to_be_visible(timeout=15_000)
        self.settled()


def test_upload_edit_save_diff_roll_back_and_a_refused_line(dashboard, page: Page, artifacts_dir: Path, tmp_path: Path):
    strategies = StrategiesPage(page, artifacts_dir)
    page.goto(dashboard.url)
    expect(strategies.button("Log in")).to_be_visible(timeout=60_000)
    page.get_by_label("Username").fill(dashboard.backend.username)
    page.get_by_label("Password", exact=True).fill(dashboard.backend.password)
    strategies.button("Log in").click()
    page.get_by_role("link", name="Strategies").click()
    expect(page.get_by_role("heading", name="Strategies")).to_be_visible()

    # upload
    (tmp_path / "grid.py").write_text(SOURCE)
    strategies.settled()
    strategies.button("Upload a strategy").click()
    page.locator("input[type=file]").set_input_files(tmp_path / "grid.py")
    expect(strategies.button("Check and store")).to_be_enabled()
    strategies.button("Check and store").click()
    expect(strategies.editor).to_contain_text("level_count = 3", timeout=STORED_MS)
    strategies.settled()
    strategies.editor.screenshot(path=artifacts_dir / "strategies-editor-underscores.png")
    strategies.shot("uploaded")

    # edit in the editor and save a new version
    strategies.type_at_the_end("\n".join(ADDED))
    for line in ADDED:  # Enter made a new line; no completion popped up to take it
        expect(strategies.editor).to_contain_text(line)
    expect(strategies.frame.locator(".ace_autocomplete")).to_have_count(0)
    strategies.button("Save new version").click()
    # the editor's caption names the new version (the notice is a toast of a few seconds: on a loaded machine the
    # save's sandboxed check may outlast a test's look at it, while the caption stays)
    expect(page.get_by_text(re.compile(r"^Version 2 · saved "))).to_be_visible(timeout=STORED_MS)
    expect(page.get_by_text("Compare two versions")).to_be_visible()
    client = HiveClient(dashboard.backend.url, dashboard.backend.username, dashboard.backend.password)
    versions = client.get_strategy("grid")["versions"]
    assert [(v["version"], v["created_by"]) for v in versions] == [(1, dashboard.backend.username),
                                                                  (2, dashboard.backend.username)]
    assert client.get_strategy("grid")["source"] == SOURCE.rstrip() + "".join(f"\n    {line}" for line in ADDED)

    # the diff v1 -> v2 shows the typed lines
    diff = page.get_by_test_id("stCode").filter(has_text="+++ grid.py v2")
    for line in ADDED:
        expect(diff).to_contain_text(f"+    {line}")
    strategies.shot("diff")

    # roll back to v1: asked first, then a v3 with v1's source
    strategies.button("Roll back to v1").click()
    expect(page.get_by_text("Roll grid back to v1?")).to_be_visible()
    strategies.button("Yes, roll back").click()
    expect(page.get_by_text("Rolled grid back: version 3 has the source of version 1")).to_be_visible(
        timeout=STORED_MS)
    expect(strategies.button("Roll back to v2")).to_be_visible()  # v3 is the latest now
    strategies.settled()
    latest = client.get_strategy("grid")
    assert (latest["version"], latest["source"], latest["versions"][-1]["note"]) == (3, SOURCE, "restored from v1")
    expect(strategies.editor).not_to_contain_text(ADDED[1])
    strategies.shot("rolled-back")

    # a syntax error is refused, naming its line, and the line is quoted
    strategies.type_at_the_end("x = = 1")
    strategies.button("Save new version").click()
    line = len(SOURCE.splitlines()) + 1  # the typed line
    expect(page.get_by_test_id("stAlert").filter(has_text=f"SyntaxError at line {line}")).to_be_visible(
        timeout=STORED_MS)
    expect(page.get_by_text(f"Line {line}:", exact=True)).to_be_visible()
    expect(page.get_by_test_id("stCode").filter(has_text="x = = 1")).to_be_visible()
    assert client.get_strategy("grid")["version"] == 3
    strategies.shot("refused-line")
    client.close()
