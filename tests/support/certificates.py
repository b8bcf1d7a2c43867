"""Certificate tests' helpers: participants with results seeded through the services, the live tool driven over HTTP."""
from __future__ import annotations

import base64
import gzip
import html
import io
import re
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import requests
from pypdf import PdfReader
from sqlalchemy import select

from lti_tool.db.certificates import CertificateRecord
from lti_tool.db.programmes import CohortRecord, EnrolmentRecord
from lti_tool.db.session import get_session
from lti_tool.db.tenancy import LmsUser
from lti_tool.domain.certificates import CertificateKind
from lti_tool.domain.enrolment import EnrolmentKind
from lti_tool.domain.results import ExamAttempt, ModuleResult, Score
from lti_tool.services.certificates import CredentialIssuer, IssueOutcome, issue_due_certificates
from lti_tool.services.programme_file import parse_programme_file
from lti_tool.services.programmes import import_programme
from lti_tool.services.results import enrol, record_result

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "fei-programme.toml"
MODULE_KEYS = tuple(f"m{number:02}" for number in range(1, 13))
# Grades from the spring: in the past, whatever day the tests run.
MODULES_DONE = datetime(2026, 5, 4, 9, 0, tzinfo=timezone.utc)
EXAM_PASSED = datetime(2026, 6, 2, 13, 30, tzinfo=timezone.utc)
ISSUED = datetime(2026, 6, 3, 8, 0, tzinfo=timezone.utc)


def import_example(session, registration_id: int, edit: tuple[str, str] | None = None) -> CohortRecord:
    text = EXAMPLE.read_text(encoding="utf-8")
    if edit:
        text = text.replace(*edit)
    import_programme(session, registration_id, parse_programme_file(text), ISSUED)
    return session.scalar(select(CohortRecord).where(CohortRecord.registration_id == registration_id))


def lms_user(session, registration_id: int, sub: str, name: str | None) -> LmsUser:
    """The LMS user a launch with this `sub` records (the launch updates the same row)."""
    user = session.scalar(select(LmsUser).where(LmsUser.registration_id == registration_id,
                                                LmsUser.id_on_platform == sub))
    if user is None:
        user = LmsUser(registration_id=registration_id, id_on_platform=sub, updated_at=ISSUED)
        session.add(user)
    user.name = name
    session.flush()
    return user


def module_grade(key: str, given: str = "1", when: datetime = MODULES_DONE) -> ModuleResult:
    return ModuleResult(score=Score(Decimal(given), Decimal(1)), graded_at=when, source=f"lineitem:{key}",
                        module_key=key)


def exam_grade(given: str = "80", when: datetime = EXAM_PASSED, attempt: int = 1) -> ExamAttempt:
    return ExamAttempt(score=Score(Decimal(given), Decimal(100)), graded_at=when, source="lineitem:final-exam",
                       attempt=attempt)


def enrol_with_results(session, registration_id: int, cohort: CohortRecord, user: LmsUser, *,
                       module_keys: tuple[str, ...] | None = None, passed: tuple[str, ...] = MODULE_KEYS,
                       exam: bool = True, modules_done: datetime = MODULES_DONE,
                       exam_passed: datetime = EXAM_PASSED) -> EnrolmentRecord:
    """Full programme unless `module_keys` names the modules bought; `passed` modules graded 1/1."""
    kind = EnrolmentKind.FULL_PROGRAMME if module_keys is None else EnrolmentKind.MODULE_ONLY
    enrolment = enrol(session, registration_id=registration_id, cohort_id=cohort.id, lms_user_id=user.id,
                      kind=kind, module_keys=frozenset(module_keys or ()), now=modules_done - timedelta(days=90))
    for key in passed:
        record_result(session, enrolment.id, module_grade(key, when=modules_done), modules_done)
    if exam:
        record_result(session, enrolment.id, exam_grade(when=exam_passed), exam_passed)
    return enrolment


def issuer_of(app) -> CredentialIssuer:
    return CredentialIssuer.from_settings(app.config["LTI_SETTINGS"], app.extensions["lti_services"].tool_keys)


def status_bit(encoded_list: str, index: int) -> bool:
    """Read a Bitstring Status List bit by the specification, without the tool's own decoder."""
    assert encoded_list.startswith("u")
    body = encoded_list[1:]
    bits = gzip.decompress(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    assert len(bits) * 8 >= 131_072
    return bool(bits[index // 8] >> (7 - index % 8) & 1)


# --- driving the live tool ----------------------------------------------------------------------
ANNA, ERIK = "demo-learner-1", "demo-learner-2"  # the demo platform's learners
ANNA_NAME, ERIK_NAME = "Anna Andersson", "Erik Eriksson"
ADMIN, INSTRUCTOR = "demo-admin-1", "demo-instructor-1"
_DEMO_NAMES = {ANNA: ANNA_NAME, ERIK: ERIK_NAME}


def now() -> datetime:
    return datetime.now(timezone.utc)


def seed(lms, participants: dict[str, dict], edit: tuple[str, str] | None = None) -> int:
    """Enrol people on the demo platform with results (through the services); returns the cohort id.

    `participants` maps a `sub` to enrol_with_results options, plus `name` (None: the LMS shares none).
    """
    with lms.app.app_context():
        session = get_session()
        cohort = import_example(session, lms.registration_id, edit)
        for sub, options in participants.items():
            options = dict(options)
            name = options.pop("name", _DEMO_NAMES.get(sub, sub))
            user = lms_user(session, lms.registration_id, sub, name)
            enrol_with_results(session, lms.registration_id, cohort, user, **options)
        session.commit()
        return cohort.id


def issue(lms, cohort_id: int, when: datetime | None = None) -> IssueOutcome:
    """What the server does once results have changed (a sync, the CLI or the administrator's button)."""
    with lms.app.app_context():
        outcome = issue_due_certificates(get_session(), lms.registration_id, cohort_id, when or now(),
                                         issuer_of(lms.app))
        get_session().commit()
        return outcome


def certificates(app, sub: str | None = None) -> list[CertificateRecord]:
    """Every certificate (of one person when `sub` is given), detached with its credentials."""
    with app.app_context():
        session = get_session()
        statement = select(CertificateRecord).order_by(CertificateRecord.id)
        if sub is not None:
            statement = statement.join(LmsUser, LmsUser.id == CertificateRecord.lms_user_id).where(
                LmsUser.id_on_platform == sub)
        rows = list(session.scalars(statement))
        for row in rows:
            _ = row.credentials
        session.expunge_all()
        return rows


def certification_of(app, sub: str) -> CertificateRecord:
    return next(c for c in certificates(app, sub) if c.kind == CertificateKind.CERTIFICATION.value)


def launch(lms, sub: str, browser: requests.Session | None = None) -> tuple[requests.Session, str]:
    """A complete launch from the demo platform (in `browser`, else a new one); returns it and the launch id."""
    browser, page = lms.launch_as(sub, browser)
    assert page.status_code == 200, page.text[:500]
    return browser, parse_qs(urlparse(page.url).query)["launch"][0]


def pdf_text(body: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(body)).pages)


def csrf_token(page: str, form: str) -> str:
    """The CSRF token inside the form marked data-form=`form` of a page."""
    section = page[page.index(f'data-form="{form}"'):]
    return html.unescape(re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', section).group(1))
