"""Whether a module is completed and the final exam passed, judged on current results."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import Enum

from lti_tool.domain.programme import FinalExam, Module
from lti_tool.domain.reasons import (
    ExamAttemptsIgnored,
    ExamNotPassed,
    ExamNotTaken,
    ModuleBelowPassMark,
    ModuleNotGraded,
    Reason,
    ResultWithoutMaximum,
)
from lti_tool.domain.results import ExamAttempt, ModuleResult, Score


def module_completed_at(
    module: Module, standing: Sequence[ModuleResult] | None
) -> datetime | None:
    """When the module's pass mark was reached, or None.

    With grades from several sources, any one reaching the pass mark completes the
    module, at the earliest such grade. A lowered regrade from a source replaces its
    earlier grade before this is judged, so it can undo a completion.
    """
    completed_at = None
    if standing:
        pass_ratio = module.pass_ratio
        for result in standing:
            if result.score.reaches(pass_ratio) and (
                completed_at is None or result.graded_at < completed_at
            ):
                completed_at = result.graded_at
    return completed_at


def why_incomplete(module: Module, standing: Sequence[ModuleResult] | None) -> Reason:
    """The reason a module is not completed, told from its latest standing grade."""
    if not standing:
        return ModuleNotGraded(module.key)
    # Standing grades are sorted by source, so ties in precedence resolve the same way.
    latest = max(standing, key=lambda result: result.precedence)
    if not latest.score.is_assessable:
        return ResultWithoutMaximum(latest.source, module_key=module.key)
    return ModuleBelowPassMark(module.key, latest.score, module.pass_mark)


@dataclass(frozen=True)
class ExamOutcome:
    passed_at: datetime | None
    attempts_used: int
    # None: the programme sets no maximum.
    attempts_left: int | None
    # Why the exam is not passed, and anything an administrator should know about it.
    reasons: tuple[Reason, ...]
    # The passing attempt's score, else the last counted attempt's; None before any attempt.
    score: Score | None = None

    @property
    def is_passed(self) -> bool:
        return self.passed_at is not None

    @property
    def is_taken(self) -> bool:
        return self.attempts_used > 0


def exam_outcome(exam: FinalExam, attempts: Sequence[ExamAttempt]) -> ExamOutcome:
    """Judge the attempts in order; only the first `max_attempts` assessable ones count.

    Attempts beyond the maximum are ignored even when they pass, and reported, because
    the LMS should not have allowed them. An attempt graded out of 0 does not use up an
    attempt: it is reported for an instructor to regrade. The exam counts whenever it was
    passed, even before all modules were completed.
    """
    limit = exam.max_attempts
    pass_ratio = exam.pass_ratio
    counted: list[ExamAttempt] = []
    ignored: list[int] = []
    passed_at = None
    passing_score = None
    for attempt in attempts:
        if not attempt.score.is_assessable:
            continue
        if len(counted) == limit:
            ignored.append(attempt.attempt)
            continue
        counted.append(attempt)
        if attempt.score.reaches(pass_ratio) and (
            passed_at is None or attempt.graded_at < passed_at
        ):
            passed_at = attempt.graded_at
            passing_score = attempt.score
    attempts_left = None if limit is None else limit - len(counted)
    if passed_at is not None:
        return ExamOutcome(passed_at, len(counted), attempts_left, (), passing_score)
    not_passed: Reason = (
        ExamNotPassed(len(counted), attempts_left, counted[-1].score, exam.pass_mark)
        if counted
        else ExamNotTaken()
    )
    flags = (ExamAttemptsIgnored(tuple(ignored), limit),) if ignored else ()
    unassessable = tuple(
        ResultWithoutMaximum(attempt.source, attempt=attempt.attempt)
        for attempt in attempts
        if not attempt.score.is_assessable
    )
    return ExamOutcome(None, len(counted), attempts_left, (not_passed, *flags, *unassessable),
                       counted[-1].score if counted else None)


class ModuleState(Enum):
    COMPLETED = "completed"
    BELOW_PASS_MARK = "below_pass_mark"
    NOT_GRADED = "not_graded"
    WITHOUT_MAXIMUM = "without_maximum"


@dataclass(frozen=True)
class ModuleStanding:
    """Where one participant stands in one module, for pages and reports."""

    module_key: str
    state: ModuleState
    # The grade that decides the state: the completing one, else the latest standing one.
    score: Score | None
    completed_at: datetime | None


_STATE_OF_REASON = {ModuleNotGraded: ModuleState.NOT_GRADED, ModuleBelowPassMark: ModuleState.BELOW_PASS_MARK,
                    ResultWithoutMaximum: ModuleState.WITHOUT_MAXIMUM}


def module_standings(
    modules: Sequence[Module], standings: Mapping[str, Sequence[ModuleResult]]
) -> tuple[ModuleStanding, ...]:
    """Each module's state by the same rules the certification status uses.

    `standings` is CurrentResults.modules. Kept apart from certification_status, whose hot
    loop needs no per-module objects.
    """
    found = []
    for module in modules:
        standing = standings.get(module.key)
        completed_at = module_completed_at(module, standing)
        if completed_at is not None:
            completing = next(r for r in standing
                              if r.graded_at == completed_at and r.score.reaches(module.pass_ratio))
            found.append(ModuleStanding(module.key, ModuleState.COMPLETED, completing.score, completed_at))
            continue
        reason = why_incomplete(module, standing)
        latest = max(standing, key=lambda r: r.precedence).score if standing else None
        found.append(ModuleStanding(module.key, _STATE_OF_REASON[type(reason)], latest, None))
    return tuple(found)
