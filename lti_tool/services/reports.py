"""The administrator's reports on one registration: certifications, module-only enrolments and fees.

Every query is scoped by the registration. Each report reads in a fixed number of queries,
whatever the number of cohorts or enrolments: the registration's cohorts and regions (with their
programmes), one query for the enrolments and, for the module-only report, one for their module
results. The figures are the domain's (`module_only_report`, `cohort_billing`, `charges_for`).
Withdrawn enrolments are left out, as on the dashboard and in the computed statuses.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone

from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import Session, joinedload

from ..db.programmes import (CertificationStatusRecord, CohortRecord, EnrolmentRecord, FunderRecord,
                             ProgrammeVersionRecord, RegionRecord, ResultEventRecord)
from ..db.tenancy import LmsUser
from ..domain.certification import CertificationState
from ..domain.cohort import Cohort, Funder
from ..domain.enrolment import Enrolment, EnrolmentKind, Participant, payer_of
from ..domain.fees import CohortBilling, InvoiceLine, ModulePriceNotSet, charges_for, cohort_billing
from ..domain.module_only_report import ModuleOnlyParticipation, module_only_report
from ..domain.programme import Module, Programme, ProgrammeRef
from .programmes import to_programme
from .results import MODULE, CohortContext, to_enrolment, to_event

# An expired certification was held in its period; a revoked one should never have been.
HELD_STATES = (CertificationState.CERTIFIED.value, CertificationState.EXPIRED.value)


class UnknownFilter(LookupError):
    """A report was asked for a cohort or region this registration does not have."""

    def __init__(self, field_name: str, key: str):
        super().__init__(f"{field_name}: no {field_name} {key!r}")
        self.field_name = field_name
        self.key = key


@dataclass(frozen=True)
class ReportFilter:
    cohort_key: str | None = None
    region_key: str | None = None
    # The certification report's period, both days included (UTC days of certified_at).
    certified_from: date | None = None
    certified_to: date | None = None


@dataclass(frozen=True)
class ReportCohort:
    id: int
    key: str
    name: str
    starts_on: date
    ends_on: date
    programme: Programme
    cohort: Cohort


@dataclass(frozen=True)
class ReportRegion:
    id: int
    key: str
    name: str


@dataclass(frozen=True)
class ReportScope:
    """What a registration's reports can be filtered by, and what this filter selects."""

    cohorts: tuple[ReportCohort, ...]          # every cohort of the registration, by start
    regions: tuple[ReportRegion, ...]          # every region, by name
    selected_cohorts: tuple[ReportCohort, ...]
    region: ReportRegion | None


@dataclass(frozen=True)
class Person:
    """Who an enrolment is, as the LMS names them."""

    lms_user_id: str
    name: str | None
    email: str | None


def report_scope(session: Session, registration_id: int, report_filter: ReportFilter) -> ReportScope:
    """The registration's cohorts (with their programme versions) and regions: three queries."""
    records = session.scalars(
        select(CohortRecord).where(CohortRecord.registration_id == registration_id)
        .options(joinedload(CohortRecord.funder),
                 joinedload(CohortRecord.programme_version).joinedload(ProgrammeVersionRecord.programme),
                 joinedload(CohortRecord.programme_version).selectinload(ProgrammeVersionRecord.modules))
        .order_by(CohortRecord.starts_on, CohortRecord.key)).unique().all()
    cohorts = tuple(_report_cohort(record) for record in records)
    regions = tuple(ReportRegion(r.id, r.key, r.name) for r in session.scalars(
        select(RegionRecord).where(RegionRecord.registration_id == registration_id)
        .order_by(RegionRecord.name, RegionRecord.key)))
    selected = cohorts
    if report_filter.cohort_key:
        selected = tuple(c for c in cohorts if c.key == report_filter.cohort_key)
        if not selected:
            raise UnknownFilter("cohort", report_filter.cohort_key)
    region = None
    if report_filter.region_key:
        region = next((r for r in regions if r.key == report_filter.region_key), None)
        if region is None:
            raise UnknownFilter("region", report_filter.region_key)
    return ReportScope(cohorts, regions, selected, region)


def _report_cohort(record: CohortRecord) -> ReportCohort:
    version = record.programme_version
    programme = to_programme(version.programme, version)
    funder = Funder(record.funder.key, record.funder.name) if record.funder else None
    cohort = Cohort(key=record.key, name=record.name, programme=ProgrammeRef(programme.code, programme.version),
                    starts_on=record.starts_on, ends_on=record.ends_on, funder=funder)
    return ReportCohort(record.id, record.key, record.name, record.starts_on, record.ends_on, programme, cohort)


def _enrolment_conditions(registration_id: int, scope: ReportScope, kind: EnrolmentKind | None = None) -> list:
    conditions = [EnrolmentRecord.registration_id == registration_id, EnrolmentRecord.withdrawn_at.is_(None),
                  EnrolmentRecord.cohort_id.in_([c.id for c in scope.selected_cohorts])]
    if scope.region is not None:
        conditions.append(EnrolmentRecord.region_id == scope.region.id)
    if kind is not None:
        conditions.append(EnrolmentRecord.kind == kind.value)
    return conditions


@dataclass(frozen=True)
class _Loaded:
    enrolments: dict[int, list[Enrolment]]   # per cohort id, in enrolment-id order
    people: dict[str, Person]                # per enrolment key


def _load_enrolments(session: Session, registration_id: int, scope: ReportScope,
                     kind: EnrolmentKind | None = None) -> _Loaded:
    """The selected cohorts' enrolments as domain values: one query."""
    contexts = {c.id: CohortContext(c.programme, c.key, c.cohort.funder) for c in scope.selected_cohorts}
    enrolments: dict[int, list[Enrolment]] = defaultdict(list)
    people: dict[str, Person] = {}
    if not contexts:
        return _Loaded(enrolments, people)
    rows = session.execute(
        select(EnrolmentRecord, LmsUser, RegionRecord, FunderRecord)
        .join(LmsUser, LmsUser.id == EnrolmentRecord.lms_user_id)
        .outerjoin(RegionRecord, RegionRecord.id == EnrolmentRecord.region_id)
        .outerjoin(FunderRecord, FunderRecord.id == EnrolmentRecord.funder_id)
        .where(*_enrolment_conditions(registration_id, scope, kind))
        .order_by(EnrolmentRecord.id))
    for record, user, region, funder in rows:
        enrolment = to_enrolment(record, user, contexts[record.cohort_id], region, funder)
        enrolments[record.cohort_id].append(enrolment)
        people[enrolment.key] = Person(user.id_on_platform, user.name, user.email)
    return _Loaded(enrolments, people)


# --- certification --------------------------------------------------------------------------
@dataclass(frozen=True)
class CertificationRow:
    cohort: ReportCohort
    region: ReportRegion | None
    # Full-programme enrolments (upgraded ones included): who can be certified.
    participants: int
    # Certified within the period (or ever, without one); revoked certifications do not count.
    certified: int


@dataclass(frozen=True)
class CertificationReport:
    rows: tuple[CertificationRow, ...]
    certified_from: date | None
    certified_to: date | None

    @property
    def participants(self) -> int:
        return sum(row.participants for row in self.rows)

    @property
    def certified(self) -> int:
        return sum(row.certified for row in self.rows)


def _utc_midnight(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=timezone.utc)


def certification_report(session: Session, registration_id: int, scope: ReportScope,
                         report_filter: ReportFilter) -> CertificationReport:
    """Full-programme participants and how many were certified in the period, per cohort and region: one query."""
    held = [CertificationStatusRecord.state.in_(HELD_STATES)]
    if report_filter.certified_from is not None:
        held.append(CertificationStatusRecord.certified_at >= _utc_midnight(report_filter.certified_from))
    if report_filter.certified_to is not None:
        held.append(CertificationStatusRecord.certified_at
                    < _utc_midnight(report_filter.certified_to + timedelta(days=1)))
    certified = func.coalesce(func.sum(case((and_(*held), 1), else_=0)), 0)
    counts = {}
    if scope.selected_cohorts:
        counts = {(cohort_id, region_id): (participants, int(done)) for cohort_id, region_id, participants, done
                  in session.execute(
                      select(EnrolmentRecord.cohort_id, EnrolmentRecord.region_id, func.count(EnrolmentRecord.id),
                             certified)
                      .outerjoin(CertificationStatusRecord,
                                 CertificationStatusRecord.enrolment_id == EnrolmentRecord.id)
                      .where(*_enrolment_conditions(registration_id, scope, EnrolmentKind.FULL_PROGRAMME))
                      .group_by(EnrolmentRecord.cohort_id, EnrolmentRecord.region_id))}
    regions = {region.id: region for region in scope.regions}
    rows = []
    for cohort in scope.selected_cohorts:
        here = [(regions.get(region_id), values) for (cohort_id, region_id), values in counts.items()
                if cohort_id == cohort.id]
        # Regions by name; participants in no region last.
        here.sort(key=lambda item: (item[0] is None, item[0].name if item[0] else ""))
        rows.extend(CertificationRow(cohort, region, participants, done) for region, (participants, done) in here)
    return CertificationReport(tuple(rows), report_filter.certified_from, report_filter.certified_to)


# --- module-only enrolments -----------------------------------------------------------------
@dataclass(frozen=True)
class Participation:
    """One module-only participant in one module, with what they are charged for it."""

    participation: ModuleOnlyParticipation
    person: Person
    is_sknt_member: bool
    charge: InvoiceLine | None  # None while the programme sets no module price


@dataclass(frozen=True)
class ModuleOnlyLine:
    module: Module
    participations: tuple[Participation, ...]
    price_ore: int | None  # the programme's module price (before any member discount)

    @property
    def participants(self) -> int:
        return len(self.participations)

    @property
    def completed(self) -> int:
        return sum(p.participation.is_completed for p in self.participations)

    @property
    def payers(self) -> tuple[tuple[Participant | Funder, int], ...]:
        """Funders first, then the participants who pay for themselves, with how many each pays for."""
        counts: dict[Participant | Funder, int] = {}
        for p in self.participations:
            counts[p.participation.payer] = counts.get(p.participation.payer, 0) + 1
        return tuple(sorted(counts.items(), key=lambda item: _payer_order(item[0])))

    @property
    def net_ore(self) -> int | None:
        if self.price_ore is None:
            return None
        return sum(p.charge.net_ore for p in self.participations if p.charge is not None)


@dataclass(frozen=True)
class CohortModuleOnly:
    cohort: ReportCohort
    lines: tuple[ModuleOnlyLine, ...]

    @property
    def participants(self) -> int:
        """Module-only enrolments (a person taking several modules counts once)."""
        return len({p.participation.enrolment_key for line in self.lines for p in line.participations})


def module_only_enrolment_report(session: Session, registration_id: int,
                                 scope: ReportScope) -> tuple[CohortModuleOnly, ...]:
    """Per cohort and module: module-only participants, completions, payers and fees. Two queries."""
    loaded = _load_enrolments(session, registration_id, scope, EnrolmentKind.MODULE_ONLY)
    events: dict[str, list] = defaultdict(list)
    if loaded.people:
        for row in session.scalars(
                select(ResultEventRecord).join(EnrolmentRecord, EnrolmentRecord.id == ResultEventRecord.enrolment_id)
                .where(*_enrolment_conditions(registration_id, scope, EnrolmentKind.MODULE_ONLY),
                       ResultEventRecord.kind == MODULE)):
            events[str(row.enrolment_id)].append(to_event(row))
    reports = []
    for cohort in scope.selected_cohorts:
        enrolments = loaded.enrolments.get(cohort.id, [])
        members = {e.key: e.is_sknt_member for e in enrolments}
        charges = {e.key: _module_charges(cohort.programme, e) for e in enrolments}
        rows = module_only_report(cohort.programme, cohort.cohort, enrolments, events)
        reports.append(CohortModuleOnly(cohort, tuple(
            ModuleOnlyLine(row.module, tuple(
                Participation(p, loaded.people[p.enrolment_key], members[p.enrolment_key],
                              charges[p.enrolment_key].get(row.module.key))
                for p in sorted(row.participations, key=lambda p: person_order(loaded.people[p.enrolment_key]))),
                cohort.programme.prices.per_module_ore)
            for row in rows)))
    return tuple(reports)


def _module_charges(programme: Programme, enrolment: Enrolment) -> dict[str, InvoiceLine]:
    try:
        return {line.module_key: line for line in charges_for(programme, enrolment) if line.module_key}
    except ModulePriceNotSet:
        return {}


# --- fees -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class PayerTotal:
    payer: Participant | Funder
    lines: int
    gross_ore: int
    discount_ore: int

    @property
    def net_ore(self) -> int:
        return self.gross_ore - self.discount_ore

    @property
    def is_funder(self) -> bool:
        return is_funder(self.payer)


@dataclass(frozen=True)
class CohortFees:
    cohort: ReportCohort
    billing: CohortBilling
    payers: tuple[PayerTotal, ...]             # funders first, then participants by name
    enrolments: dict[str, Enrolment]
    people: dict[str, Person]

    @property
    def unpriced(self) -> tuple[Enrolment, ...]:
        return tuple(self.enrolments[key] for key in self.billing.unpriced_enrolment_keys)

    def payer_of(self, enrolment: Enrolment) -> Participant | Funder:
        return payer_of(enrolment, self.cohort.cohort)


@dataclass(frozen=True)
class FeesReport:
    cohorts: tuple[CohortFees, ...]
    # Each payer's total over the cohorts shown (a funder may pay in several).
    payers: tuple[PayerTotal, ...] = field(default=())

    @property
    def gross_ore(self) -> int:
        return sum(p.gross_ore for p in self.payers)

    @property
    def discount_ore(self) -> int:
        return sum(p.discount_ore for p in self.payers)

    @property
    def net_ore(self) -> int:
        return sum(p.net_ore for p in self.payers)


def fees_report(session: Session, registration_id: int, scope: ReportScope) -> FeesReport:
    """The invoice basis per cohort and payer, and per payer over the cohorts: one query."""
    loaded = _load_enrolments(session, registration_id, scope)
    cohorts = []
    overall: dict[Participant | Funder, list[int]] = {}
    for cohort in scope.selected_cohorts:
        enrolments = loaded.enrolments.get(cohort.id, [])
        billing = cohort_billing(cohort.programme, cohort.cohort, enrolments)
        payers = _sorted_payers(
            PayerTotal(invoice.payer, len(invoice.lines), invoice.gross_ore, invoice.discount_ore)
            for invoice in billing.invoices)
        for payer in payers:
            totals = overall.setdefault(payer.payer, [0, 0, 0])
            totals[0] += payer.lines
            totals[1] += payer.gross_ore
            totals[2] += payer.discount_ore
        cohorts.append(CohortFees(cohort, billing, payers, {e.key: e for e in enrolments}, loaded.people))
    return FeesReport(tuple(cohorts), _sorted_payers(PayerTotal(payer, *totals) for payer, totals in overall.items()))


def is_funder(payer: Participant | Funder) -> bool:
    """A third party pays (R10, an employer), not the participant."""
    return isinstance(payer, Funder)


def _payer_order(payer: Participant | Funder) -> tuple:
    return (not is_funder(payer), payer.name.casefold(), payer.key)


def _sorted_payers(totals) -> tuple[PayerTotal, ...]:
    return tuple(sorted(totals, key=lambda total: _payer_order(total.payer)))


def person_order(person: Person) -> tuple:
    """By name as the LMS gives it (its user id when it gives none)."""
    return ((person.name or person.lms_user_id).casefold(), person.lms_user_id)
