"""An instructor places modules from the demo platform in a real browser: link the course, pick, back to the LMS."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from lti_tool.db.demo_lms import DemoLineItem
from tests.support.browser import ARTEFACTS
from tests.support.fake_lms import FakeLms

pytestmark = pytest.mark.browser


def test_an_instructor_links_the_course_and_adds_a_module_and_the_exam(browser, live_tool):  # noqa: F811
    lms = FakeLms(live_tool)  # the demo platform with the example programme imported
    context = browser.new_context(locale="sv-SE")
    page = context.new_page()
    try:
        page.goto(live_tool.url("/demo"))
        page.click("button[data-deep-link]")
        page.wait_for_url("**/course/link?*")  # the course is new to the tool: link it first
        page.check("input[value='full_programme']")
        page.click("form[data-link-form] input[type=submit]")
        page.wait_for_url("**/course/deep-link?*")
        page.check("input[value='module:m03']")
        page.check("input[value='final-exam']")
        page.click("form[data-deep-link-form] input[type=submit]")
        # The response JWT is auto-posted to the demo platform, which checks it and adds the columns.
        page.wait_for_url("**/demo/deep-link-return*")
        assert page.locator("[data-created='2']").is_visible()
        ARTEFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTEFACTS / "deep_linking_return.png"), full_page=True)
    finally:
        context.close()
    with lms.session() as session:
        created = set(session.scalars(select(DemoLineItem.resource_id).where(
            DemoLineItem.resource_link_id.like("dl-%"))))
    assert created == {"module:m03", "final-exam"}
