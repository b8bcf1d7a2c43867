"""Linking an LMS course to a cohort, remembering its service endpoints, and binding its gradebook columns.

A course is either a **full-programme course** (its learners follow the whole programme) or a
**single-module course** (its learners become module-only enrolments for that module, unless
they are also in a full-programme course of the cohort). The tool sees only its own gradebook
columns over AGS; each is bound to a module, to the final exam (an attempt number per column),
or to the tool's Certification column: automatically from the `resourceId` the tool gave it
when it was placed (`module:<key>`, `final-exam`, `final-exam:<attempt>`, `certification`), or
by hand.
"""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..db.course_sync import (ContextServiceRecord, CourseLinkRecord, LineItemRecord, ScoreOutboxRecord,
                               SyncRunRecord)
from ..db.programmes import CohortRecord, ProgrammeVersionRecord
from ..db.tenancy import Context, Deployment

log = logging.getLogger(__name__)

FULL_PROGRAMME, SINGLE_MODULE = "full_programme", "single_module"
MODULE, EXAM, CERTIFICATION = "module", "exam", "certification"
CERTIFICATION_RESOURCE_ID = "certification"
_EXAM_RESOURCE = re.compile(r"^final-exam(?::(\d{1,2}))?$")


class CourseLinkError(ValueError):
    """The course cannot be linked or bound as asked; the message names what is wrong."""


@dataclass(frozen=True)
class Binding:
    kind: str | None  # MODULE | EXAM | CERTIFICATION | None (unbound)
    module_key: str | None = None
    exam_attempt: int | None = None

    @property
    def label(self) -> str:
        if self.kind == MODULE:
            return f"module:{self.module_key}"
        if self.kind == EXAM:
            return "final-exam" if (self.exam_attempt or 1) == 1 else f"final-exam:{self.exam_attempt}"
        return self.kind or ""


UNBOUND = Binding(None)


def binding_from_resource(resource_id: str | None, tag: str | None, module_keys: frozenset[str]) -> Binding:
    """What a column is for, read from the resourceId (else the tag) the tool gave it when placing it."""
    for value in (resource_id, tag):
        if not value:
            continue
        if value.startswith("module:") and value[len("module:"):] in module_keys:
            return Binding(MODULE, module_key=value[len("module:"):])
        exam = _EXAM_RESOURCE.match(value)
        if exam:
            return Binding(EXAM, exam_attempt=int(exam.group(1) or 1))
        if value == CERTIFICATION_RESOURCE_ID:
            return Binding(CERTIFICATION)
    return UNBOUND


def parse_binding(text: str, module_keys: frozenset[str]) -> Binding:
    """A binding as the hand-binding form writes it ("", "module:m03", "final-exam:2", "certification")."""
    if not text:
        return UNBOUND
    binding = binding_from_resource(text, None, module_keys)
    if binding == UNBOUND:
        raise CourseLinkError(f"binding: {text!r} is not a module of the programme, the final exam or certification")
    return binding


# --- the endpoints a launch carried ---------------------------------------------------------------------
def remember_context_services(session: Session, context_id: int, services: dict, product_family: str | None,
                              now: datetime) -> None:
    """Keep the course's AGS/NRPS endpoints from a launch, writing only when they changed."""
    ags = services.get("ags") or {}
    nrps = services.get("nrps") or {}
    wanted = {"lineitems_url": ags.get("lineitems"), "ags_scopes": sorted(ags.get("scope") or []),
              "memberships_url": nrps.get("context_memberships_url"), "product_family": product_family}
    row = session.get(ContextServiceRecord, context_id)
    if row is None:
        session.add(ContextServiceRecord(context_id=context_id, updated_at=now, **wanted))
    elif any(getattr(row, key) != value for key, value in wanted.items()):
        for key, value in wanted.items():
            setattr(row, key, value)
        row.updated_at = now
    else:
        return
    session.flush()


# --- linking ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class CohortChoice:
    cohort_id: int
    cohort_name: str
    programme_code: str
    programme_name_sv: str
    programme_name_en: str
    programme_version: int
    modules: tuple[tuple[str, str, str], ...]  # (key, name_sv, name_en)


def cohort_choices(session: Session, registration_id: int) -> list[CohortChoice]:
    """Every cohort of this platform, with its programme version's modules, newest cohorts first."""
    cohorts = session.scalars(select(CohortRecord).where(CohortRecord.registration_id == registration_id)
                              .order_by(CohortRecord.starts_on.desc(), CohortRecord.id)).all()
    choices = []
    for cohort in cohorts:
        version: ProgrammeVersionRecord = cohort.programme_version
        choices.append(CohortChoice(cohort.id, cohort.name, version.programme.code, version.name_sv,
                                    version.name_en, version.version,
                                    tuple((m.key, m.name_sv, m.name_en) for m in version.modules)))
    return choices


def course_link_of(session: Session, context_id: int) -> CourseLinkRecord | None:
    return session.scalar(select(CourseLinkRecord).where(CourseLinkRecord.context_id == context_id))


def context_registration_id(session: Session, context_id: int) -> int | None:
    return session.scalar(select(Deployment.registration_id).join(Context, Context.deployment_id == Deployment.id)
                          .where(Context.id == context_id))


def link_course(session: Session, *, registration_id: int, context_id: int, cohort_id: int, kind: str,
                module_key: str | None, linked_by: int | None, now: datetime) -> CourseLinkRecord:
    """Link (or relink) a course; the cohort must be this platform's, the module one of its programme's."""
    if context_registration_id(session, context_id) != registration_id:
        raise CourseLinkError(f"no course {context_id} for platform {registration_id}")
    cohort = session.get(CohortRecord, cohort_id)
    if cohort is None or cohort.registration_id != registration_id:
        raise CourseLinkError(f"cohort: no cohort {cohort_id} for this platform")
    if kind not in (FULL_PROGRAMME, SINGLE_MODULE):
        raise CourseLinkError(f"kind: must be {FULL_PROGRAMME} or {SINGLE_MODULE}")
    module_keys = {m.key for m in cohort.programme_version.modules}
    if kind == SINGLE_MODULE and module_key not in module_keys:
        raise CourseLinkError(f"module_key: {module_key!r} is not a module of the cohort's programme")
    link = course_link_of(session, context_id)
    if link is None:
        link = CourseLinkRecord(context_id=context_id, registration_id=registration_id)
        session.add(link)
    link.cohort_id = cohort_id
    link.kind = kind
    link.module_key = module_key if kind == SINGLE_MODULE else None
    link.linked_by_lms_user_id = linked_by
    link.linked_at = now
    session.flush()
    log.info("course %s linked to cohort %s as %s%s by user %s", context_id, cohort_id, kind,
             f" ({module_key})" if kind == SINGLE_MODULE else "", linked_by)
    return link


def programme_module_keys(session: Session, link: CourseLinkRecord) -> frozenset[str]:
    cohort = session.get(CohortRecord, link.cohort_id)
    return frozenset(m.key for m in cohort.programme_version.modules)


# --- binding columns by hand -------------------------------------------------------------------------------
def line_items_of(session: Session, context_id: int) -> list[LineItemRecord]:
    return list(session.scalars(select(LineItemRecord).where(LineItemRecord.context_id == context_id)
                                .order_by(LineItemRecord.is_present.desc(), LineItemRecord.id)))


def bind_line_item(session: Session, *, context_id: int, line_item_id: int, binding: Binding,
                   now: datetime) -> LineItemRecord:
    """Bind a column by hand; the sync keeps a hand binding even when the column's resourceId says otherwise."""
    item = session.get(LineItemRecord, line_item_id)
    if item is None or item.context_id != context_id:
        raise CourseLinkError(f"no line item {line_item_id} in this course")
    if (item.binding, item.module_key, item.exam_attempt) != (binding.kind, binding.module_key, binding.exam_attempt):
        item.binding, item.module_key, item.exam_attempt = binding.kind, binding.module_key, binding.exam_attempt
        item.is_bound_by_hand = True
        item.updated_at = now
        session.flush()
        log.info("line item %s of course %s bound by hand to %s", item.id, context_id, binding.label or "nothing")
    return item


# --- what an instructor sees ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class RunSummary:
    id: int
    trigger: str
    state: str
    started_at: datetime
    finished_at: datetime | None
    counts: dict
    error: str | None


@dataclass(frozen=True)
class CourseSummary:
    context_id: int
    link: CourseLinkRecord | None
    cohort_name: str | None
    programme_name_sv: str | None
    programme_name_en: str | None
    has_services: bool
    line_items_bound: int
    line_items_total: int
    last_run: RunSummary | None
    last_success_at: datetime | None
    is_running: bool
    scores: dict[str, int]


def course_summary(session: Session, context_id: int) -> CourseSummary:
    link = course_link_of(session, context_id)
    cohort = session.get(CohortRecord, link.cohort_id) if link else None
    items = [item for item in line_items_of(session, context_id) if item.is_present]
    runs = session.scalars(select(SyncRunRecord).where(SyncRunRecord.context_id == context_id)
                           .order_by(SyncRunRecord.started_at.desc(), SyncRunRecord.id.desc()).limit(1)).all()
    last = runs[0] if runs else None
    last_success_at = session.scalar(select(func.max(SyncRunRecord.finished_at)).where(
        SyncRunRecord.context_id == context_id, SyncRunRecord.state == "succeeded"))
    scores = dict(session.execute(select(ScoreOutboxRecord.state, func.count())
                                  .where(ScoreOutboxRecord.context_id == context_id)
                                  .group_by(ScoreOutboxRecord.state)).all())
    return CourseSummary(
        context_id=context_id, link=link, cohort_name=cohort.name if cohort else None,
        programme_name_sv=cohort.programme_version.name_sv if cohort else None,
        programme_name_en=cohort.programme_version.name_en if cohort else None,
        has_services=session.get(ContextServiceRecord, context_id) is not None,
        line_items_bound=sum(1 for item in items if item.binding), line_items_total=len(items),
        last_run=RunSummary(last.id, last.trigger, last.state, last.started_at, last.finished_at, last.counts,
                            last.error) if last else None,
        last_success_at=last_success_at,
        is_running=session.scalar(select(SyncRunRecord.id).where(
            SyncRunRecord.running_context_id == context_id)) is not None,
        scores=scores)


def is_sync_due(summary: CourseSummary, now: datetime, max_age_seconds: int) -> bool:
    """A linked course whose last sync started longer ago than max_age (or never), and none running."""
    if max_age_seconds <= 0 or summary.link is None or not summary.has_services or summary.is_running:
        return False
    if summary.last_run is None:
        return True
    return summary.last_run.started_at < now - timedelta(seconds=max_age_seconds)


def recent_runs(session: Session, context_id: int, limit: int = 20) -> list[RunSummary]:
    return [RunSummary(r.id, r.trigger, r.state, r.started_at, r.finished_at, r.counts, r.error)
            for r in session.scalars(select(SyncRunRecord).where(SyncRunRecord.context_id == context_id)
                                     .order_by(SyncRunRecord.started_at.desc(), SyncRunRecord.id.desc())
                                     .limit(limit))]
