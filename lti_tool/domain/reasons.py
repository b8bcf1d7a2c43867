"""Why a certification status is what it is, as data the UI can translate.

Each reason has a code and typed parameters (`params()`), so a template per code can
render it in Swedish or English; `describe()` is a plain English line for logs.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from decimal import Decimal
from enum import Enum
from fractions import Fraction
from typing import ClassVar

from lti_tool.domain.results import Score


class ReasonCode(Enum):
    MODULE_ONLY_ENROLMENT = "module_only_enrolment"
    MODULE_NOT_GRADED = "module_not_graded"
    MODULE_BELOW_PASS_MARK = "module_below_pass_mark"
    RESULT_WITHOUT_MAXIMUM = "result_without_maximum"
    EXAM_NOT_TAKEN = "exam_not_taken"
    EXAM_NOT_PASSED = "exam_not_passed"
    EXAM_ATTEMPTS_IGNORED = "exam_attempts_ignored"
    REQUIREMENTS_MET = "requirements_met"
    CERTIFICATE_EXPIRED = "certificate_expired"
    CERTIFICATE_REVOKED = "certificate_revoked"
    ISSUED_CERTIFICATE_UNSUPPORTED = "issued_certificate_unsupported"


@dataclass(frozen=True)
class Reason:
    code: ClassVar[ReasonCode]

    def params(self) -> dict[str, object]:
        return {field.name: getattr(self, field.name) for field in fields(self)}

    def describe(self) -> str:
        raise NotImplementedError


@dataclass(frozen=True)
class ModuleOnlyEnrolment(Reason):
    code = ReasonCode.MODULE_ONLY_ENROLMENT
    modules_taken: int

    def describe(self) -> str:
        return (
            f"module-only enrolment ({self.modules_taken} module(s)) "
            "is not eligible for certification"
        )


@dataclass(frozen=True)
class ModuleNotGraded(Reason):
    code = ReasonCode.MODULE_NOT_GRADED
    module_key: str

    def describe(self) -> str:
        return f"module {self.module_key} not yet graded"


@dataclass(frozen=True)
class ModuleBelowPassMark(Reason):
    code = ReasonCode.MODULE_BELOW_PASS_MARK
    module_key: str
    score: Score
    pass_mark: Fraction | Decimal

    def describe(self) -> str:
        return (
            f"module {self.module_key} graded {_score(self.score)}, "
            f"below the pass mark of {_percent(self.pass_mark)}"
        )


@dataclass(frozen=True)
class ResultWithoutMaximum(Reason):
    """A grade out of 0 cannot be assessed; an instructor has to regrade it."""

    code = ReasonCode.RESULT_WITHOUT_MAXIMUM
    source: str
    module_key: str | None = None
    attempt: int | None = None

    def describe(self) -> str:
        graded = f"module {self.module_key}" if self.module_key else f"exam attempt {self.attempt}"
        return f"{graded} was graded out of 0 (source {self.source}); it cannot count"


@dataclass(frozen=True)
class ExamNotTaken(Reason):
    code = ReasonCode.EXAM_NOT_TAKEN

    def describe(self) -> str:
        return "final exam not yet taken"


@dataclass(frozen=True)
class ExamNotPassed(Reason):
    code = ReasonCode.EXAM_NOT_PASSED
    attempts_used: int
    # None: the programme sets no maximum.
    attempts_left: int | None
    latest_score: Score
    pass_mark: Fraction | Decimal

    def describe(self) -> str:
        left = "unlimited" if self.attempts_left is None else str(self.attempts_left)
        return (
            f"final exam not passed after {self.attempts_used} attempt(s), latest "
            f"{_score(self.latest_score)}, pass mark {_percent(self.pass_mark)}; "
            f"attempts left: {left}"
        )


@dataclass(frozen=True)
class ExamAttemptsIgnored(Reason):
    """More attempts were graded than the programme allows; the extra ones do not count."""

    code = ReasonCode.EXAM_ATTEMPTS_IGNORED
    ignored_attempts: tuple[int, ...]
    max_attempts: int

    def describe(self) -> str:
        ignored = ", ".join(map(str, self.ignored_attempts))
        return f"exam attempt(s) {ignored} ignored: at most {self.max_attempts} count"


@dataclass(frozen=True)
class RequirementsMet(Reason):
    code = ReasonCode.REQUIREMENTS_MET
    certified_at: datetime

    def describe(self) -> str:
        return f"all modules completed and final exam passed; certified at {self.certified_at}"


@dataclass(frozen=True)
class CertificateExpired(Reason):
    code = ReasonCode.CERTIFICATE_EXPIRED
    expires_at: datetime

    def describe(self) -> str:
        return f"certification expired at {self.expires_at}; recertification needed"


@dataclass(frozen=True)
class CertificateRevoked(Reason):
    code = ReasonCode.CERTIFICATE_REVOKED
    revoked_at: datetime
    revoked_by: str
    reason: str

    def describe(self) -> str:
        return f"revoked at {self.revoked_at} by {self.revoked_by}: {self.reason}"


@dataclass(frozen=True)
class IssuedCertificateUnsupported(Reason):
    """A certificate was issued but the results no longer support it: an admin decides."""

    code = ReasonCode.ISSUED_CERTIFICATE_UNSUPPORTED
    issued_at: datetime

    def describe(self) -> str:
        return (
            f"a certificate issued at {self.issued_at} is no longer supported by the "
            "results; needs administrator review"
        )


def _score(score: Score) -> str:
    return f"{score.given} of {score.maximum}"


def _percent(fraction: Fraction | Decimal) -> str:
    # Display only; the comparisons themselves stay exact.
    return f"{float(fraction) * 100:g} %"
