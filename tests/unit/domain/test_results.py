"""Grades from the LMS: validation, the pass-mark comparison, and which grade stands."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal
from fractions import Fraction

import pytest

from lti_tool.domain.programme import percent
from lti_tool.domain.results import (
    ExamAttempt,
    InvalidResult,
    ModuleResult,
    Score,
    current_results,
)
from lti_tool.domain.timestamps import NaiveTimestamp


@pytest.mark.parametrize(
    ("given", "maximum", "pass_mark", "reaches"),
    [
        ("60", "100", percent(60), True),
        ("59.99", "100", percent(60), False),
        ("60.01", "100", percent(60), True),
        ("3", "5", percent(60), True),
        ("2.9999", "5", percent(60), False),
        ("1", "1", Fraction(1), True),
        ("0.999", "1", Fraction(1), False),
        ("0", "1", Fraction(0), True),
        ("0", "0", Fraction(0), False),
        ("5", "0", percent(60), False),
        ("101", "100", Fraction(1), True),
        ("2", "3", Fraction(2, 3), True),
        ("0.6666666667", "1", Fraction(2, 3), True),
        ("0.6666666666", "1", Fraction(2, 3), False),
        ("7.5", "12.5", Decimal("0.6"), True),
    ],
    ids=[
        "exactly at the pass mark", "just below", "just above", "exact fraction",
        "a hair below", "1 of 1 completes", "short of full marks", "0 % pass mark",
        "0 of 0 never reaches", "a maximum of 0 never reaches", "extra credit",
        "two thirds exactly", "rounded up decimal of two thirds",
        "rounded down decimal of two thirds", "decimal maximum and pass mark",
    ],
)
def test_a_score_reaches_a_pass_mark_exactly(given, maximum, pass_mark, reaches):
    score = Score(Decimal(given), Decimal(maximum))
    assert score.reaches(pass_mark.as_integer_ratio()) is reaches


@pytest.mark.parametrize(
    ("given", "maximum", "message"),
    [
        (Decimal(-1), Decimal(10), "given: must not be negative"),
        (Decimal(1), Decimal("-0.5"), "maximum: must not be negative"),
        (0.6, Decimal(1), "given: must be an exact Decimal"),
        (Decimal(1), 1.0, "maximum: must be an exact Decimal"),
    ],
    ids=["negative score", "negative maximum", "float score", "float maximum"],
)
def test_an_invalid_score_is_refused(given, maximum, message):
    with pytest.raises(InvalidResult, match=message):
        Score(given, maximum)


def test_a_whole_number_score_is_accepted():
    assert Score(3, 4).reaches(percent(75).as_integer_ratio())


@pytest.mark.parametrize(
    "graded_at",
    [datetime(2025, 9, 1, 12), datetime(2025, 9, 1, 12, tzinfo=timezone(timedelta(hours=2)))],
    ids=["naive", "not UTC"],
)
def test_a_grade_needs_a_utc_timestamp(graded_at):
    with pytest.raises(NaiveTimestamp):
        ModuleResult(
            module_key="m", score=Score(Decimal(1), Decimal(1)), graded_at=graded_at, source="s"
        )


def test_a_module_result_names_its_module(moment):
    with pytest.raises(InvalidResult, match="module_key: required"):
        ModuleResult(module_key="", score=Score(1, 1), graded_at=moment(1), source="s")


@pytest.mark.parametrize("attempt", [0, -1, True])
def test_exam_attempts_count_from_one(moment, attempt):
    with pytest.raises(InvalidResult, match="attempt"):
        ExamAttempt(score=Score(1, 1), graded_at=moment(1), source="s", attempt=attempt)


# Each row: (given, days) per event for one module and source -> the score that stands.
SUPERSEDING = [
    ([(80, 1), (40, 2)], 40),
    ([(40, 2), (80, 1)], 40),
    ([(40, 1), (80, 2), (60, 3)], 60),
    ([(40, 1), (80, 1)], 80),
    ([(80, 1), (40, 1)], 80),
    ([(70, 5), (70, 5)], 70),
]


@pytest.mark.parametrize(
    ("events", "standing"),
    SUPERSEDING,
    ids=[
        "a lowered regrade replaces the grade",
        "an older grade arriving late is ignored",
        "the latest of several",
        "a tie in time goes to the higher score",
        "the tie-break ignores arrival order",
        "a repeated event counts once",
    ],
)
def test_the_latest_grade_from_a_source_stands(make_module_result, events, standing):
    current = current_results(
        make_module_result("m1", given, days=days, source="item-1") for given, days in events
    )
    (only,) = current.modules["m1"]
    assert only.score.given == standing


def test_a_tie_in_time_and_score_goes_to_the_larger_maximum_whatever_the_order(
    make_module_result,
):
    smaller = make_module_result("m1", 5, 10, days=1, source="item")
    larger = make_module_result("m1", 5, 20, days=1, source="item")
    assert current_results([smaller, larger]) == current_results([larger, smaller])
    assert current_results([smaller, larger]).modules["m1"] == (larger,)


def test_each_source_keeps_its_own_grade_sorted_by_source(make_module_result):
    from_b = make_module_result("m1", 40, days=3, source="item-b")
    from_a = make_module_result("m1", 90, days=1, source="item-a")
    current = current_results([from_b, from_a])
    assert current.modules["m1"] == (from_a, from_b)
    assert current_results([from_a, from_b]) == current


def test_exam_attempts_stand_apart_and_are_ordered_by_attempt_then_source(make_exam_attempt):
    third = make_exam_attempt(90, attempt=3, days=30)
    first = make_exam_attempt(10, attempt=1, days=10)
    first_elsewhere = make_exam_attempt(20, attempt=1, days=11, source="other-item")
    first_regraded = make_exam_attempt(55, attempt=1, days=40)
    current = current_results([third, first_regraded, first_elsewhere, first])
    assert current.exam_attempts == (first_regraded, first_elsewhere, third)
    assert current.modules == {}


def test_module_results_and_exam_attempts_do_not_mix(make_module_result, make_exam_attempt):
    result = make_module_result("m1", 50, source="shared-item")
    attempt = make_exam_attempt(50, source="shared-item")
    current = current_results([result, attempt])
    assert current.modules == {"m1": (result,)}
    assert current.exam_attempts == (attempt,)


def test_precedence_is_derived_and_not_part_of_equality(make_module_result):
    result = make_module_result("m1", 50, days=2)
    assert result.precedence == (result.graded_at, Decimal(50), Decimal(100))
    assert "precedence" not in repr(result)
