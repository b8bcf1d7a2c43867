"""The learner's own page, reached from a real launch: their modules, their exam, what is left."""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select

from lti_tool.db.programmes import CohortRecord
from lti_tool.db.session import get_session
from lti_tool.db.tenancy import LmsUser
from lti_tool.domain.enrolment import EnrolmentKind
from lti_tool.domain.results import ExamAttempt, ModuleResult, Score
from lti_tool.services.certificates import CredentialIssuer, issue_due_certificates
from lti_tool.services.programme_file import parse_programme_file
from lti_tool.services.programmes import import_programme
from lti_tool.services.results import enrol, recompute_cohort_statuses, record_result
from tests.support.lms import DemoLms, launch_id

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "fei-programme.toml"
NOW = datetime.now(timezone.utc) - timedelta(days=1)


@pytest.fixture
def lms(live_tool) -> DemoLms:
    return DemoLms(live_tool)



def seed(lms: DemoLms, sub: str, *, module_only: bool, modules_done: int, exam: str | None) -> None:
    with lms.app.app_context():
        session = get_session()
        import_programme(session, lms.registration_id, parse_programme_file(EXAMPLE.read_text("utf-8")), NOW)
        cohort = session.scalar(select(CohortRecord).where(CohortRecord.registration_id == lms.registration_id))
        user = session.scalar(select(LmsUser).where(LmsUser.registration_id == lms.registration_id,
                                                    LmsUser.id_on_platform == sub))
        enrolment = enrol(session, registration_id=lms.registration_id, cohort_id=cohort.id, lms_user_id=user.id,
                          kind=EnrolmentKind.MODULE_ONLY if module_only else EnrolmentKind.FULL_PROGRAMME,
                          module_keys=frozenset({"m01"}) if module_only else frozenset(), now=NOW)
        every = [f"m{i:02}" for i in range(1, 13)]
        keys = every if modules_done == 12 else [key for key in every if key != "m03"][:modules_done]
        for key in keys:
            record_result(session, enrolment.id, ModuleResult(module_key=key, score=Score(Decimal(1), Decimal(1)),
                                                              graded_at=NOW, source=f"li:{key}"), NOW)
        if exam:
            record_result(session, enrolment.id, ExamAttempt(score=Score(Decimal(exam), Decimal(100)),
                                                             graded_at=NOW, source="li:exam"), NOW)
        recompute_cohort_statuses(session, lms.registration_id, cohort.id, datetime.now(timezone.utc))
        session.commit()


def test_learner_sees_what_is_left_in_plain_words(lms):
    browser, _ = lms.launch_as("demo-learner-1")  # the LMS user exists from the launch
    seed(lms, "demo-learner-1", module_only=False, modules_done=11, exam="52")
    browser, landing = lms.launch_as("demo-learner-1", browser)
    page = browser.get(lms.tool.url(f"/learner?launch={launch_id(landing)}&lang=en"))
    assert page.status_code == 200
    html = page.text
    assert "11 of 12 modules completed." in html
    assert "Example module 3: Business services and the authorities is not graded yet." in html
    assert "Final exam: 52%, pass mark 60%, 2 attempts left." in html
    assert 'data-module="m01" data-state="completed"' in html and 'data-module="m03" data-state="not_graded"' in html


def test_module_only_learner_sees_only_their_modules_and_how_to_upgrade(lms):
    browser, _ = lms.launch_as("demo-learner-2")
    seed(lms, "demo-learner-2", module_only=True, modules_done=12, exam=None)
    browser, landing = lms.launch_as("demo-learner-2", browser)
    html = browser.get(lms.tool.url(f"/learner?launch={launch_id(landing)}&lang=en")).text
    assert "upgrade to the whole programme" in html
    assert 'data-module="m01"' in html and 'data-module="m02"' not in html and 'data-module="final-exam"' not in html
    assert "You are certified" not in html


def test_instructors_cannot_open_the_learner_page(lms):
    browser, landing = lms.launch_as("demo-instructor-1")
    response = browser.get(lms.tool.url(f"/learner?launch={launch_id(landing)}"))
    assert response.status_code == 403


def test_learner_without_enrolment_is_told_so(lms):
    browser, landing = lms.launch_as("demo-learner-1")
    html = browser.get(lms.tool.url(f"/learner?launch={launch_id(landing)}&lang=en")).text
    assert "not enrolled in the programme yet" in html


def issue_certificates(lms: DemoLms) -> None:
    with lms.app.app_context():
        session = get_session()
        cohort = session.scalar(select(CohortRecord).where(CohortRecord.registration_id == lms.registration_id))
        issuer = CredentialIssuer.from_settings(lms.app.config["LTI_SETTINGS"], lms.app.extensions["lti_services"].tool_keys)
        issue_due_certificates(session, lms.registration_id, cohort.id, datetime.now(timezone.utc), issuer)
        session.commit()


def test_a_certified_learner_finds_their_certificate_on_their_page(lms):
    browser, _ = lms.launch_as("demo-learner-1")
    seed(lms, "demo-learner-1", module_only=False, modules_done=12, exam="75")
    browser, landing = lms.launch_as("demo-learner-1", browser)
    url = lms.tool.url(f"/learner?launch={launch_id(landing)}&lang=en")
    before = browser.get(url).text
    assert "You are certified." in before and 'data-section="certificate-pending"' in before

    issue_certificates(lms)
    html = browser.get(url).text

    kinds = re.findall(r'data-kind="(\w+)"', html)
    assert kinds.count("certification") == 1 and kinds.count("module") == 12
    pdf = re.search(r'href="([^"]+/pdf[^"]*lang=sv)"', html).group(1).replace("&amp;", "&")
    download = browser.get(lms.tool.url(pdf))
    assert download.status_code == 200 and download.content.startswith(b"%PDF")


def test_a_module_only_learner_finds_their_intyg_and_no_certification(lms):
    browser, _ = lms.launch_as("demo-learner-2")
    seed(lms, "demo-learner-2", module_only=True, modules_done=1, exam=None)
    issue_certificates(lms)
    browser, landing = lms.launch_as("demo-learner-2", browser)
    html = browser.get(lms.tool.url(f"/learner?launch={launch_id(landing)}&lang=en")).text
    assert re.findall(r'data-kind="(\w+)"', html) == ["module"]
    assert "Certificate of completion" in html and "upgrade to the whole programme" in html


def test_a_learner_never_sees_another_learners_certificate(lms):
    browser, _ = lms.launch_as("demo-learner-1")
    other, _ = lms.launch_as("demo-learner-2")
    seed(lms, "demo-learner-1", module_only=False, modules_done=12, exam="75")
    seed(lms, "demo-learner-2", module_only=False, modules_done=0, exam=None)  # same cohort, nothing earned
    issue_certificates(lms)
    other, landing = lms.launch_as("demo-learner-2", other)
    html = other.get(lms.tool.url(f"/learner?launch={launch_id(landing)}&lang=en")).text
    assert 'data-state="in_progress"' in html  # their own enrolment is shown
    assert "data-kind=" not in html and "data-code=" not in html
