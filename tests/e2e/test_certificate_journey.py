"""A certified learner opens the tool from the demo platform, downloads the certificate, and an
employer checks it on the public verification page (Debian's Chromium)."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.support.browser import ARTEFACTS
from tests.support.certificates import ANNA, ANNA_NAME, certification_of, issue, pdf_text, seed
from tests.support.lms import DemoLms

playwright_api = pytest.importorskip("playwright.sync_api")
pytestmark = pytest.mark.browser


@pytest.fixture
def context(browser, live_tool):  # noqa: F811
    context = browser.new_context(locale="sv-SE", accept_downloads=True)
    yield context
    context.close()


def test_a_certified_learner_downloads_the_certificate_and_anyone_can_verify_it(context, live_tool, tmp_path):
    lms = DemoLms(live_tool)
    issue(lms, seed(lms, {ANNA: {}}))  # results synced and the server's decision made, before the visit
    code = certification_of(lms.app, ANNA).code

    page = context.new_page()
    page.goto(live_tool.url("/demo"))
    page.click(f"button[data-user='{ANNA}']")
    page.wait_for_url("**/home?launch=*")
    page.click("a[data-certificates-link]")
    page.wait_for_url("**/certificates?launch=*")
    mine = page.locator(f"[data-section='own'] li[data-code='{code}']")
    assert mine.is_visible()
    assert "Certifierad näringslivsutvecklare" in mine.inner_text()
    assert mine.locator("[data-validity='valid']").is_visible()
    ARTEFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTEFACTS / "certificate-journey-list.png"), full_page=True)

    with page.expect_download() as download:
        mine.locator("a[data-download='pdf-sv']").click()
    saved = tmp_path / download.value.suggested_filename
    download.value.save_as(saved)
    assert saved.suffix == ".pdf" and code in saved.name
    text = pdf_text(Path(saved).read_bytes())
    assert ANNA_NAME in text and "Certifierad näringslivsutvecklare" in text and code in text

    with context.expect_page() as opened:
        mine.locator("a[data-link='verify']").click()
    verification = opened.value
    verification.wait_for_load_state()
    assert re.search(rf"/verify/{code}$", verification.url)
    assert verification.locator("[data-validity='valid']").is_visible()
    assert verification.locator("[data-signature='valid']").is_visible()
    assert verification.locator("[data-fact='name']").inner_text() == ANNA_NAME
    verification.screenshot(path=str(ARTEFACTS / "certificate-journey-verify.png"), full_page=True)
