"""The administrator's reports as rows with stable, documented columns, for CSV and XLSX (`exports`).

Keys are the programme file's keys (cohort, region, module, funder) and the LMS's user ids; names
are given beside them. Amounts are SEK with two decimals (numbers in XLSX, "52200.00" in CSV),
times ISO 8601 in UTC, dates ISO 8601, yes/no as "true"/"false". Module names are in `language`.
"""
from __future__ import annotations

from decimal import Decimal
from typing import Iterator

from ..domain.cohort import Funder
from ..domain.enrolment import Enrolment, Participant
from ..domain.fees import InvoiceLine
from ..domain.programme import Module
from .reports import CertificationReport, CohortModuleOnly, FeesReport, Person, is_funder, person_order

Cell = str | int | Decimal

CERTIFICATION_COLUMNS = ("cohort", "cohort_name", "region", "region_name", "full_programme_participants",
                         "certified", "period_from", "period_to")
MODULE_ONLY_COLUMNS = ("cohort", "cohort_name", "module", "module_name", "lms_user_id", "name", "email", "region",
                       "region_name", "sknt_member", "completed_at", "payer_kind", "payer", "payer_name",
                       "fee_sek", "discount_sek", "net_sek")
FEES_COLUMNS = ("cohort", "cohort_name", "payer_kind", "payer", "payer_name", "lms_user_id", "name", "email",
                "region", "region_name", "sknt_member", "item", "module", "gross_sek", "discount_sek", "net_sek")
NOT_PRICED = "not_priced"


def sek(ore: int) -> Decimal:
    return (Decimal(ore) / 100).quantize(Decimal("0.01"))


def _flag(value: bool) -> str:
    return "true" if value else "false"


def _payer(payer: Participant | Funder) -> list[Cell]:
    return ["funder" if is_funder(payer) else "participant", payer.key, payer.name]


def _person(person: Person) -> list[Cell]:
    return [person.lms_user_id, person.name or "", person.email or ""]


def _amounts(line: InvoiceLine | None) -> list[Cell]:
    return ["", "", ""] if line is None else [sek(line.gross_ore), sek(line.discount_ore), sek(line.net_ore)]


def _module_name(module: Module, language: str) -> str:
    return module.name.en if language == "en" else module.name.sv


def certification_rows(report: CertificationReport) -> Iterator[list[Cell]]:
    period = [report.certified_from.isoformat() if report.certified_from else "",
              report.certified_to.isoformat() if report.certified_to else ""]
    for row in report.rows:
        yield [row.cohort.key, row.cohort.name, row.region.key if row.region else "",
               row.region.name if row.region else "", row.participants, row.certified, *period]


def module_only_rows(report: tuple[CohortModuleOnly, ...], language: str) -> Iterator[list[Cell]]:
    """One row per module-only participant and module."""
    for cohort in report:
        for line in cohort.lines:
            for p in line.participations:
                taken = p.participation
                yield [cohort.cohort.key, cohort.cohort.name, line.module.key, _module_name(line.module, language),
                       *_person(p.person), taken.region.key if taken.region else "",
                       taken.region.name if taken.region else "", _flag(p.is_sknt_member),
                       taken.completed_at.isoformat() if taken.completed_at else "", *_payer(taken.payer),
                       *_amounts(p.charge)]


def fees_rows(report: FeesReport) -> Iterator[list[Cell]]:
    """One row per invoice line, payer by payer; module-only enrolments not yet priced last, as `not_priced`."""
    for cohort in report.cohorts:
        head = [cohort.cohort.key, cohort.cohort.name]
        lines = {invoice.payer: invoice.lines for invoice in cohort.billing.invoices}
        for payer in cohort.payers:
            # Participants by name; a participant's own lines stay in the order the domain gives them.
            for line in sorted(lines[payer.payer], key=lambda line: person_order(cohort.people[line.enrolment_key])):
                enrolment = cohort.enrolments[line.enrolment_key]
                yield [*head, *_payer(payer.payer), *_about(enrolment, cohort.people[enrolment.key]),
                       line.kind.value, line.module_key or "", *_amounts(line)]
        for enrolment in sorted(cohort.unpriced, key=lambda enrolment: person_order(cohort.people[enrolment.key])):
            yield [*head, *_payer(cohort.payer_of(enrolment)), *_about(enrolment, cohort.people[enrolment.key]),
                   NOT_PRICED, ",".join(sorted(enrolment.module_keys)), *_amounts(None)]


def _about(enrolment: Enrolment, person: Person) -> list[Cell]:
    region = enrolment.region
    return [*_person(person), region.key if region else "", region.name if region else "",
            _flag(enrolment.is_sknt_member)]
