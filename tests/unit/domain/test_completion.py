"""When a module counts as completed and the final exam as passed."""

from __future__ import annotations

import pytest

from lti_tool.domain.completion import exam_outcome, module_completed_at, why_incomplete
from lti_tool.domain.programme import FinalExam, percent
from lti_tool.domain.reasons import (
    ExamAttemptsIgnored,
    ExamNotPassed,
    ExamNotTaken,
    ModuleBelowPassMark,
    ModuleNotGraded,
    ResultWithoutMaximum,
)
from lti_tool.domain.results import Score, current_results


@pytest.fixture(scope="module")
def module(fei_programme):
    return fei_programme.modules[0]  # pass mark 50 %


def _standing(events):
    return current_results(events).modules.get("example-module-01")


# Each row: (given, maximum, days, source) per event -> completed on day, or None.
COMPLETION = [
    ([], None),
    ([(50, 100, 3, "a")], 3),
    ([(49, 100, 3, "a")], None),
    ([(1, 1, 3, "a")], 3),
    ([(0, 0, 3, "a")], None),
    ([(80, 100, 3, "a"), (30, 100, 5, "a")], None),
    ([(30, 100, 3, "a"), (80, 100, 5, "a")], 5),
    ([(80, 100, 9, "a"), (90, 100, 4, "b")], 4),
    ([(80, 100, 3, "a"), (30, 100, 5, "b")], 3),
]


@pytest.mark.parametrize(
    ("events", "completed_on"),
    COMPLETION,
    ids=[
        "not graded",
        "exactly at the pass mark",
        "just below",
        "a 1 of 1 completion grade",
        "graded out of 0",
        "a lowered regrade undoes it",
        "a raised regrade completes it when regraded",
        "with two sources, at the earliest passing grade",
        "a failing grade from another source does not undo it",
    ],
)
def test_module_completion(module, make_module_result, moment, events, completed_on):
    standing = _standing(
        make_module_result(module.key, given, maximum, days=days, source=source)
        for given, maximum, days, source in events
    )
    expected = None if completed_on is None else moment(completed_on)
    assert module_completed_at(module, standing) == expected


def test_why_a_module_is_incomplete(module, make_module_result):
    assert why_incomplete(module, None) == ModuleNotGraded(module.key)
    low = make_module_result(module.key, 20, 50, days=2)
    assert why_incomplete(module, _standing([low])) == ModuleBelowPassMark(
        module.key, Score(20, 50), percent(50)
    )
    out_of_nothing = make_module_result(module.key, 3, 0, days=4, source="item-z")
    assert why_incomplete(module, _standing([low, out_of_nothing])) == ResultWithoutMaximum(
        "item-z", module_key=module.key
    )


def test_why_incomplete_speaks_of_the_latest_standing_grade(module, make_module_result):
    older = make_module_result(module.key, 40, days=2, source="item-a")
    newer = make_module_result(module.key, 10, days=3, source="item-b")
    reason = why_incomplete(module, _standing([newer, older]))
    assert reason == ModuleBelowPassMark(module.key, Score(10, 100), percent(50))


EXAM = FinalExam(percent(60), max_attempts=3)


# Each row: (given, maximum, attempt, days) per attempt ->
# passed on day (or None), attempts used, attempts left, reasons.
EXAM_TABLE = [
    ([], None, 0, 3, [ExamNotTaken()]),
    ([(60, 100, 1, 10)], 10, 1, 2, []),
    ([(59, 100, 1, 10)], None, 1, 2, [ExamNotPassed(1, 2, Score(59, 100), percent(60))]),
    ([(10, 100, 1, 10), (70, 100, 2, 20)], 20, 2, 1, []),
    ([(70, 100, 1, 10), (10, 100, 2, 20)], 10, 2, 1, []),
    (
        [(10, 100, 1, 10), (20, 100, 2, 20), (30, 100, 3, 30)],
        None, 3, 0, [ExamNotPassed(3, 0, Score(30, 100), percent(60))],
    ),
    (
        [(10, 100, 1, 10), (20, 100, 2, 20), (30, 100, 3, 30), (90, 100, 4, 40)],
        None, 3, 0,
        [ExamNotPassed(3, 0, Score(30, 100), percent(60)), ExamAttemptsIgnored((4,), 3)],
    ),
    (
        [(90, 100, 4, 40), (10, 100, 1, 10), (20, 100, 2, 20), (30, 100, 3, 30)],
        None, 3, 0,
        [ExamNotPassed(3, 0, Score(30, 100), percent(60)), ExamAttemptsIgnored((4,), 3)],
    ),
    ([(5, 0, 1, 10), (80, 100, 2, 20)], 20, 1, 2, []),
    (
        [(5, 0, 1, 10)],
        None, 0, 3,
        [ExamNotTaken(), ResultWithoutMaximum("line-item-final-exam", attempt=1)],
    ),
]


@pytest.mark.parametrize(
    ("attempts", "passed_on", "used", "left", "reasons"),
    EXAM_TABLE,
    ids=[
        "not taken",
        "passed exactly at the pass mark",
        "failed with attempts left",
        "passed at the second attempt",
        "a later failed attempt does not undo a pass",
        "failed with no attempts left",
        "a passing fourth attempt is ignored and reported",
        "the ignored attempt is the fourth whatever the arrival order",
        "an attempt graded out of 0 does not use an attempt",
        "only an attempt graded out of 0",
    ],
)
def test_exam_outcome(make_exam_attempt, moment, attempts, passed_on, used, left, reasons):
    standing = current_results(
        make_exam_attempt(given, maximum, attempt=attempt, days=days)
        for given, maximum, attempt, days in attempts
    ).exam_attempts
    outcome = exam_outcome(EXAM, standing)
    assert outcome.passed_at == (None if passed_on is None else moment(passed_on))
    assert (outcome.attempts_used, outcome.attempts_left) == (used, left)
    assert list(outcome.reasons) == reasons
    assert outcome.is_passed is (passed_on is not None)


def test_without_a_maximum_every_attempt_counts(make_exam_attempt, moment):
    unlimited = FinalExam(percent(60))
    attempts = current_results(
        make_exam_attempt(10 * number, attempt=number, days=number) for number in range(1, 8)
    ).exam_attempts
    outcome = exam_outcome(unlimited, attempts)
    assert outcome.passed_at == moment(6)
    assert (outcome.attempts_used, outcome.attempts_left) == (7, None)
