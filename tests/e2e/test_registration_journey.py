"""An LMS administrator installs the tool with Dynamic Registration in a real browser, then the first launch."""
from __future__ import annotations

import time
from urllib.parse import quote

import pytest

from tests.support.browser import ARTEFACTS, playwright_api
from tests.support.registration_platforms import ADMINISTRATOR, LEARNER, FakeCanvas, FakeMoodle

pytestmark = pytest.mark.browser
expect = playwright_api.expect
CLOSED = "document.getElementById('status').textContent === 'closed'"


@pytest.fixture
def page(browser, live_tool):  # noqa: F811
    context = browser.new_context(locale="en-GB")
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def canvas():
    platform = FakeCanvas().start()
    yield platform
    platform.stop()


@pytest.fixture
def moodle():
    platform = FakeMoodle().start()
    yield platform
    platform.stop()


def open_registration(page, platform, live_tool) -> None:
    """The LMS's "add a tool" page, which shows the tool's registration URL in an iframe."""
    page.goto(platform.base_url + "/admin/register?tool=" + quote(live_tool.base_url, safe=""))


def close_messages(platform) -> list:
    # The LMS page reports the message to its server asynchronously; give it a moment to arrive.
    for _ in range(100):
        if platform.closed_messages:
            break
        time.sleep(0.05)
    return platform.closed_messages


def screenshot(page, request, step: str) -> None:
    ARTEFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTEFACTS / f"{request.node.name}-{step}.png".replace("/", "_")), full_page=True)


def test_canvas_administrator_registers_the_tool_and_launches_it(page, live_tool, canvas, request):
    open_registration(page, canvas, live_tool)
    tool = page.frame_locator("#tool")
    expect(tool.locator("[data-scopes] li")).to_have_count(5)
    expect(tool.locator("[data-placements]")).to_contain_text("course_navigation")
    screenshot(page, request, "confirm")
    tool.locator("[data-action=register]").click()

    # Every service granted, nothing to activate: the tool hands the administrator straight back.
    page.wait_for_function(CLOSED)
    assert close_messages(canvas) == [{"subject": "org.imsglobal.lti.close"}]
    screenshot(page, request, "closed")

    # Canvas names the deployment in the first launch; the tool approves that first one.
    page.goto(canvas.base_url + f"/launch?client_id={canvas.only_tool.client_id}&user={ADMINISTRATOR.sub}")
    page.wait_for_url("**/home?launch=*")
    expect(page.locator("h1[data-audience='administrator']")).to_be_visible()
    screenshot(page, request, "first-launch")


def test_moodle_administrator_registers_activates_and_a_learner_launches(page, live_tool, moodle, request):
    open_registration(page, moodle, live_tool)
    tool = page.frame_locator("#tool")
    tool.locator("input[name=name]").fill("Moodle, Lycksele kommun")
    tool.locator("[data-action=register]").click()

    # Moodle adds the tool pending: the page says to activate it, and waits to be closed.
    expect(tool.locator("[data-pending-in-lms]")).to_be_visible()
    expect(tool.locator("[data-deployment-id]")).to_have_text(moodle.only_tool.deployment_id)
    expect(page.locator("#status")).to_have_text("registering")
    screenshot(page, request, "registered")
    tool.locator("[data-action=close]").click()
    page.wait_for_function(CLOSED)
    assert close_messages(moodle) == [{"subject": "org.imsglobal.lti.close"}]

    launch = moodle.base_url + f"/launch?client_id={moodle.only_tool.client_id}&user={LEARNER.sub}"
    assert page.goto(launch).status == 409  # pending in Moodle: not launchable yet
    moodle.activate()  # the administrator activates it in Moodle
    page.goto(launch)
    page.wait_for_url("**/home?launch=*")
    expect(page.locator("h1[data-audience='learner']")).to_be_visible()
    assert "Lisa Lindqvist" in page.content()
    screenshot(page, request, "first-launch")
