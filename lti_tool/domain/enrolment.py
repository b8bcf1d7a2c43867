"""Who takes what: full-programme and module-only enrolments, upgrades, and who pays."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from enum import Enum

from lti_tool.domain.cohort import Cohort, Funder, Region
from lti_tool.domain.programme import Programme, ProgrammeRef
from lti_tool.domain.timestamps import require_utc


class InvalidEnrolment(ValueError):
    """A module-only enrolment names its modules; a full-programme one bought them all."""


class AlreadyFullProgramme(ValueError):
    """Only a module-only enrolment can be upgraded."""


class EnrolmentNotInProgramme(ValueError):
    """An enrolment was evaluated against a programme (or version) it does not follow."""


class EnrolmentNotInCohort(ValueError):
    """An enrolment was billed or reported under a cohort it does not belong to."""


class EnrolmentKind(Enum):
    FULL_PROGRAMME = "full_programme"
    MODULE_ONLY = "module_only"


@dataclass(frozen=True)
class Participant:
    key: str
    name: str


@dataclass(frozen=True)
class Enrolment:
    key: str
    participant: Participant
    programme: ProgrammeRef
    cohort_key: str
    region: Region | None
    # The participant's municipality; it is not the payer unless it is also the funder.
    employer: str | None
    is_sknt_member: bool
    kind: EnrolmentKind
    # The modules bought as module-only. Kept after an upgrade: they were paid for.
    module_keys: frozenset[str] = frozenset()
    # Overrides the cohort's funder.
    funder: Funder | None = None
    upgraded_at: datetime | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "module_keys", frozenset(self.module_keys))
        if self.kind is EnrolmentKind.MODULE_ONLY and not self.module_keys:
            raise InvalidEnrolment("module_keys: a module-only enrolment takes at least one")
        if self.kind is EnrolmentKind.MODULE_ONLY and self.upgraded_at is not None:
            raise InvalidEnrolment("upgraded_at: a module-only enrolment is not upgraded")
        if self.is_full_programme and self.module_keys and self.upgraded_at is None:
            raise InvalidEnrolment("module_keys: only an upgraded enrolment keeps modules")
        if self.upgraded_at is not None:
            require_utc("upgraded_at", self.upgraded_at)

    @property
    def is_full_programme(self) -> bool:
        return self.kind is EnrolmentKind.FULL_PROGRAMME

    @property
    def is_upgraded(self) -> bool:
        return self.upgraded_at is not None


def upgrade_to_full_programme(enrolment: Enrolment, upgraded_at: datetime) -> Enrolment:
    """The same enrolment on the full programme; its results, and so its modules, carry over."""
    if enrolment.is_full_programme:
        raise AlreadyFullProgramme(f"enrolment {enrolment.key} is already a full programme")
    return replace(enrolment, kind=EnrolmentKind.FULL_PROGRAMME, upgraded_at=upgraded_at)


def require_enrolment_in(programme: Programme, enrolment: Enrolment) -> None:
    if enrolment.programme != programme.ref:
        raise EnrolmentNotInProgramme(
            f"enrolment {enrolment.key} follows {enrolment.programme}, not {programme.ref}"
        )
    if not enrolment.module_keys <= programme.module_keys:
        unknown = sorted(enrolment.module_keys - programme.module_keys)
        raise EnrolmentNotInProgramme(
            f"enrolment {enrolment.key} names modules not in the programme: {unknown}"
        )


def require_enrolment_in_cohort(cohort: Cohort, enrolment: Enrolment) -> None:
    if enrolment.cohort_key != cohort.key:
        raise EnrolmentNotInCohort(f"enrolment {enrolment.key} is not in cohort {cohort.key}")


def payer_of(enrolment: Enrolment, cohort: Cohort) -> Participant | Funder:
    """The enrolment's own funder, else the cohort's, else the participant pays."""
    require_enrolment_in_cohort(cohort, enrolment)
    return enrolment.funder or cohort.funder or enrolment.participant
