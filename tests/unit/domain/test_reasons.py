"""Every reason code has one reason type the UI can translate and a log can describe."""

from __future__ import annotations

from datetime import datetime, timezone
from fractions import Fraction

import pytest

from lti_tool.domain import reasons
from lti_tool.domain.reasons import Reason, ReasonCode
from lti_tool.domain.results import Score

WHEN = datetime(2025, 11, 27, 8, 0, tzinfo=timezone.utc)
REASON_TYPES = Reason.__subclasses__()

EXAMPLES = [
    (reasons.ModuleOnlyEnrolment(2), "module-only enrolment (2 module(s))"),
    (reasons.ModuleNotGraded("m3"), "module m3 not yet graded"),
    (reasons.ModuleBelowPassMark("m3", Score(59, 100), Fraction(3, 5)),
     "module m3 graded 59 of 100, below the pass mark of 60 %"),
    (reasons.ResultWithoutMaximum("item-7", module_key="m3"), "module m3 was graded out of 0"),
    (reasons.ResultWithoutMaximum("item-9", attempt=2), "exam attempt 2 was graded out of 0"),
    (reasons.ExamNotTaken(), "final exam not yet taken"),
    (reasons.ExamNotPassed(1, None, Score(5, 10), Fraction(3, 5)), "attempts left: unlimited"),
    (reasons.ExamNotPassed(2, 1, Score(5, 10), Fraction(3, 5)), "attempts left: 1"),
    (reasons.ExamAttemptsIgnored((4, 5), 3), "exam attempt(s) 4, 5 ignored: at most 3 count"),
    (reasons.RequirementsMet(WHEN), "certified at 2025-11-27 08:00:00+00:00"),
    (reasons.CertificateExpired(WHEN), "expired at 2025-11-27"),
    (reasons.CertificateRevoked(WHEN, "admin", "fusk"), "by admin: fusk"),
    (reasons.IssuedCertificateUnsupported(WHEN), "needs administrator review"),
]


def test_each_code_has_exactly_one_reason_type():
    assert sorted(kind.code.value for kind in REASON_TYPES) == sorted(
        code.value for code in ReasonCode
    )


@pytest.mark.parametrize(("reason", "text"), EXAMPLES, ids=lambda value: type(value).__name__)
def test_a_reason_describes_itself_in_english(reason, text):
    assert text in reason.describe()


def test_a_reason_gives_its_parameters_for_translation():
    reason = reasons.ModuleBelowPassMark("m3", Score(59, 100), Fraction(3, 5))
    assert reason.params() == {
        "module_key": "m3", "score": Score(59, 100), "pass_mark": Fraction(3, 5),
    }
    assert reasons.ExamNotTaken().params() == {}
