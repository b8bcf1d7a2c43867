"""The cohort dashboard and its exports: participants × modules, counted and filtered in SQL.

Reads the stored statuses and module standings (written when statuses are recomputed), so the
number of queries does not grow with the cohort: counts and the per-module chart are GROUP BYs,
and only one page of participants is loaded with its standings.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Iterator

from sqlalchemy import Select, and_, case, func, or_, select
from sqlalchemy.orm import Session

from ..db.programmes import (CertificationStatusRecord, CohortRecord, EnrolmentRecord, ModuleStandingRecord,
                             ProgrammeModuleRecord, RegionRecord)
from ..db.tenancy import LmsUser

NOT_COMPUTED = "not_computed"
SORTS = {
    "name": lambda: func.lower(func.coalesce(LmsUser.name, LmsUser.id_on_platform)),
    "state": lambda: func.coalesce(CertificationStatusRecord.state, NOT_COMPUTED),
    "progress": lambda: func.coalesce(CertificationStatusRecord.modules_completed, -1),
    "certified_at": lambda: CertificationStatusRecord.certified_at,
    "region": lambda: func.coalesce(RegionRecord.name, ""),
}
MAX_PER_PAGE = 500


class DashboardError(LookupError):
    """The cohort does not exist for this platform."""


@dataclass(frozen=True)
class DashboardQuery:
    cohort_id: int
    region_key: str | None = None
    kind: str | None = None          # "full_programme" | "module_only"
    state: str | None = None         # a CertificationState value, or "not_computed"
    search: str | None = None        # name or email contains
    sort: str = "name"
    is_descending: bool = False
    page: int = 1
    per_page: int = 50


@dataclass(frozen=True)
class ModuleCell:
    state: str
    score_given: str | None
    score_maximum: str | None


@dataclass(frozen=True)
class ParticipantRow:
    enrolment_id: int
    lms_user_id: int
    user_id_on_platform: str
    name: str | None
    email: str | None
    region: str | None
    kind: str
    module_keys: tuple[str, ...]     # the modules a module-only enrolment took
    state: str
    reasons: list[dict]
    modules_completed: int | None
    modules_required: int | None
    exam_score_given: str | None
    exam_score_maximum: str | None
    exam_attempts_used: int
    certified_at: datetime | None
    cells: dict[str, ModuleCell] = field(default_factory=dict)


@dataclass(frozen=True)
class ModuleColumn:
    key: str
    name_sv: str
    name_en: str
    completed: int
    participants: int


@dataclass(frozen=True)
class CohortDashboard:
    cohort: CohortRecord
    modules: tuple[ModuleColumn, ...]
    counts_by_state: dict[str, int]
    total: int
    rows: tuple[ParticipantRow, ...]
    page: int
    pages: int
    regions: tuple[tuple[str, str], ...] = ()  # (key, name) of the platform's regions, for the filter


def _cohort(session: Session, registration_id: int, cohort_id: int) -> CohortRecord:
    cohort = session.get(CohortRecord, cohort_id)
    if cohort is None or cohort.registration_id != registration_id:
        raise DashboardError(f"no cohort {cohort_id} for platform {registration_id}")
    return cohort


def _filtered(statement: Select, registration_id: int, query: DashboardQuery, *, with_state: bool) -> Select:
    conditions = [EnrolmentRecord.registration_id == registration_id, EnrolmentRecord.cohort_id == query.cohort_id,
                  EnrolmentRecord.withdrawn_at.is_(None)]
    if query.region_key:
        conditions.append(RegionRecord.key == query.region_key)
    if query.kind:
        conditions.append(EnrolmentRecord.kind == query.kind)
    if query.search:
        needle = f"%{query.search.strip().lower()}%"
        conditions.append(or_(func.lower(LmsUser.name).like(needle), func.lower(LmsUser.email).like(needle),
                              func.lower(LmsUser.id_on_platform).like(needle)))
    if with_state and query.state:
        conditions.append(CertificationStatusRecord.state.is_(None) if query.state == NOT_COMPUTED
                          else CertificationStatusRecord.state == query.state)
    return (statement.select_from(EnrolmentRecord)
            .join(LmsUser, LmsUser.id == EnrolmentRecord.lms_user_id)
            .outerjoin(RegionRecord, RegionRecord.id == EnrolmentRecord.region_id)
            .outerjoin(CertificationStatusRecord, CertificationStatusRecord.enrolment_id == EnrolmentRecord.id)
            .where(and_(*conditions)))


_ROW_COLUMNS = (EnrolmentRecord.id, EnrolmentRecord.lms_user_id, LmsUser.id_on_platform, LmsUser.name,
                LmsUser.email, RegionRecord.name, EnrolmentRecord.kind, EnrolmentRecord.module_keys,
                func.coalesce(CertificationStatusRecord.state, NOT_COMPUTED), CertificationStatusRecord.reasons,
                CertificationStatusRecord.modules_completed, CertificationStatusRecord.modules_required,
                CertificationStatusRecord.exam_score_given, CertificationStatusRecord.exam_score_maximum,
                func.coalesce(CertificationStatusRecord.exam_attempts_used, 0), CertificationStatusRecord.certified_at)


def cohort_dashboard(session: Session, registration_id: int, query: DashboardQuery) -> CohortDashboard:
    cohort = _cohort(session, registration_id, query.cohort_id)
    counts = {state or NOT_COMPUTED: count for state, count in session.execute(_filtered(
        select(CertificationStatusRecord.state, func.count()), registration_id, query, with_state=False)
        .group_by(CertificationStatusRecord.state))}
    total = counts.get(query.state, 0) if query.state else sum(counts.values())
    per_page = max(1, min(query.per_page, MAX_PER_PAGE))
    pages = max(1, -(-total // per_page))
    page = max(1, min(query.page, pages))
    order = SORTS.get(query.sort, SORTS["name"])()
    ordered = (order.desc(), EnrolmentRecord.id.desc()) if query.is_descending else (order, EnrolmentRecord.id)
    rows = [_row(r) for r in session.execute(
        _filtered(select(*_ROW_COLUMNS), registration_id, query, with_state=True)
        .order_by(*ordered).limit(per_page).offset((page - 1) * per_page))]
    _attach_cells(session, rows)
    regions = tuple((key, name) for key, name in session.execute(
        select(RegionRecord.key, RegionRecord.name).where(RegionRecord.registration_id == registration_id)
        .order_by(RegionRecord.name)))
    return CohortDashboard(cohort, _module_columns(session, registration_id, query, cohort), counts, total,
                           tuple(rows), page, pages, regions)


def _module_columns(session: Session, registration_id: int, query: DashboardQuery,
                    cohort: CohortRecord) -> tuple[ModuleColumn, ...]:
    completed = case((ModuleStandingRecord.state == "completed", 1), else_=0)
    tallies = {key: (done, seen) for key, done, seen in session.execute(
        _filtered(select(ModuleStandingRecord.module_key, func.sum(completed), func.count()),
                  registration_id, query, with_state=True)
        .join(ModuleStandingRecord, ModuleStandingRecord.enrolment_id == EnrolmentRecord.id)
        .group_by(ModuleStandingRecord.module_key))}
    modules = session.scalars(select(ProgrammeModuleRecord)
                              .where(ProgrammeModuleRecord.programme_version_id == cohort.programme_version_id)
                              .order_by(ProgrammeModuleRecord.position)).all()
    return tuple(ModuleColumn(m.key, m.name_sv, m.name_en, int(tallies.get(m.key, (0, 0))[0] or 0),
                              int(tallies.get(m.key, (0, 0))[1] or 0)) for m in modules)


def _row(values) -> ParticipantRow:
    (enrolment_id, lms_user_id, sub, name, email, region, kind, module_keys, state, reasons, completed, required,
     exam_given, exam_maximum, attempts, certified_at) = values
    return ParticipantRow(enrolment_id, lms_user_id, sub, name, email, region, kind, tuple(module_keys or ()),
                          state, reasons or [], completed, required, exam_given, exam_maximum, attempts,
                          certified_at)


def _attach_cells(session: Session, rows: list[ParticipantRow]) -> None:
    if not rows:
        return
    by_id = {row.enrolment_id: row for row in rows}
    table = ModuleStandingRecord.__table__
    for standing in session.execute(select(table.c.enrolment_id, table.c.module_key, table.c.state,
                                           table.c.score_given, table.c.score_maximum)
                                    .where(table.c.enrolment_id.in_(list(by_id)))):
        by_id[standing[0]].cells[standing[1]] = ModuleCell(standing[2], standing[3], standing[4])


def cohort_rows(session: Session, registration_id: int, query: DashboardQuery,
                batch_size: int = 1000) -> Iterator[ParticipantRow]:
    """Every matching participant with cells, for exports: two queries per batch, memory per batch."""
    _cohort(session, registration_id, query.cohort_id)
    order = SORTS.get(query.sort, SORTS["name"])()
    result = session.execute(_filtered(select(*_ROW_COLUMNS), registration_id, query, with_state=True)
                             .order_by(order, EnrolmentRecord.id)
                             .execution_options(yield_per=batch_size))
    for partition in result.partitions():
        rows = [_row(values) for values in partition]
        _attach_cells(session, rows)
        yield from rows
