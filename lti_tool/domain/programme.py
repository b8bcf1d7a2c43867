"""A programme's configuration: its modules, final exam and prices, checked as a whole."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from functools import cached_property

from lti_tool.domain.prices import Prices
from lti_tool.domain.validation import (
    is_exact_fraction,
    positive_whole_number,
    required_text,
    within,
)


class InvalidProgramme(ValueError):
    """A programme's configuration breaks a rule; each problem names its field."""

    def __init__(self, problems: tuple[str, ...]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def percent(value: int | str) -> Fraction:
    """A pass mark or rate written as a percentage, kept exact: percent(60) == 3/5."""
    return Fraction(value) / 100


@dataclass(frozen=True)
class LocalisedName:
    sv: str
    en: str

    def problems(self) -> Iterator[str]:
        yield from required_text("sv", self.sv)
        yield from required_text("en", self.en)


class _PassMarked:
    """A part with a pass mark as a fraction of the maximum score (0 to 1)."""

    pass_mark: Fraction | Decimal

    @cached_property
    def pass_ratio(self) -> tuple[int, int]:
        # Computed once per part: status computation compares integers in its hot loop.
        return self.pass_mark.as_integer_ratio()

    def pass_mark_problems(self) -> Iterator[str]:
        if self.pass_mark is None:
            yield "pass_mark: required"
        elif not is_exact_fraction(self.pass_mark):
            yield "pass_mark: must be an exact Fraction or Decimal, e.g. percent(60)"
        elif not 0 <= self.pass_mark <= 1:
            yield "pass_mark: must be between 0 and 1 (0 % to 100 %)"


@dataclass(frozen=True)
class Module(_PassMarked):
    key: str
    name: LocalisedName
    pass_mark: Fraction | Decimal

    def problems(self) -> Iterator[str]:
        yield from required_text("key", self.key)
        yield from within("name", self.name.problems())
        yield from self.pass_mark_problems()


@dataclass(frozen=True)
class FinalExam(_PassMarked):
    pass_mark: Fraction | Decimal
    # None: unlimited attempts.
    max_attempts: int | None = None

    def problems(self) -> Iterator[str]:
        yield from self.pass_mark_problems()
        if self.max_attempts is not None:
            yield from positive_whole_number("max_attempts", self.max_attempts)


@dataclass(frozen=True)
class ProgrammeRef:
    """Which programme and version an enrolment or cohort follows."""

    code: str
    version: int


@dataclass(frozen=True)
class Programme:
    """Certification needs every module completed and the final exam passed.

    That rule is the programme owners' own ("the whole programme and the final exam"), so
    it is not configurable. What varies per programme is configured here: pass marks, the
    number of exam attempts and how many years a certificate stays valid (None: forever).
    """

    code: str
    version: int
    name: LocalisedName
    duration_weeks: int
    modules: tuple[Module, ...]
    final_exam: FinalExam
    prices: Prices
    validity_years: int | None = None

    def __post_init__(self) -> None:
        # Accept any sequence from a loader, but keep the value hashable and immutable.
        object.__setattr__(self, "modules", tuple(self.modules))
        problems = tuple(self._problems())
        if problems:
            raise InvalidProgramme(problems)

    @cached_property
    def ref(self) -> ProgrammeRef:
        return ProgrammeRef(self.code, self.version)

    @cached_property
    def module_keys(self) -> frozenset[str]:
        return frozenset(module.key for module in self.modules)

    def _problems(self) -> Iterator[str]:
        yield from required_text("code", self.code)
        yield from positive_whole_number("version", self.version)
        yield from within("name", self.name.problems())
        yield from positive_whole_number("duration_weeks", self.duration_weeks)
        yield from self._module_problems()
        if self.final_exam is None:
            yield "final_exam: required"
        else:
            yield from within("final_exam", self.final_exam.problems())
        yield from within("prices", self.prices.problems())
        if self.validity_years is not None:
            yield from positive_whole_number("validity_years", self.validity_years)

    def _module_problems(self) -> Iterator[str]:
        if not self.modules:
            yield "modules: at least one module is required"
        seen: set[str] = set()
        for index, module in enumerate(self.modules):
            yield from within(f"modules[{index}]", module.problems())
            if module.key in seen:
                yield f"modules[{index}].key: duplicate of {module.key!r}"
            seen.add(module.key)
