"""Properties of the certification status over generated grades (Hypothesis)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from fractions import Fraction

import hypothesis
from hypothesis import given
from hypothesis import strategies as st

from lti_tool.domain.certification import CertificationState, certification_status
from lti_tool.domain.enrolment import Enrolment, EnrolmentKind, Participant
from lti_tool.domain.prices import Prices
from lti_tool.domain.programme import FinalExam, LocalisedName, Module, Programme, percent
from lti_tool.domain.results import ExamAttempt, ModuleResult, Score, current_results

# A small programme keeps "everything passed" within reach of random grades.
PROGRAMME = Programme(
    code="PROP",
    version=1,
    name=LocalisedName("Egenskaper", "Properties"),
    duration_weeks=16,
    modules=(
        Module("m1", LocalisedName("M1", "M1"), percent(50)),
        Module("m2", LocalisedName("M2", "M2"), percent(60)),
        Module("m3", LocalisedName("M3", "M3"), Fraction(1)),
    ),
    final_exam=FinalExam(percent(60), max_attempts=1),
    prices=Prices(full_programme_ore=5_800_000),
)
AS_OF = date(2026, 1, 1)
# Few distinct moments, sources and points, so that ties and regrades are common.
MOMENTS = [datetime(2025, 9, 1, tzinfo=timezone.utc) + timedelta(days=day) for day in range(4)]
points = st.integers(min_value=0, max_value=4).map(Decimal)
maxima = st.sampled_from([Decimal(0), Decimal(2), Decimal(4)])
moments = st.sampled_from(MOMENTS)

module_results = st.builds(
    lambda key, given, maximum, graded_at, source: ModuleResult(
        module_key=key, score=Score(given, maximum), graded_at=graded_at, source=source
    ),
    st.sampled_from(["m1", "m2", "m3", "retired"]),
    points,
    maxima,
    moments,
    st.sampled_from(["a", "b"]),
)
exam_attempts = st.builds(
    lambda attempt, given, maximum, graded_at, source: ExamAttempt(
        score=Score(given, maximum), graded_at=graded_at, source=source, attempt=attempt
    ),
    st.integers(min_value=1, max_value=3),
    points,
    maxima,
    moments,
    st.sampled_from(["x", "y"]),
)
noise = st.lists(st.one_of(module_results, exam_attempts), max_size=14)
FULL_MARKS = Score(Decimal(4), Decimal(4))
# Full marks everywhere, at random moments, so later noise may or may not supersede them.
everything_passed = st.tuples(*(moments for _ in range(4))).map(
    lambda at: [
        *(ModuleResult(module_key=key, score=FULL_MARKS, graded_at=moment, source="a")
          for key, moment in zip(["m1", "m2", "m3"], at)),
        ExamAttempt(score=FULL_MARKS, graded_at=at[3], source="x", attempt=1),
    ]
)
events = st.one_of(noise, st.builds(lambda base, extra: base + extra, everything_passed, noise))
module_selections = st.sets(st.sampled_from(["m1", "m2", "m3"]), min_size=1)


def _enrolment(module_keys: frozenset[str] = frozenset()) -> Enrolment:
    return Enrolment(
        key="e",
        participant=Participant("p", "P"),
        programme=PROGRAMME.ref,
        cohort_key="c",
        region=None,
        employer=None,
        is_sknt_member=False,
        kind=EnrolmentKind.MODULE_ONLY if module_keys else EnrolmentKind.FULL_PROGRAMME,
        module_keys=module_keys,
    )


FULL = _enrolment()


def _status(grades, enrolment=FULL):
    return certification_status(PROGRAMME, enrolment, grades, AS_OF)


def _reaches(score: Score, pass_mark: Fraction) -> bool:
    return score.maximum > 0 and Fraction(score.given) / Fraction(score.maximum) >= pass_mark


def _rank(event) -> tuple:
    return (event.graded_at, event.score.given, event.score.maximum)


def oracle_certified(grades) -> bool:
    """Certification restated as set expressions, independent of the implementation."""
    grades = set(grades)
    modules = {g for g in grades if isinstance(g, ModuleResult)}
    attempts = grades - modules
    standing_modules = {
        g for g in modules
        if not any((o.module_key, o.source) == (g.module_key, g.source) and _rank(o) > _rank(g)
                   for o in modules)
    }
    completed = {
        g.module_key for g in standing_modules
        for module in PROGRAMME.modules
        if module.key == g.module_key and _reaches(g.score, module.pass_mark)
    }
    standing_attempts = {
        g for g in attempts
        if not any((o.attempt, o.source) == (g.attempt, g.source) and _rank(o) > _rank(g)
                   for o in attempts)
    }
    counted = sorted(
        (g for g in standing_attempts if g.score.maximum > 0), key=lambda g: (g.attempt, g.source)
    )[: PROGRAMME.final_exam.max_attempts]
    exam_passed = any(_reaches(g.score, PROGRAMME.final_exam.pass_mark) for g in counted)
    return {m.key for m in PROGRAMME.modules} <= completed and exam_passed


# Moving forward: later states rank higher. (PROGRAMME never expires; nobody revokes.)
RANK = {
    CertificationState.IN_PROGRESS: 1,
    CertificationState.AWAITING_EXAM: 2,
    CertificationState.EXAM_FAILED: 2,
    CertificationState.CERTIFIED: 3,
}


@given(grades=events, module_keys=module_selections)
def test_a_module_only_enrolment_is_never_certified(grades, module_keys):
    status = _status(grades, _enrolment(frozenset(module_keys)))
    assert status.state is CertificationState.NOT_ELIGIBLE
    assert status.certified_at is None


@given(grades=events)
def test_certified_exactly_when_every_module_is_completed_and_the_exam_passed(grades):
    is_certified = _status(grades).is_certified
    hypothesis.event(f"certified: {is_certified}")
    assert is_certified is oracle_certified(grades)


@given(grades=events, data=st.data())
def test_the_order_of_results_does_not_matter(grades, data):
    shuffled = data.draw(st.permutations(grades))
    assert _status(shuffled) == _status(grades)
    assert current_results(shuffled) == current_results(grades)


@given(grades=events)
def test_applying_the_same_results_twice_equals_applying_them_once(grades):
    assert _status(grades + grades) == _status(grades)
    assert current_results(grades + grades) == current_results(grades)


# Full marks pass every pass mark in PROGRAMME, up to 100 %.
passing_results = st.one_of(module_results, exam_attempts).map(
    lambda grade: replace(grade, score=FULL_MARKS)
)


@given(grades=events, extra=passing_results)
def test_a_passing_result_never_moves_a_participant_backwards(grades, extra):
    before = _status(grades)
    after = _status([*grades, extra])
    assert RANK[after.state] >= RANK[before.state]
    assert after.modules_completed >= before.modules_completed
    assert after.exam.is_passed or not before.exam.is_passed
