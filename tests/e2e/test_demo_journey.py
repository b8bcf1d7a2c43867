"""A person tries the tool from the demo platform in a real browser (Debian's Chromium)."""
from __future__ import annotations

import pytest

from tests.support.browser import ARTEFACTS, launch_from_demo

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("user_id,heading", [
    ("demo-learner-1", "learner"),
    ("demo-instructor-1", "instructor"),
    ("demo-admin-1", "administrator"),
])
def test_launch_from_the_demo_platform(page, live_tool, user_id, heading, request):
    launch_from_demo(page, live_tool, user_id)
    assert page.locator(f"h1[data-audience='{heading}']").is_visible()
    assert "Näringslivsutvecklare" in page.content()
    ARTEFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTEFACTS / f"{request.node.name}.png".replace("/", "_")), full_page=True)


def test_reloading_the_launch_does_not_break_the_page(page, live_tool):
    """A launch is single-use; the landing page it redirected to can be reloaded."""
    page.goto(live_tool.url("/demo"))
    page.click("button[data-user='demo-learner-1']")
    page.wait_for_url("**/home?launch=*")
    page.reload()
    assert page.locator("h1[data-audience='learner']").is_visible()


def test_a_learner_follows_the_link_to_their_progress(page, live_tool):
    page.goto(live_tool.url("/demo"))
    page.click("button[data-user='demo-learner-1']")
    page.wait_for_url("**/home?launch=*")
    page.click("a[data-progress-link]")
    page.wait_for_url("**/learner?launch=*")
    assert page.locator("h1[data-audience='learner']").is_visible()
    # the demo learner has no enrolment until the course is synced: the page says so, in Swedish
    assert "inte anmäld till utbildningen ännu" in page.content()
