"""The admin console in a real browser (Debian's Chromium): an operator's and an LMS administrator's journeys."""
from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest

from lti_tool.db.session import get_session
from lti_tool.services.platforms import NewPlatform, add_platform
from lti_tool.services.programme_file import parse_programme_file
from lti_tool.services.programmes import import_programme, load_programme
from tests.support.browser import ARTEFACTS
from tests.support.admin import PASSWORD, add_operator
from tests.support.lms import DemoLms

pytestmark = pytest.mark.browser
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "fei-programme.toml"
DEPLOYMENT_CLAIM = "https://purl.imsglobal.org/spec/lti/claim/deployment_id"


@pytest.fixture
def demo(live_tool):
    lms = DemoLms(live_tool)
    with live_tool.app.app_context():
        import_programme(get_session(), lms.registration_id, parse_programme_file(EXAMPLE.read_text("utf-8")),
                         datetime.now(timezone.utc))
        get_session().commit()
    return lms


def new_page(browser, **options):  # noqa: F811
    context = browser.new_context(**options)
    return context, context.new_page()


def fits_the_width(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth")


def test_an_operator_signs_in_approves_a_pending_deployment_and_edits_the_exam_pass_mark(
        browser, live_tool, demo):  # noqa: F811
    email = add_operator(live_tool.app)
    _, waiting = demo.launch_as("demo-learner-1", **{DEPLOYMENT_CLAIM: "new-dep"})
    assert waiting.status_code == 403

    context, page = new_page(browser, locale="en-GB", viewport={"width": 320, "height": 720})
    try:
        page.goto(live_tool.url("/admin/"))
        page.wait_for_url(lambda url: "/admin/login" in url and "next=" in url)
        page.fill("#email", email)
        page.fill("#password", PASSWORD)
        page.press("#password", "Enter")  # the keyboard is enough
        page.wait_for_url("**/admin/")
        assert fits_the_width(page)
        page.click(f"tr[data-registration='{demo.registration_id}'] a")
        row = page.locator("tr[data-deployment='new-dep']")
        assert "Waiting for approval" in row.inner_text()
        row.locator("button[data-action='activate-deployment']").click()
        page.wait_for_load_state()
        assert "Deployment new-dep is active" in page.locator("[role=status]").first.inner_text()
        assert "Active" in page.locator("tr[data-deployment='new-dep']").inner_text()
        ARTEFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTEFACTS / "admin_registration_320px.png"), full_page=True)

        _, landed = demo.launch_as("demo-learner-1", **{DEPLOYMENT_CLAIM: "new-dep"})
        assert landed.status_code == 200

        page.click("a[href*='/programmes']")
        page.click("tr[data-programme='FEI-NLU'] a")
        page.click("a[href$='/edit']")
        page.fill("#exam_pass_mark_percent", "70")
        page.press("#exam_pass_mark_percent", "Enter")  # Enter saves (it does not add a module)
        page.wait_for_url("**/programmes/FEI-NLU")
        assert "Saved as version 2" in page.content()
        assert page.locator("dd[data-field='exam_pass_mark']").inner_text().strip() == "70 %"
        assert fits_the_width(page)
        page.screenshot(path=str(ARTEFACTS / "admin_programme_320px.png"), full_page=True)
    finally:
        context.close()
    with live_tool.app.app_context():
        assert load_programme(get_session(), demo.registration_id, "FEI-NLU").version == 2


def test_cecilia_reaches_the_console_of_her_own_platform_only(browser, live_tool, demo):  # noqa: F811
    with live_tool.app.app_context():
        other = add_platform(get_session(), NewPlatform(
            issuer="https://moodle.other.example", client_id="other", auth_login_url="https://moodle.other.example/a",
            auth_token_url="https://moodle.other.example/t", key_set_url="https://moodle.other.example/k",
            name="Another customer"), datetime.now(timezone.utc)).id
        get_session().commit()
    context, page = new_page(browser, locale="sv-SE")
    try:
        page.goto(live_tool.url("/demo"))
        page.click("button[data-user='demo-admin-1']")
        page.wait_for_url("**/home?launch=*")
        page.click("a[data-console-link]")
        page.wait_for_url(lambda url: f"/admin/registrations/{demo.registration_id}?" in url and "launch=" in url)
        assert page.locator(f"h1[data-registration='{demo.registration_id}']").is_visible()
        assert page.locator("[data-signed-in='lms-admin']").is_visible()
        assert "Another customer" not in page.content()
        launch = page.url.split("launch=")[1].split("&")[0]

        page.click("a[href*='/admin/launches']")
        assert page.locator("tr[data-launch-outcome]").count() >= 1
        assert "Another customer" not in page.content()

        response = page.goto(live_tool.url(f"/admin/registrations/{other}?launch={launch}"))
        assert response.status == 404
    finally:
        context.close()
