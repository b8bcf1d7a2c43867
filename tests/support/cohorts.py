"""A cohort with progressing, certified and module-only participants, built through the services."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

from sqlalchemy import select

from lti_tool.db.programmes import CohortRecord, RegionRecord
from lti_tool.db.tenancy import LmsUser
from lti_tool.domain.enrolment import EnrolmentKind
from lti_tool.domain.results import ExamAttempt, ModuleResult, Score
from lti_tool.services.platforms import NewPlatform, add_platform
from lti_tool.services.programme_file import parse_programme_file
from lti_tool.services.programmes import import_programme
from lti_tool.services.results import enrol, recompute_cohort_statuses, record_result

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "fei-programme.toml"
NOW = datetime(2027, 10, 1, 12, 0, tzinfo=timezone.utc)
KEYS = [f"m{i:02}" for i in range(1, 13)]


def build_cohort(session, learners: int, issuer: str = "https://moodle.example",
                 registration_id: int | None = None) -> tuple[int, int]:
    """`learners` participants: every third module-only (m01), the rest progressing; one certified per five.

    The cohort is the example file's (funded by R10), in a new registration for `issuer` unless one is given.
    """
    if registration_id is None:
        registration_id = add_platform(session, NewPlatform(
            issuer=issuer, client_id="c", auth_login_url=issuer + "/a", auth_token_url=issuer + "/t",
            key_set_url=issuer + "/k"), NOW).id
    import_programme(session, registration_id, parse_programme_file(EXAMPLE.read_text("utf-8")), NOW)
    cohort = session.scalar(select(CohortRecord).where(CohortRecord.registration_id == registration_id))
    region = session.scalar(select(RegionRecord).where(RegionRecord.registration_id == registration_id,
                                                       RegionRecord.key == "norrbotten-syd"))
    for number in range(learners):
        user = LmsUser(registration_id=registration_id, id_on_platform=f"u{number}", name=f"Deltagare {number:03}",
                       email=f"d{number}@kommun.example", updated_at=NOW)
        session.add(user)
        session.flush()
        module_only = number % 3 == 0
        enrolment = enrol(session, registration_id=registration_id, cohort_id=cohort.id, lms_user_id=user.id,
                          kind=EnrolmentKind.MODULE_ONLY if module_only else EnrolmentKind.FULL_PROGRAMME,
                          module_keys=frozenset({"m01"}) if module_only else frozenset(),
                          region_id=region.id if number % 2 else None, now=NOW)
        done = 12 if number % 5 == 0 else number % 12
        for key in KEYS[:done]:
            record_result(session, enrolment.id, ModuleResult(module_key=key, score=Score(Decimal(1), Decimal(1)),
                                                              graded_at=NOW, source=f"li:{key}"), NOW)
        if done == 12:
            record_result(session, enrolment.id, ExamAttempt(score=Score(Decimal(80), Decimal(100)),
                                                             graded_at=NOW, source="li:exam"), NOW)
    recompute_cohort_statuses(session, registration_id, cohort.id, NOW + timedelta(days=1))
    return registration_id, cohort.id
