"""Cohorts (omgångar), the regional groups participants meet in, and third-party funders."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from lti_tool.domain.programme import ProgrammeRef


class InvalidCohort(ValueError):
    """A cohort must end on or after the day it starts."""


@dataclass(frozen=True)
class Funder:
    """A third party that pays for participants, e.g. R10 for its first cohort."""

    key: str
    name: str


@dataclass(frozen=True)
class Region:
    key: str
    name: str


@dataclass(frozen=True)
class Cohort:
    key: str
    name: str
    programme: ProgrammeRef
    starts_on: date
    ends_on: date
    funder: Funder | None = None

    def __post_init__(self) -> None:
        if self.ends_on < self.starts_on:
            raise InvalidCohort(
                f"ends_on: {self.ends_on} is before starts_on {self.starts_on}"
            )
