"""The instructor's dashboard for their own course's cohort, reached from a real launch."""
from __future__ import annotations

import csv
import io
import re
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from lti_tool.db.course_sync import SyncRunRecord
from lti_tool.db.programmes import CohortRecord, RegionRecord
from lti_tool.db.session import get_session
from lti_tool.db.tenancy import Context, LmsUser
from lti_tool.domain.enrolment import EnrolmentKind
from lti_tool.domain.results import ModuleResult, Score
from lti_tool.services.course_links import link_course
from lti_tool.services.programme_file import parse_programme_file
from lti_tool.services.programmes import import_programme
from lti_tool.services.results import enrol, recompute_cohort_statuses, record_result
from tests.support.lms import DemoLms, launch_id

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "fei-programme.toml"
NOW = datetime.now(timezone.utc) - timedelta(days=1)


@pytest.fixture
def lms(live_tool) -> DemoLms:
    return DemoLms(live_tool)



def linked_course_with_learners(lms: DemoLms) -> dict[str, int]:
    """Anna with three modules (m03 regraded down), Erik module-only; the demo course linked to the cohort."""
    for user in ("demo-learner-1", "demo-learner-2", "demo-instructor-1"):
        lms.launch_as(user)
    with lms.app.app_context():
        session = get_session()
        import_programme(session, lms.registration_id, parse_programme_file(EXAMPLE.read_text("utf-8")), NOW)
        cohort = session.scalar(select(CohortRecord).where(CohortRecord.registration_id == lms.registration_id))
        context = session.scalar(select(Context))
        link_course(session, registration_id=lms.registration_id, context_id=context.id, cohort_id=cohort.id,
                    kind="full_programme", module_key=None, linked_by=None, now=NOW)
        users = {u.id_on_platform: u.id for u in session.scalars(select(LmsUser))}
        regions = {r.key: r.id for r in session.scalars(select(RegionRecord)
                                                        .where(RegionRecord.registration_id == lms.registration_id))}
        anna = enrol(session, registration_id=lms.registration_id, cohort_id=cohort.id,
                     lms_user_id=users["demo-learner-1"], kind=EnrolmentKind.FULL_PROGRAMME,
                     region_id=regions[sorted(regions)[0]], now=NOW)
        erik = enrol(session, registration_id=lms.registration_id, cohort_id=cohort.id,
                     lms_user_id=users["demo-learner-2"], kind=EnrolmentKind.MODULE_ONLY,
                     module_keys=frozenset({"m01"}), now=NOW)
        for key in ("m01", "m02", "m03"):
            record_result(session, anna.id, ModuleResult(module_key=key, score=Score(Decimal(1), Decimal(1)),
                                                         graded_at=NOW, source=f"li:{key}"), NOW)
        record_result(session, anna.id, ModuleResult(module_key="m03", score=Score(Decimal(0), Decimal(1)),
                                                     graded_at=NOW + timedelta(hours=1), source="li:m03"), NOW)
        recompute_cohort_statuses(session, lms.registration_id, cohort.id, datetime.now(timezone.utc))
        session.commit()
        return {"anna": anna.id, "erik": erik.id}


def test_dashboard_shows_the_matrix_counts_and_chart(lms):
    linked_course_with_learners(lms)
    browser, landing = lms.launch_as("demo-instructor-1")
    page = browser.get(lms.tool.url(f"/instructor/dashboard?launch={launch_id(landing)}&lang=en"))
    assert page.status_code == 200
    html = page.text
    assert 'data-user="demo-learner-1" data-state="in_progress"' in html
    assert 'data-user="demo-learner-2" data-state="not_eligible"' in html
    assert 'data-module="m01" data-completed="1"' in html  # Anna completed module 1, Erik has no grade yet
    assert 'data-module="m03" data-completed="0"' in html  # the regrade took Anna's completion away
    assert "<script" not in html.split("<main>", 1)[1]  # the chart is plain SVG


def test_filters_and_search(lms):
    linked_course_with_learners(lms)
    browser, landing = lms.launch_as("demo-instructor-1")
    html = browser.get(lms.tool.url(f"/instructor/dashboard?launch={launch_id(landing)}&kind=module_only")).text
    assert 'data-user="demo-learner-2"' in html and 'data-user="demo-learner-1"' not in html
    html = browser.get(lms.tool.url(f"/instructor/dashboard?launch={launch_id(landing)}&q=anna")).text
    assert 'data-user="demo-learner-1"' in html and 'data-user="demo-learner-2"' not in html


def test_the_region_filter_lists_the_regions_and_narrows_the_matrix(lms):
    linked_course_with_learners(lms)
    with lms.app.app_context():
        first = get_session().execute(select(RegionRecord.key, RegionRecord.name)
                                      .where(RegionRecord.registration_id == lms.registration_id)
                                      .order_by(RegionRecord.key)).first()
    browser, landing = lms.launch_as("demo-instructor-1")
    url = lms.tool.url(f"/instructor/dashboard?launch={launch_id(landing)}&lang=en")
    html = browser.get(url).text
    assert f'<option value="{first.key}" >{first.name}</option>' in html
    html = browser.get(f"{url}&region={first.key}").text
    assert 'data-user="demo-learner-1"' in html and 'data-user="demo-learner-2"' not in html
    assert f'<option value="{first.key}" selected>' in html


def test_sync_now_on_the_dashboard_starts_a_sync_and_comes_back(lms):
    linked_course_with_learners(lms)
    browser, landing = lms.launch_as("demo-instructor-1")
    url = lms.tool.url(f"/instructor/dashboard?launch={launch_id(landing)}&lang=en")
    html = browser.get(url).text
    assert 'data-last-sync="never"' in html
    token = re.search(r'data-sync-line>\s*<input type="hidden" name="csrf_token" value="([^"]+)"', html).group(1)
    action = re.search(r'<form method="post" action="([^"]+)" class="filters" data-sync-line', html).group(1)
    answer = browser.post(lms.tool.url(action.replace("&amp;", "&")),
                          data={"csrf_token": token, "next": "dashboard"}, allow_redirects=False)
    assert answer.status_code == 303 and "/instructor/dashboard?" in answer.headers["Location"]
    assert "notice=sync-started" in answer.headers["Location"]
    lms.app.extensions["sync_jobs"].wait(timeout=30)
    with lms.app.app_context():
        assert get_session().scalar(select(SyncRunRecord.trigger)) == "manual"
    assert 'data-last-sync="never"' not in browser.get(url).text


def test_participant_history_keeps_the_regrade(lms):
    ids = linked_course_with_learners(lms)
    browser, landing = lms.launch_as("demo-instructor-1")
    html = browser.get(lms.tool.url(f"/instructor/participants/{ids['anna']}?launch={launch_id(landing)}&lang=en")).text
    assert html.count('data-kind="module"') == 4 and html.count('data-regrade="true"') == 1


def test_participant_history_shows_swedish_time(lms):
    ids = linked_course_with_learners(lms)
    browser, landing = lms.launch_as("demo-instructor-1")
    html = browser.get(lms.tool.url(f"/instructor/participants/{ids['anna']}?launch={launch_id(landing)}&lang=sv")).text
    local = NOW.astimezone(ZoneInfo("Europe/Stockholm")).strftime("%Y-%m-%d %H:%M")
    assert f">{local}</time>" in html and NOW.strftime(" %H:%M</time>") not in html


def test_csv_export_downloads_everyone(lms):
    linked_course_with_learners(lms)
    browser, landing = lms.launch_as("demo-instructor-1")
    response = browser.get(lms.tool.url(f"/instructor/export.csv?launch={launch_id(landing)}&lang=en"))
    assert response.status_code == 200 and "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert {row["lms_user_id"] for row in rows} == {"demo-learner-1", "demo-learner-2"}
    anna = next(row for row in rows if row["lms_user_id"] == "demo-learner-1")
    assert (anna["m01"], anna["m03"], anna["status"]) == ("completed", "below_pass_mark", "in_progress")


def test_learners_cannot_see_the_dashboard_or_exports(lms):
    linked_course_with_learners(lms)
    browser, landing = lms.launch_as("demo-learner-1")
    for path in ("/instructor/dashboard", "/instructor/export.csv", "/instructor/participants/1"):
        assert browser.get(lms.tool.url(f"{path}?launch={launch_id(landing)}")).status_code == 403


def test_a_participant_of_another_cohort_is_not_found(lms):
    ids = linked_course_with_learners(lms)
    browser, landing = lms.launch_as("demo-instructor-1")
    response = browser.get(lms.tool.url(f"/instructor/participants/{ids['erik'] + 1000}?launch={launch_id(landing)}"))
    assert response.status_code == 404
