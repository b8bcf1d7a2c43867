"""The certification status: its state, its reasons, and the moments it carries."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta, timezone

import pytest

from lti_tool.domain.certification import (
    CertificationState,
    IssuedCertificate,
    Revocation,
    certification_status,
)
from lti_tool.domain.enrolment import EnrolmentNotInProgramme, upgrade_to_full_programme
from lti_tool.domain.programme import ProgrammeRef
from lti_tool.domain.reasons import (
    CertificateExpired,
    CertificateRevoked,
    IssuedCertificateUnsupported,
    ModuleBelowPassMark,
    ModuleNotGraded,
    ModuleOnlyEnrolment,
    ReasonCode,
    RequirementsMet,
)
from lti_tool.domain.results import ExamAttempt, Score
from lti_tool.domain.timestamps import NaiveTimestamp

State = CertificationState
Code = ReasonCode
AS_OF = date(2026, 6, 1)
TAKEN_ALONE = {"example-module-01", "example-module-02"}


@pytest.fixture(scope="module")
def status_of(fei_programme, make_enrolment, make_module_result, make_exam_attempt):
    """Build a status from a compact description of the enrolment and its grades."""

    def build(modules, exam, *, module_only=False, programme=fei_programme, as_of=AS_OF,
              **options):
        keys = [module.key for module in programme.modules]
        results = [
            make_module_result(key, given, days=day)
            for day, (key, given) in enumerate(zip(keys, modules), start=1)
            if given is not None
        ]
        results += [
            make_exam_attempt(given, attempt=attempt, days=100 + attempt)
            for attempt, given in enumerate(exam, start=1)
        ]
        enrolment = make_enrolment(programme, module_keys=TAKEN_ALONE if module_only else None)
        return certification_status(programme, enrolment, results, as_of, **options)

    return build


ALL = [100] * 12
ONE_LOW = [100] * 11 + [30]
ONE_MISSING = [100] * 11 + [None]

# Each row: module grades (None: not graded), exam grades per attempt, module-only?
# -> state, reason codes, modules completed.
STATES = [
    (ALL, [90], False, State.CERTIFIED, [Code.REQUIREMENTS_MET], 12),
    (ALL, [], True, State.NOT_ELIGIBLE, [Code.MODULE_ONLY_ENROLMENT], 12),
    (ALL, [90], True, State.NOT_ELIGIBLE, [Code.MODULE_ONLY_ENROLMENT], 12),
    ([None] * 12, [], False, State.IN_PROGRESS, [Code.MODULE_NOT_GRADED] * 12
     + [Code.EXAM_NOT_TAKEN], 0),
    (ONE_MISSING, [], False, State.IN_PROGRESS,
     [Code.MODULE_NOT_GRADED, Code.EXAM_NOT_TAKEN], 11),
    (ONE_LOW, [], False, State.IN_PROGRESS,
     [Code.MODULE_BELOW_PASS_MARK, Code.EXAM_NOT_TAKEN], 11),
    (ONE_LOW, [90], False, State.IN_PROGRESS, [Code.MODULE_BELOW_PASS_MARK], 11),
    (ONE_LOW, [10, 10, 10], False, State.IN_PROGRESS,
     [Code.MODULE_BELOW_PASS_MARK, Code.EXAM_NOT_PASSED], 11),
    ([50] * 12, [], False, State.AWAITING_EXAM, [Code.EXAM_NOT_TAKEN], 12),
    (ALL, [59], False, State.EXAM_FAILED, [Code.EXAM_NOT_PASSED], 12),
    (ALL, [10, 10, 10], False, State.EXAM_FAILED, [Code.EXAM_NOT_PASSED], 12),
    (ALL, [10, 10, 10, 90], False, State.EXAM_FAILED,
     [Code.EXAM_NOT_PASSED, Code.EXAM_ATTEMPTS_IGNORED], 12),
    (ALL, [10, 10, 60], False, State.CERTIFIED, [Code.REQUIREMENTS_MET], 12),
]


@pytest.mark.parametrize(
    ("modules", "exam", "module_only", "state", "codes", "completed"),
    STATES,
    ids=[
        "everything passed",
        "module-only with every module done",
        "module-only with the exam passed too",
        "nothing graded",
        "one module not graded",
        "one module below its pass mark",
        "exam passed before the last module",
        "modules missing and attempts used up",
        "modules exactly at their pass mark",
        "exam just below its pass mark",
        "no attempts left",
        "a passing fourth attempt does not count",
        "passed at the last allowed attempt",
    ],
)
def test_state_and_reasons(status_of, modules, exam, module_only, state, codes, completed):
    status = status_of(modules, exam, module_only=module_only)
    assert status.state is state
    assert [reason.code for reason in status.reasons] == codes
    assert (status.modules_completed, status.modules_required) == (completed, 12)
    assert status.is_certified is (state is State.CERTIFIED)
    assert status.needs_admin_review is False


def test_reasons_name_what_is_missing(status_of):
    status = status_of([100] * 10 + [None, 20], [])
    assert status.reasons[:2] == (
        ModuleNotGraded("example-module-11"),
        ModuleBelowPassMark("example-module-12", Score(20, 100), status.reasons[1].pass_mark),
    )
    assert status.reasons[1].params()["module_key"] == "example-module-12"
    assert "example-module-11 not yet graded" in status.reasons[0].describe()


def test_exam_attempts_left_are_reported(status_of):
    status = status_of(ALL, [10])
    assert (status.exam.attempts_used, status.exam.attempts_left) == (1, 2)
    assert status.reasons[0].params()["attempts_left"] == 2


def test_certified_at_is_when_the_last_requirement_was_met(status_of, moment):
    exam_last = status_of(ALL, [10, 90])
    assert exam_last.certified_at == moment(102)
    assert exam_last.reasons == (RequirementsMet(moment(102)),)


def test_an_exam_passed_before_the_modules_counts_from_the_last_module(
    fei_programme, make_enrolment, make_module_result, make_exam_attempt, moment
):
    results = [make_exam_attempt(75, days=20)]
    results += [make_module_result(module.key, 100, days=10) for module in fei_programme.modules]
    results.append(make_module_result("example-module-05", 100, days=40, source="late-item"))
    results.append(make_module_result("example-module-07", 90, days=50))
    status = certification_status(fei_programme, make_enrolment(fei_programme), results, AS_OF)
    assert status.state is State.CERTIFIED
    # Module 7 was regraded (still passing) on day 50: its standing grade is that one.
    assert status.certified_at == moment(50)


def test_a_lowered_regrade_is_reflected(
    fei_programme, make_enrolment, make_module_result, make_exam_attempt
):
    enrolment = make_enrolment(fei_programme)
    passed = [make_module_result(m.key, 100, days=5) for m in fei_programme.modules]
    passed.append(make_exam_attempt(80))
    regrade = make_module_result("example-module-03", 10, days=200)
    assert certification_status(fei_programme, enrolment, passed, AS_OF).is_certified
    status = certification_status(fei_programme, enrolment, [*passed, regrade], AS_OF)
    assert status.state is State.IN_PROGRESS
    assert status.certified_at is None


def test_an_issued_certificate_no_longer_supported_needs_review_not_revocation(
    status_of, moment
):
    issued = IssuedCertificate(moment(110))
    status = status_of(ONE_LOW, [90], issued=issued)
    assert status.state is State.IN_PROGRESS
    assert status.needs_admin_review is True
    assert status.reasons[-1] == IssuedCertificateUnsupported(moment(110))


@pytest.mark.parametrize(
    ("modules", "exam", "revoked", "as_of"),
    [
        (ALL, [90], False, AS_OF),
        (ALL, [90], False, date(2030, 1, 1)),
        (ONE_LOW, [90], True, AS_OF),
    ],
    ids=["still certified", "expired", "revoked"],
)
def test_an_issued_certificate_that_is_held_lapsed_or_revoked_needs_no_review(
    make_programme, status_of, moment, modules, exam, revoked, as_of
):
    revocation = Revocation(moment(300), "admin@fei.se", "fusk") if revoked else None
    status = status_of(
        modules, exam, programme=make_programme(validity_years=3), as_of=as_of,
        issued=IssuedCertificate(moment(110)), revocation=revocation,
    )
    assert status.needs_admin_review is False
    assert not any(r.code is Code.ISSUED_CERTIFICATE_UNSUPPORTED for r in status.reasons)


def test_revocation_overrides_and_says_who_and_why(status_of, moment):
    revocation = Revocation(moment(300), "admin@fei.se", "Fusk på slutprovet")
    status = status_of(ALL, [90], revocation=revocation)
    assert status.state is State.REVOKED
    assert status.reasons == (
        CertificateRevoked(moment(300), "admin@fei.se", "Fusk på slutprovet"),
    )
    # The facts stay visible: the requirements were met.
    assert status.certified_at == moment(101)
    assert "admin@fei.se" in status.reasons[0].describe()


UTC = timezone.utc
# Certified at day 101 after 2025-08-18 08:00 UTC, i.e. 2025-11-27 08:00; valid 3 years.
EXPIRES_AT = datetime(2028, 11, 27, 8, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("as_of", "state"),
    [
        (date(2028, 11, 26), State.CERTIFIED),
        (date(2028, 11, 27), State.EXPIRED),
        (EXPIRES_AT - timedelta(microseconds=1), State.CERTIFIED),
        (EXPIRES_AT, State.EXPIRED),
        (date(2035, 1, 1), State.EXPIRED),
    ],
    ids=[
        "the day before the anniversary",
        "on the anniversary date",
        "a moment before",
        "at the moment",
        "long after",
    ],
)
def test_expiry_after_the_validity_period(make_programme, status_of, as_of, state):
    status = status_of(ALL, [90], programme=make_programme(validity_years=3), as_of=as_of)
    assert status.state is state
    assert status.expires_at == EXPIRES_AT
    if state is State.EXPIRED:
        assert status.reasons == (CertificateExpired(EXPIRES_AT),)


def test_a_moment_to_judge_by_is_utc(status_of):
    with pytest.raises(NaiveTimestamp):
        status_of(ALL, [90], as_of=datetime(2026, 1, 1, 12, 0))


def test_without_a_validity_period_a_certificate_never_expires(status_of):
    status = status_of(ALL, [90], as_of=date(2099, 1, 1))
    assert status.state is State.CERTIFIED
    assert status.expires_at is None


def test_a_certificate_from_29_february_expires_on_28_february(
    make_programme, make_enrolment, make_module_result
):
    programme = make_programme(validity_years=1)
    leap_day = datetime(2028, 2, 29, 9, 0, tzinfo=UTC)
    results = [make_module_result(m.key, 100, days=1) for m in programme.modules]
    results.append(ExamAttempt(score=Score(90, 100), graded_at=leap_day, source="exam"))
    status = certification_status(programme, make_enrolment(programme), results, AS_OF)
    assert status.certified_at == leap_day
    assert status.expires_at == datetime(2029, 2, 28, 9, 0, tzinfo=UTC)


def test_an_upgrade_keeps_the_modules_already_completed(
    fei_programme, make_enrolment, make_module_result, make_exam_attempt, moment
):
    module_only = make_enrolment(fei_programme, module_keys=TAKEN_ALONE)
    results = [make_module_result(key, 100, days=3) for key in sorted(TAKEN_ALONE)]
    before = certification_status(fei_programme, module_only, results, AS_OF)
    assert before.reasons == (ModuleOnlyEnrolment(modules_taken=2),)
    assert before.modules_completed == 2

    upgraded = upgrade_to_full_programme(module_only, moment(30))
    results += [make_module_result(m.key, 100, days=60) for m in fei_programme.modules[2:]]
    results.append(make_exam_attempt(61))
    after = certification_status(fei_programme, upgraded, results, AS_OF)
    assert after.state is State.CERTIFIED
    assert after.modules_completed == 12


def test_results_for_modules_outside_the_programme_are_ignored(
    fei_programme, make_enrolment, make_module_result, make_exam_attempt
):
    results = [make_module_result(m.key, 100) for m in fei_programme.modules[1:]]
    results += [make_module_result("retired-module", 100), make_exam_attempt(90)]
    status = certification_status(fei_programme, make_enrolment(fei_programme), results, AS_OF)
    assert status.state is State.IN_PROGRESS
    assert status.modules_completed == 11
    assert [reason.code for reason in status.reasons] == [Code.MODULE_NOT_GRADED]


@pytest.mark.parametrize(
    "programme_ref", [ProgrammeRef("FEI-NLU", 2), ProgrammeRef("OTHER", 1)],
    ids=["another version", "another programme"],
)
def test_an_enrolment_is_judged_by_its_own_programme(
    fei_programme, make_enrolment, programme_ref
):
    enrolment = replace(make_enrolment(fei_programme), programme=programme_ref)
    with pytest.raises(EnrolmentNotInProgramme):
        certification_status(fei_programme, enrolment, [], AS_OF)


def test_a_module_only_enrolment_names_modules_of_the_programme(fei_programme, make_enrolment):
    enrolment = make_enrolment(fei_programme, module_keys={"not-a-module"})
    with pytest.raises(EnrolmentNotInProgramme, match="not-a-module"):
        certification_status(fei_programme, enrolment, [], AS_OF)
