"""Builders for the domain tests, including the FEI programme from the interview."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from lti_tool.domain.cohort import Cohort, Funder, Region
from lti_tool.domain.enrolment import Enrolment, EnrolmentKind, Participant
from lti_tool.domain.prices import Prices
from lti_tool.domain.programme import FinalExam, LocalisedName, Module, Programme, percent
from lti_tool.domain.results import ExamAttempt, ModuleResult, Score

COHORT_STARTS = datetime(2025, 8, 18, 8, 0, tzinfo=timezone.utc)
# EXAMPLE ONLY: the interview names no modules. Twelve placeholders stand in for them.
EXAMPLE_MODULE_KEYS = tuple(f"example-module-{number:02d}" for number in range(1, 13))
R10 = Funder("r10", "R10 (tio inlandskommuner)")


def at(days: float) -> datetime:
    """A UTC moment `days` after the first cohort starts."""
    return COHORT_STARTS + timedelta(days=days)


def build_fei_programme(**overrides: object) -> Programme:
    """FEI's programme: 16 weeks, 58,000 SEK, SKNT members 10 % off, exam 60 %, 3 attempts.

    Module pass marks (50 %) are example values, deliberately unlike the exam's.
    """
    settings: dict[str, object] = {
        "code": "FEI-NLU",
        "version": 1,
        "name": LocalisedName(
            "Certifierad näringslivsutvecklare", "Certified business-development officer"
        ),
        "duration_weeks": 16,
        "modules": tuple(
            Module(
                key,
                LocalisedName(f"Exempelmodul {number}", f"Example module {number}"),
                percent(50),
            )
            for number, key in enumerate(EXAMPLE_MODULE_KEYS, start=1)
        ),
        "final_exam": FinalExam(percent(60), max_attempts=3),
        "prices": Prices(full_programme_ore=5_800_000, member_discount=Decimal("0.10")),
        "validity_years": None,
    }
    settings.update(overrides)
    return Programme(**settings)  # type: ignore[arg-type]


def build_enrolment(
    programme: Programme,
    *,
    key: str = "enrolment-1",
    module_keys: frozenset[str] | set[str] | None = None,
    is_sknt_member: bool = False,
    funder: Funder | None = None,
    cohort_key: str = "cohort-2025",
) -> Enrolment:
    """Full programme unless `module_keys` names the modules taken on their own."""
    return Enrolment(
        key=key,
        participant=Participant(f"participant-of-{key}", f"Deltagare {key}"),
        programme=programme.ref,
        cohort_key=cohort_key,
        region=Region("vasterbotten", "Västerbotten"),
        employer="Lycksele kommun",
        is_sknt_member=is_sknt_member,
        kind=EnrolmentKind.FULL_PROGRAMME if module_keys is None else EnrolmentKind.MODULE_ONLY,
        module_keys=frozenset(module_keys or ()),
        funder=funder,
    )


def build_cohort(programme: Programme, funder: Funder | None = None) -> Cohort:
    return Cohort(
        key="cohort-2025",
        name="Hösten 2025",
        programme=programme.ref,
        starts_on=date(2025, 8, 18),
        ends_on=date(2025, 12, 5),
        funder=funder,
    )


def module_result(
    module_key: str,
    given: int | str,
    maximum: int | str = 100,
    *,
    days: float = 7,
    source: str | None = None,
) -> ModuleResult:
    return ModuleResult(
        module_key=module_key,
        score=Score(Decimal(given), Decimal(maximum)),
        graded_at=at(days),
        source=source or f"line-item-{module_key}",
    )


def exam_attempt(
    given: int | str,
    maximum: int | str = 100,
    *,
    attempt: int = 1,
    days: float = 120,
    source: str = "line-item-final-exam",
) -> ExamAttempt:
    return ExamAttempt(
        score=Score(Decimal(given), Decimal(maximum)),
        graded_at=at(days),
        source=source,
        attempt=attempt,
    )


# Session scope throughout: Hypothesis refuses function-scoped fixtures, and these are
# stateless builders handed to the tests.
@pytest.fixture(scope="session")
def fei_programme() -> Programme:
    return build_fei_programme()


@pytest.fixture(scope="session")
def make_programme() -> Callable[..., Programme]:
    return build_fei_programme


@pytest.fixture(scope="session")
def make_enrolment() -> Callable[..., Enrolment]:
    return build_enrolment


@pytest.fixture(scope="session")
def make_cohort() -> Callable[..., Cohort]:
    return build_cohort


@pytest.fixture(scope="session")
def make_module_result() -> Callable[..., ModuleResult]:
    return module_result


@pytest.fixture(scope="session")
def make_exam_attempt() -> Callable[..., ExamAttempt]:
    return exam_attempt


@pytest.fixture(scope="session")
def moment() -> Callable[[float], datetime]:
    return at


@pytest.fixture(scope="session")
def r10() -> Funder:
    return R10
