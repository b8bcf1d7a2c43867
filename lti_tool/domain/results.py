"""Grades as they arrive from the LMS, and which of them are current after regrades."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from lti_tool.domain.timestamps import require_utc
from lti_tool.domain.validation import is_exact_fraction, is_whole_number


class InvalidResult(ValueError):
    """A score is exact and not negative, and every grade says when it was given."""


@dataclass(frozen=True, slots=True)
class Score:
    """Points given out of a maximum. Above the maximum is allowed (extra credit).

    A maximum of 0 is accepted from the LMS but can never reach a pass mark: a fraction
    of nothing is undefined. The status reports such a result so someone can fix it.
    """

    given: Decimal
    maximum: Decimal
    # given / maximum as two integers, so that comparing with a pass mark is integer
    # arithmetic (several times faster than Decimal, and as exact). 0 when maximum is 0.
    _scaled_given: int = field(init=False, repr=False, compare=False)
    _scaled_maximum: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        for name in ("given", "maximum"):
            value = getattr(self, name)
            if not is_exact_fraction(value):
                raise InvalidResult(f"{name}: must be an exact Decimal, not {value!r}")
            if value < 0:
                raise InvalidResult(f"{name}: must not be negative, got {value}")
        given_numerator, given_denominator = self.given.as_integer_ratio()
        maximum_numerator, maximum_denominator = self.maximum.as_integer_ratio()
        object.__setattr__(self, "_scaled_given", given_numerator * maximum_denominator)
        object.__setattr__(self, "_scaled_maximum", maximum_numerator * given_denominator)

    @property
    def is_assessable(self) -> bool:
        return self._scaled_maximum > 0

    def reaches(self, pass_ratio: tuple[int, int]) -> bool:
        """Whether given / maximum >= a pass mark given as (numerator, denominator).

        Cross-multiplied, so it stays exact; see Module.pass_ratio.
        """
        numerator, denominator = pass_ratio
        maximum = self._scaled_maximum
        return maximum > 0 and self._scaled_given * denominator >= numerator * maximum


@dataclass(frozen=True, kw_only=True, slots=True)
class _Grade:
    score: Score
    graded_at: datetime
    # Where the grade came from in the LMS, e.g. its line item or result id.
    source: str
    # Which grade stands when several share a slot: the latest, then the higher score,
    # then (arbitrary but fixed) the higher maximum. It orders every field that is not
    # the slot, so the winner never depends on the order events arrive in. Derived, so
    # not part of equality.
    precedence: tuple[datetime, Decimal, Decimal] = field(
        init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        require_utc("graded_at", self.graded_at)
        object.__setattr__(
            self, "precedence", (self.graded_at, self.score.given, self.score.maximum)
        )


@dataclass(frozen=True, kw_only=True, slots=True)
class ModuleResult(_Grade):
    """A module's grade from one source; a later grade from the same source replaces it."""

    module_key: str

    def __post_init__(self) -> None:
        # Explicit: slots=True rebuilds the class, which breaks a bare super().
        _Grade.__post_init__(self)
        if not self.module_key:
            raise InvalidResult("module_key: required")

    @property
    def slot(self) -> str:
        """Within a module, what a regrade replaces."""
        return self.source


@dataclass(frozen=True, kw_only=True, slots=True)
class ExamAttempt(_Grade):
    """One sitting of the final exam; the same attempt from the same source is regraded."""

    attempt: int = 1

    def __post_init__(self) -> None:
        _Grade.__post_init__(self)
        if not is_whole_number(self.attempt) or self.attempt < 1:
            raise InvalidResult(f"attempt: must be a whole number of at least 1: {self.attempt!r}")

    @property
    def slot(self) -> tuple[int, str]:
        """What a regrade replaces; also the order attempts are counted in."""
        return (self.attempt, self.source)


@dataclass(frozen=True)
class CurrentResults:
    # module key -> the standing grade of each source, sorted by source
    modules: Mapping[str, tuple[ModuleResult, ...]]
    # The standing grade of each attempt, sorted by attempt number, then source.
    exam_attempts: tuple[ExamAttempt, ...]


def current_results(events: Iterable[ModuleResult | ExamAttempt]) -> CurrentResults:
    """The standing grades: per slot, the event with the highest precedence.

    The order of `events` does not matter, and repeating an event changes nothing.
    A lowered regrade replaces the earlier value like any other later grade.
    """
    modules: dict[str, tuple[ModuleResult, ...]] = {}
    attempts: tuple[ExamAttempt, ...] = ()
    for event in events:
        if type(event) is ModuleResult:
            # Most modules have one source: storing a 1-tuple keeps this loop cheap.
            key = event.module_key
            standing = modules.get(key)
            modules[key] = (event,) if standing is None else _stand(standing, event)
        else:
            attempts = _stand(attempts, event)
    return CurrentResults(modules, attempts)


def _stand(standing: tuple, event: ModuleResult | ExamAttempt) -> tuple:
    """`standing` with `event` in its slot if it takes precedence, slots kept in order.

    Keeping the slots sorted makes the result independent of the order events arrive in.
    """
    slot = event.slot
    for index, held in enumerate(standing):
        if held.slot == slot:
            if event.precedence > held.precedence:
                return (*standing[:index], event, *standing[index + 1:])
            return standing
        if slot < held.slot:
            return (*standing[:index], event, *standing[index:])
    return (*standing, event)
