"""Time certification statuses for 100,000 enrolments of 12 modules and an exam each.

Run from a clean checkout: python benchmarks/certification.py
"""

from __future__ import annotations

import gc
import platform
import random
import sys
import time
from collections import Counter
from collections.abc import Callable
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lti_tool.domain.certification import (  # noqa: E402
    CertificationStatus,
    certification_status,
)
from lti_tool.domain.enrolment import Enrolment, EnrolmentKind, Participant  # noqa: E402
from lti_tool.domain.prices import Prices  # noqa: E402
from lti_tool.domain.programme import (  # noqa: E402
    FinalExam,
    LocalisedName,
    Module,
    Programme,
    percent,
)
from lti_tool.domain.results import ExamAttempt, ModuleResult, Score  # noqa: E402

ENROLMENTS = 100_000
MODULES = 12
TARGET_SECONDS = 1.0
RUNS = 3
STARTED_AT = datetime(2025, 8, 18, tzinfo=timezone.utc)


def synthetic_programme() -> Programme:
    return Programme(
        code="BENCH",
        version=1,
        name=LocalisedName("Mätprogram", "Benchmark programme"),
        duration_weeks=16,
        modules=tuple(
            Module(f"m{index}", LocalisedName(f"Modul {index}", f"Module {index}"), percent(60))
            for index in range(1, MODULES + 1)
        ),
        final_exam=FinalExam(percent(60), max_attempts=3),
        prices=Prices(full_programme_ore=5_800_000),
        validity_years=3,
    )


def synthetic_results(rng: random.Random) -> list[ModuleResult | ExamAttempt]:
    """Mostly passing grades, some fails, gaps, regrades and retaken exams."""
    results: list[ModuleResult | ExamAttempt] = []
    for index in range(1, MODULES + 1):
        if rng.random() < 0.02:
            continue
        graded_at = STARTED_AT + timedelta(days=7 * index, minutes=rng.randrange(600))
        results.append(_module_result(index, _module_points(rng), graded_at))
        if rng.random() < 0.05:
            regraded_at = graded_at + timedelta(days=2)
            results.append(_module_result(index, _module_points(rng), regraded_at))
    for attempt in range(1, rng.choice((1, 1, 1, 2, 3)) + 1):
        results.append(
            ExamAttempt(
                score=Score(Decimal(rng.randrange(30, 61)), Decimal(60)),
                graded_at=STARTED_AT + timedelta(weeks=16 + attempt),
                source="exam",
                attempt=attempt,
            )
        )
    return results


def _module_points(rng: random.Random) -> int:
    return rng.randrange(60, 101) if rng.random() < 0.98 else rng.randrange(0, 60)


def _module_result(index: int, points: int, graded_at: datetime) -> ModuleResult:
    return ModuleResult(
        module_key=f"m{index}",
        score=Score(Decimal(points), Decimal(100)),
        graded_at=graded_at,
        source=f"line-item-{index}",
    )


def full_programme_enrolments(programme: Programme) -> list[Enrolment]:
    participant = Participant("p", "Participant")
    return [
        Enrolment(
            key=f"e{number}",
            participant=participant,
            programme=programme.ref,
            cohort_key="c1",
            region=None,
            employer=None,
            is_sknt_member=False,
            kind=EnrolmentKind.FULL_PROGRAMME,
        )
        for number in range(ENROLMENTS)
    ]


def best_of(runs: int, work: Callable[[], object]) -> tuple[float, object]:
    """The fastest of `runs` timings, as timeit reports, and the work's last result.

    Unlike timeit, the collector stays on: allocating is part of the cost.
    """
    timings = []
    outcome = None
    for _ in range(runs):
        outcome = None  # free the previous run's output before timing the next
        gc.collect()
        started = time.perf_counter()
        outcome = work()
        timings.append(time.perf_counter() - started)
    return min(timings), outcome


def main() -> None:
    rng = random.Random(2025)
    programme = synthetic_programme()
    enrolments = full_programme_enrolments(programme)
    results = [synthetic_results(rng) for _ in enrolments]
    as_of = date(2026, 6, 1)

    def baseline() -> None:
        for enrolment_results in results:
            by_source = {}
            for event in enrolment_results:
                by_source[event.source] = event

    def statuses() -> list[CertificationStatus]:
        return [
            certification_status(programme, enrolment, enrolment_results, as_of)
            for enrolment, enrolment_results in zip(enrolments, results)
        ]

    baseline_seconds, _ = best_of(RUNS, baseline)
    status_seconds, computed = best_of(RUNS, statuses)

    states = Counter(status.state.value for status in computed)
    print(f"{platform.python_implementation()} {platform.python_version()}")
    print(f"{ENROLMENTS:,} enrolments x {MODULES} modules: {sum(map(len, results)):,} events")
    print("states: " + ", ".join(f"{state} {count:,}" for state, count in states.most_common()))
    print(
        f"statuses: {status_seconds:.3f} s, best of {RUNS} "
        f"({status_seconds / ENROLMENTS * 1e6:.1f} µs each; target < {TARGET_SECONDS:.1f} s)"
    )
    print(f"baseline, the same events merely put in a dict: {baseline_seconds:.3f} s")
    print(f"ratio: {status_seconds / baseline_seconds:.1f}x the baseline")


if __name__ == "__main__":
    main()
