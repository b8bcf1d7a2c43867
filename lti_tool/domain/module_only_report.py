"""Per programme and cohort: who takes each module on its own, who completed it, who pays."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from lti_tool.domain.cohort import Cohort, Funder, Region
from lti_tool.domain.completion import module_completed_at
from lti_tool.domain.enrolment import (
    Enrolment,
    Participant,
    payer_of,
    require_enrolment_in,
    require_enrolment_in_cohort,
)
from lti_tool.domain.programme import Module, Programme
from lti_tool.domain.results import CurrentResults, ExamAttempt, ModuleResult, current_results


@dataclass(frozen=True)
class ModuleOnlyParticipation:
    enrolment_key: str
    participant: Participant
    region: Region | None
    completed_at: datetime | None
    payer: Participant | Funder

    @property
    def is_completed(self) -> bool:
        return self.completed_at is not None


@dataclass(frozen=True)
class ModuleOnlyRow:
    module: Module
    participations: tuple[ModuleOnlyParticipation, ...]

    @property
    def completed_count(self) -> int:
        return sum(participation.is_completed for participation in self.participations)


def module_only_report(
    programme: Programme,
    cohort: Cohort,
    enrolments: Iterable[Enrolment],
    results_by_enrolment: Mapping[str, Iterable[ModuleResult | ExamAttempt]],
) -> tuple[ModuleOnlyRow, ...]:
    """One row per programme module, in programme order, listing module-only enrolments.

    Upgraded enrolments are on the full programme now and so are not listed.
    """
    module_only: list[Enrolment] = []
    for enrolment in sorted(enrolments, key=lambda enrolment: enrolment.key):
        require_enrolment_in(programme, enrolment)
        require_enrolment_in_cohort(cohort, enrolment)
        if not enrolment.is_full_programme:
            module_only.append(enrolment)
    current = {
        enrolment.key: current_results(results_by_enrolment.get(enrolment.key, ()))
        for enrolment in module_only
    }
    return tuple(
        ModuleOnlyRow(
            module,
            tuple(
                _participation(module, enrolment, cohort, current[enrolment.key])
                for enrolment in module_only
                if module.key in enrolment.module_keys
            ),
        )
        for module in programme.modules
    )


def _participation(
    module: Module, enrolment: Enrolment, cohort: Cohort, current: CurrentResults
) -> ModuleOnlyParticipation:
    return ModuleOnlyParticipation(
        enrolment_key=enrolment.key,
        participant=enrolment.participant,
        region=enrolment.region,
        completed_at=module_completed_at(module, current.modules.get(module.key)),
        payer=payer_of(enrolment, cohort),
    )
