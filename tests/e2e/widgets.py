"""Driving Streamlit's widgets in the browser the way that holds while the page refreshes itself."""
from __future__ import annotations

from playwright.sync_api import Page, expect


def choose(page: Page, label: str, option: str) -> None:
    """Pick `option` in the selectbox labelled `label`. Typing filters the list and Enter picks it: a click on an
    option can miss, since a click that lands while the page redraws may leave the list closed (seen in CI)."""
    box = page.get_by_label(label, exact=True)
    box.click()
    box.fill(option)
    box.press("Enter")
    expect(box).to_have_value(option)
