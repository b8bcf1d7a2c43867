"""The instructor's course pages and what starts a sync: the link form, column bindings, launches, the CLI."""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select, update

from lti_tool.db.course_sync import ContextServiceRecord, CourseLinkRecord, LineItemRecord, SyncRunRecord
from lti_tool.db.programmes import CohortRecord, EnrolmentRecord, ResultEventRecord
from lti_tool.db.tenancy import Context, LmsUser
from lti_tool.services.platforms import NewPlatform, add_platform
from lti_tool.web.sync_jobs import sync_jobs
from tests.integration.test_deep_linking import csrf, follow
from tests.support.fake_lms import FakeLms


@pytest.fixture
def lms(live_tool):
    return FakeLms(live_tool)


def launch_id(response) -> str:
    return re.search(r"launch=([\w-]+)", response.url).group(1)


def instructor_links_the_demo_course(lms: FakeLms, kind: str = "full_programme", module: str = ""):
    browser, home = lms.demo.launch_as("demo-instructor-1")
    assert 'data-unlinked' in home.text and 'data-audience="instructor"' in home.text
    page = browser.get(lms.tool.url(f"/course/link?launch={launch_id(home)}"))
    response = browser.post(page.url, data={"csrf_token": csrf(page.text), "cohort": str(lms.cohort_id),
                                            "kind": kind, "module": module}, allow_redirects=False)
    return browser, launch_id(home), response


def demo_context_id(lms: FakeLms) -> int:
    with lms.session() as session:
        return session.scalar(select(Context.id).where(Context.id_on_platform == "demo-course-fei-1"))


def test_an_instructor_links_an_unknown_course_and_its_endpoints_are_kept(lms):
    browser, launch, response = instructor_links_the_demo_course(lms)
    assert response.status_code == 303
    home = follow(browser, lms, response)
    assert "data-linked" in home.text and 'data-kind="full_programme"' in home.text
    with lms.session() as session:
        link = session.scalar(select(CourseLinkRecord))
        services = session.get(ContextServiceRecord, link.context_id)
    assert (link.cohort_id, link.kind, link.module_key) == (lms.cohort_id, "full_programme", None)
    assert services.lineitems_url.endswith("/demo/ags/demo-course-fei-1/lineitems")
    assert services.memberships_url.endswith("/demo/nrps/demo-course-fei-1")
    assert services.product_family == "demo"


@pytest.mark.parametrize("form,why", [
    ({"kind": "single_module", "module": ""}, "single module without a module"),
    ({"kind": "single_module", "module": "m99"}, "a module not in the programme"),
    ({"kind": "everything"}, "an unknown kind"),
    ({"cohort": "not-a-number"}, "a cohort that is not a number"),
])
def test_bad_link_input_is_a_clear_400_and_links_nothing(lms, form, why):
    browser, home = lms.demo.launch_as("demo-instructor-1")
    page = browser.get(lms.tool.url(f"/course/link?launch={launch_id(home)}"))
    data = {"csrf_token": csrf(page.text), "cohort": str(lms.cohort_id), "kind": "full_programme", "module": ""}
    response = browser.post(page.url, data={**data, **form})
    assert response.status_code == 400, why
    with lms.session() as session:
        assert session.scalar(select(CourseLinkRecord)) is None


def test_a_cohort_of_another_platform_cannot_be_chosen(lms):
    with lms.session() as session:
        other = add_platform(session, NewPlatform(issuer="https://other.example", client_id="x",
                                                  auth_login_url="https://other.example/a",
                                                  auth_token_url="https://other.example/t",
                                                  key_set_url="https://other.example/k"), lms.clock()).id
        foreign = CohortRecord(registration_id=other, key="k", name="Someone else's cohort",
                               programme_version_id=session.get(CohortRecord, lms.cohort_id).programme_version_id,
                               starts_on=datetime(2027, 1, 1).date(), ends_on=datetime(2027, 6, 1).date())
        session.add(foreign)
        session.flush()
        foreign_id = foreign.id
    browser, home = lms.demo.launch_as("demo-instructor-1")
    page = browser.get(lms.tool.url(f"/course/link?launch={launch_id(home)}"))
    assert "Someone else" not in page.text
    response = browser.post(page.url, data={"csrf_token": csrf(page.text), "cohort": str(foreign_id),
                                            "kind": "full_programme", "module": ""})
    assert response.status_code == 400
    with lms.session() as session:
        assert session.scalar(select(CourseLinkRecord)) is None


def test_learners_and_forms_without_csrf_are_refused(lms):
    browser, home = lms.demo.launch_as("demo-learner-1")
    for path in ("/course/link", "/course/line-items"):
        assert browser.get(lms.tool.url(f"{path}?launch={launch_id(home)}")).status_code == 403
    browser, home = lms.demo.launch_as("demo-instructor-1")
    response = browser.post(lms.tool.url(f"/course/link?launch={launch_id(home)}"),
                            data={"cohort": str(lms.cohort_id), "kind": "full_programme"})
    assert response.status_code == 400
    assert browser.post(lms.tool.url(f"/course/sync?launch={launch_id(home)}")).status_code == 400
    assert browser.post(lms.tool.url(f"/course/line-items?launch={launch_id(home)}"),
                        allow_redirects=False).status_code == 400


def test_columns_are_bound_automatically_and_by_hand(lms):
    browser, launch, _ = instructor_links_the_demo_course(lms)
    sync_now = browser.get(lms.tool.url(f"/home?launch={launch}"))
    response = browser.post(lms.tool.url(f"/course/sync?launch={launch}"), data={"csrf_token": csrf(sync_now.text)},
                            allow_redirects=False)
    assert response.status_code == 303 and "notice=sync-started" in response.headers["Location"]
    sync_jobs(lms.app).wait(30)
    page = browser.get(lms.tool.url(f"/course/line-items?launch={launch}"))
    with lms.session() as session:
        items = {i.resource_id: i for i in session.scalars(select(LineItemRecord))}
    assert (items["module:m01"].binding, items["module:m01"].module_key) == ("module", "m01")
    assert items["final-exam"].binding == "exam" and items["certification"].binding == "certification"
    exam = items["final-exam"].id
    assert page.status_code == 200 and f'name="binding-{exam}"' in page.text

    response = browser.post(page.url, data={"csrf_token": csrf(page.text), f"binding-{exam}": "final-exam:2"},
                            allow_redirects=False)
    assert response.status_code == 303
    with lms.session() as session:
        bound = session.get(LineItemRecord, exam)
        assert (bound.binding, bound.exam_attempt, bound.is_bound_by_hand) == ("exam", 2, True)
    refused = browser.post(page.url, data={"csrf_token": csrf(page.text), f"binding-{exam}": "module:m99"})
    assert refused.status_code == 400
    # A hand binding survives the next sync, whatever the column's resourceId says.
    from lti_tool.web.sync_jobs import sync_environment
    from lti_tool.services.sync import sync_course

    with lms.app.app_context():
        sync_course(sync_environment(lms.app), demo_context_id(lms))
    with lms.session() as session:
        assert session.get(LineItemRecord, exam).exam_attempt == 2


def test_a_learners_launch_syncs_that_learners_grades_after_the_response(lms):
    instructor_links_the_demo_course(lms)
    browser, home = lms.demo.launch_as("demo-learner-1")
    assert home.status_code == 200
    sync_jobs(lms.app).wait(30)
    with lms.session() as session:
        enrolled = session.scalars(select(LmsUser.id_on_platform).join(
            EnrolmentRecord, EnrolmentRecord.lms_user_id == LmsUser.id)).all()
        events = session.scalar(select(ResultEventRecord.id).limit(1))
        run = session.scalar(select(SyncRunRecord))
    # Anna only: the roster is not read on a learner's launch, and Erik has not launched.
    assert enrolled == ["demo-learner-1"] and events is not None
    assert (run.trigger, run.state, run.lms_user_id is not None) == ("launch", "succeeded", True)


def test_an_instructors_page_starts_a_sync_when_the_last_is_older_than_the_setting(lms):
    browser, launch, _ = instructor_links_the_demo_course(lms)
    sync_jobs(lms.app).wait(30)
    browser.get(lms.tool.url(f"/home?launch={launch}"))
    sync_jobs(lms.app).wait(30)
    with lms.session() as session:
        runs = session.scalars(select(SyncRunRecord.trigger)).all()
    assert runs == ["dashboard"]
    browser.get(lms.tool.url(f"/home?launch={launch}"))  # fresh: no new run
    sync_jobs(lms.app).wait(30)
    with lms.session() as session:
        assert len(session.scalars(select(SyncRunRecord)).all()) == 1
        session.execute(update(SyncRunRecord).values(started_at=datetime.now(timezone.utc) - timedelta(hours=1)))
    page = browser.get(lms.tool.url(f"/home?launch={launch}"))
    sync_jobs(lms.app).wait(30)
    with lms.session() as session:
        assert len(session.scalars(select(SyncRunRecord)).all()) == 2
    assert 'data-last-sync="succeeded"' in browser.get(lms.tool.url(f"/home?launch={launch}")).text
    assert page.status_code == 200
    history = browser.get(lms.tool.url(f"/course/runs?launch={launch}"))
    assert history.text.count('data-state="succeeded"') == 2


def test_the_cli_syncs_courses_sends_scores_and_reports_runs(lms, runner):
    course = lms.course("cli-course", "canvas")
    lms.add_learner(course, "anna")
    lms.column(course, "module:m01")
    result = runner.invoke(args=["sync", "--all"])
    assert result.exit_code == 0, result.output
    assert f"course {course.context_id}: succeeded" in result.output and "sent 1" in result.output
    status = runner.invoke(args=["sync-status", "--context", str(course.context_id)])
    assert "cli\tsucceeded" in status.output and "scores: sent 1" in status.output
    assert runner.invoke(args=["outbox", "status"]).output.strip() == "sent 1"
    assert runner.invoke(args=["sync"]).exit_code == 2  # neither --context nor --all
    assert runner.invoke(args=["sync", "--context", "999999"]).exit_code == 1
    lms.fail(course, "/nrps/", status=500, times=3)
    failed = runner.invoke(args=["sync", "--context", str(course.context_id)])
    assert failed.exit_code == 1 and "failed" in failed.output
