"""One headless Debian Chromium for every browser journey (Playwright's sync API allows one per thread)."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.support.browser import CHROMIUM, playwright_api


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail(f"Chromium not found at {CHROMIUM}: .ci/run installs Debian's chromium")
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    with playwright_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--no-first-run"])
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, live_tool):
    """A fresh page in a browser that prefers Swedish, as the participants' browsers do."""
    context = browser.new_context(locale="sv-SE")
    page = context.new_page()
    yield page
    context.close()
