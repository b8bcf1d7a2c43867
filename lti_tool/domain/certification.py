"""A participant's certification status, computed from the programme and their results."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from enum import Enum

from lti_tool.domain.completion import (
    ExamOutcome,
    exam_outcome,
    module_completed_at,
    why_incomplete,
)
from lti_tool.domain.enrolment import Enrolment, require_enrolment_in
from lti_tool.domain.programme import Programme
from lti_tool.domain.reasons import (
    CertificateExpired,
    CertificateRevoked,
    IssuedCertificateUnsupported,
    ModuleOnlyEnrolment,
    Reason,
    RequirementsMet,
)
from lti_tool.domain.results import ExamAttempt, ModuleResult, current_results
from lti_tool.domain.timestamps import add_years, is_reached, require_utc


class CertificationState(Enum):
    NOT_ELIGIBLE = "not_eligible"
    IN_PROGRESS = "in_progress"
    AWAITING_EXAM = "awaiting_exam"
    EXAM_FAILED = "exam_failed"
    CERTIFIED = "certified"
    EXPIRED = "expired"
    REVOKED = "revoked"


@dataclass(frozen=True)
class Revocation:
    """An administrator's decision to withdraw a certification."""

    revoked_at: datetime
    revoked_by: str
    # In the administrator's words; shown as written.
    reason: str


@dataclass(frozen=True)
class IssuedCertificate:
    """A certificate already handed out, kept to notice when results stop supporting it."""

    issued_at: datetime


# States in which an issued certificate is as expected: held, lapsed, or withdrawn on purpose.
_CONSISTENT_WITH_ISSUED = frozenset(
    {CertificationState.CERTIFIED, CertificationState.EXPIRED, CertificationState.REVOKED}
)


@dataclass(frozen=True)
class CertificationStatus:
    """Where a participant stands, with the reasons the UI shows to explain it."""

    state: CertificationState
    reasons: tuple[Reason, ...]
    modules_completed: int
    modules_required: int
    exam: ExamOutcome
    # When the last requirement was met; set once all are met, even if later revoked.
    certified_at: datetime | None
    expires_at: datetime | None
    # An issued certificate the results no longer support: never revoked silently.
    needs_admin_review: bool

    @property
    def is_certified(self) -> bool:
        return self.state is CertificationState.CERTIFIED


def certification_status(
    programme: Programme,
    enrolment: Enrolment,
    results: Iterable[ModuleResult | ExamAttempt],
    as_of: date | datetime,
    *,
    revocation: Revocation | None = None,
    issued: IssuedCertificate | None = None,
) -> CertificationStatus:
    """The status `as_of` a moment, from the enrolment's results in any order.

    Certified means a full-programme enrolment with every module completed and the
    final exam passed; certified_at is when the last of those was met, so an exam
    passed before the last module counts. `as_of` only decides expiry: results are
    taken as given, so a grade stamped by a clock slightly ahead still counts.
    """
    require_enrolment_in(programme, enrolment)
    if isinstance(as_of, datetime):
        require_utc("as_of", as_of)
    current = current_results(results)
    completed_at: list[datetime] = []
    module_reasons: list[Reason] = []
    for module in programme.modules:
        standing = current.modules.get(module.key)
        moment = module_completed_at(module, standing)
        if moment is None:
            module_reasons.append(why_incomplete(module, standing))
        else:
            completed_at.append(moment)
    exam = exam_outcome(programme.final_exam, current.exam_attempts)

    certified_at = expires_at = None
    if enrolment.is_full_programme and not module_reasons and exam.passed_at is not None:
        certified_at = max(exam.passed_at, max(completed_at))
        if programme.validity_years is not None:
            expires_at = add_years(certified_at, programme.validity_years)

    state, reasons = _state_and_reasons(
        enrolment, tuple(module_reasons), exam, certified_at, expires_at, as_of, revocation
    )
    needs_admin_review = issued is not None and state not in _CONSISTENT_WITH_ISSUED
    if needs_admin_review:
        reasons += (IssuedCertificateUnsupported(issued.issued_at),)
    return CertificationStatus(
        state,
        reasons,
        len(completed_at),
        len(programme.modules),
        exam,
        certified_at,
        expires_at,
        needs_admin_review,
    )


def _state_and_reasons(
    enrolment: Enrolment,
    module_reasons: tuple[Reason, ...],
    exam: ExamOutcome,
    certified_at: datetime | None,
    expires_at: datetime | None,
    as_of: date | datetime,
    revocation: Revocation | None,
) -> tuple[CertificationState, tuple[Reason, ...]]:
    if revocation is not None:
        return CertificationState.REVOKED, (
            CertificateRevoked(revocation.revoked_at, revocation.revoked_by, revocation.reason),
        )
    if not enrolment.is_full_programme:
        return CertificationState.NOT_ELIGIBLE, (ModuleOnlyEnrolment(len(enrolment.module_keys)),)
    if module_reasons:
        # The exam's reasons come along: exhausted attempts mean certification is out of reach.
        return CertificationState.IN_PROGRESS, module_reasons + exam.reasons
    if not exam.is_taken:
        return CertificationState.AWAITING_EXAM, exam.reasons
    if certified_at is None:
        return CertificationState.EXAM_FAILED, exam.reasons
    if expires_at is not None and is_reached(expires_at, as_of):
        return CertificationState.EXPIRED, (CertificateExpired(expires_at),)
    return CertificationState.CERTIFIED, (RequirementsMet(certified_at),)
