"""Learners open the tool from the demo platform (Debian's Chromium): where they stand, what is left, in their
language; every page passes axe-core at 1280 and 320 px."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest
from sqlalchemy import select

from lti_tool.db.session import get_session
from lti_tool.db.tenancy import Context
from lti_tool.demo import seed as demo_seed
from lti_tool.services.course_links import FULL_PROGRAMME
from lti_tool.services.results import recompute_cohort_statuses
from lti_tool.services.sync import sync_course
from lti_tool.web.sync_jobs import sync_environment
from tests.support.admin import csrf_token
from tests.support.accessibility import assert_focus_visible, check_page
from tests.support.certificates import ANNA, ERIK, import_example, seed
from tests.support.browser import launch_from_demo
from tests.support.lms import DemoLms, launch_id

pytestmark = pytest.mark.browser


@pytest.fixture
def context(browser, live_tool):
    # The browser prefers English: the launch's locale (sv-SE, from the demo platform) must win.
    context = browser.new_context(locale="en-GB", viewport={"width": 1280, "height": 800})
    yield context
    context.close()


def demo_course_synced(lms: DemoLms) -> None:
    """The demo course linked to the example programme by its instructor and read from the demo platform's
    gradebook: Anna has passed everything, Erik has five modules, failed module 6 and not taken the exam."""
    with lms.app.app_context():
        session = get_session()
        cohort_id = import_example(session, lms.registration_id).id
        session.commit()
    instructor, landing = lms.launch_as("demo-instructor-1")
    link_url = lms.tool.url(f"/course/link?launch={launch_id(landing)}")
    linked = instructor.post(link_url, data={"csrf_token": csrf_token(instructor.get(link_url).text),
                                             "cohort": cohort_id, "kind": FULL_PROGRAMME, "module": ""},
                             allow_redirects=False)
    assert linked.status_code == 303, linked.text[:500]
    with lms.app.app_context():
        course_id = get_session().scalar(select(Context.id).where(Context.id_on_platform == demo_seed.COURSE["id"]))
        outcome = sync_course(sync_environment(lms.app), course_id, trigger="cli")
    assert outcome.state == "succeeded", outcome


def test_a_learner_sees_each_module_what_is_left_and_switches_to_english(context, live_tool):
    lms = DemoLms(live_tool)
    demo_course_synced(lms)
    page = context.new_page()

    page.goto(live_tool.url("/demo"))
    check_page(page, "learner", "demo-platform")
    page.click(f"button[data-user='{ERIK}']")
    page.wait_for_url("**/home?launch=*")
    assert page.locator("html").get_attribute("lang") == "sv"
    assert page.locator("h1[data-audience='learner']").inner_text() == "Mina framsteg"
    check_page(page, "learner", "home")

    page.click("a[data-progress-link]")
    page.wait_for_url("**/learner?launch=*")
    states = {row.get_attribute("data-module"): row.get_attribute("data-state")
              for row in page.locator("tr[data-module][data-state]").all()}
    assert states == {**{f"m{n:02}": "completed" for n in range(1, 6)}, "m06": "below_pass_mark",
                      **{f"m{n:02}": "not_graded" for n in range(7, 13)}}
    assert "5 av 12 moduler klara." in page.locator("p[data-state]").inner_text()
    left = page.locator("ul.reasons").inner_text().replace("\xa0", " ")
    assert "Exempelmodul 6: Fysisk planering och mark för näringslivet: 0 %, gräns för godkänt" in left, left
    assert "Exempelmodul 7: Kompetensförsörjning är inte bedömd ännu." in left, left
    assert "Slutprovet är inte gjort ännu." in left, left
    check_page(page, "learner", "progress-sv")
    assert assert_focus_visible(page, "learner progress") >= 2

    # Keyboard only: focus the English link of the language switch and press Enter.
    page.focus("nav[data-language-nav] a[data-lang='en']")
    page.keyboard.press("Enter")
    page.wait_for_url("**/learner?*lang=en*")
    assert page.locator("html").get_attribute("lang") == "en"
    assert page.locator("h1[data-audience='learner']").inner_text() == "My progress"
    left = page.locator("ul.reasons").inner_text()
    assert "Example module 7: Skills supply is not graded yet." in left, left
    assert "The final exam has not been taken yet." in left, left
    assert "5 of 12 modules completed." in page.content()
    check_page(page, "learner", "progress-en")

    launch_from_demo(page, live_tool, ANNA)  # everything passed: certified, nothing left
    page.click("a[data-progress-link]")
    page.wait_for_url("**/learner?launch=*")
    assert page.locator("p[data-state='certified']").inner_text() == "Du är certifierad."
    assert page.locator("ul.reasons").count() == 0
    check_page(page, "learner", "progress-certified")


def test_a_module_only_learner_sees_how_to_upgrade(context, live_tool):
    lms = DemoLms(live_tool)
    cohort_id = seed(lms, {ERIK: {"module_keys": ("m01",), "passed": ("m01",), "exam": False}})
    with lms.app.app_context():  # the statuses, as the next sync computes them
        recompute_cohort_statuses(get_session(), lms.registration_id, cohort_id, datetime.now(timezone.utc))
        get_session().commit()
    page = context.new_page()
    launch_from_demo(page, live_tool, ERIK)
    page.click("a[data-progress-link]")
    page.wait_for_url("**/learner?launch=*")
    notice = page.locator("p.notice[data-state]")
    assert "Du kan när som helst gå över till hela utbildningen" in notice.inner_text()
    assert page.locator("tr[data-module='m01'][data-state='completed']").is_visible()
    assert page.locator("tr[data-module='m02']").count() == 0
    assert page.locator("tr[data-module='final-exam']").count() == 0
    check_page(page, "learner", "progress-module-only")
