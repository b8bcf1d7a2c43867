"""An LMS administrator opens the tool from the demo platform (Debian's Chromium) and lands on their page, then in
the admin console; every page passes axe-core at 1280 and 320 px."""
from __future__ import annotations

import pytest

from tests.support.accessibility import assert_focus_visible, check_page
from tests.support.certificates import ADMIN, seed
from tests.support.lms import DemoLms

pytestmark = pytest.mark.browser


def test_an_administrator_lands_on_their_page_and_opens_the_console(browser, live_tool):
    seed(DemoLms(live_tool), {})  # the example programme, so the console has one to show
    context = browser.new_context(locale="sv-SE", viewport={"width": 1280, "height": 800})
    try:
        page = context.new_page()
        page.goto(live_tool.url("/demo"))
        page.click(f"button[data-user='{ADMIN}']")
        page.wait_for_url("**/home?launch=*")
        assert page.locator("h1[data-audience='administrator']").inner_text() == "Administration"
        check_page(page, "administrator", "home")
        assert assert_focus_visible(page, "administrator home") >= 3

        page.click("a[data-console-link]")
        page.wait_for_url("**/admin/**")
        assert page.locator("[data-signed-in='lms-admin']").is_visible()
        check_page(page, "administrator", "console")
        page.click("a[href*='/programmes']")
        page.wait_for_url("**/programmes*")
        check_page(page, "administrator", "programmes")
    finally:
        context.close()
