"""A learner's own progress: their enrolments with statuses, module standings and the exam."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..db.programmes import (CertificationStatusRecord, CohortRecord, EnrolmentRecord, ModuleStandingRecord,
                             ProgrammeModuleRecord, ProgrammeVersionRecord)

NOT_GRADED = "not_graded"


@dataclass(frozen=True)
class ModuleProgress:
    key: str
    name_sv: str
    name_en: str
    state: str
    score_given: str | None
    score_maximum: str | None
    is_taken: bool  # False for a module a module-only participant did not sign up for


@dataclass(frozen=True)
class EnrolmentProgress:
    enrolment_id: int
    programme_name_sv: str
    programme_name_en: str
    cohort_name: str
    starts_on: date
    ends_on: date
    kind: str
    state: str | None
    reasons: list[dict]
    modules_completed: int
    modules_required: int
    exam_score_given: str | None
    exam_score_maximum: str | None
    exam_attempts_used: int
    exam_attempts_left: int | None
    certified_at: datetime | None
    modules: tuple[ModuleProgress, ...]

    @property
    def module_names(self) -> dict[str, tuple[str, str]]:
        return {m.key: (m.name_sv, m.name_en) for m in self.modules}


def learner_progress(session: Session, registration_id: int, lms_user_id: int) -> list[EnrolmentProgress]:
    """Only this user's enrolments on this platform: the launch decides both ids, never the page."""
    rows = session.execute(
        select(EnrolmentRecord, CohortRecord, ProgrammeVersionRecord, CertificationStatusRecord)
        .join(CohortRecord, CohortRecord.id == EnrolmentRecord.cohort_id)
        .join(ProgrammeVersionRecord, ProgrammeVersionRecord.id == CohortRecord.programme_version_id)
        .outerjoin(CertificationStatusRecord, CertificationStatusRecord.enrolment_id == EnrolmentRecord.id)
        .where(EnrolmentRecord.registration_id == registration_id, EnrolmentRecord.lms_user_id == lms_user_id,
               EnrolmentRecord.withdrawn_at.is_(None))
        .order_by(CohortRecord.starts_on, EnrolmentRecord.id)).all()
    if not rows:
        return []
    version_ids = {version.id for _, _, version, _ in rows}
    modules_by_version: dict[int, list[ProgrammeModuleRecord]] = {}
    for module in session.scalars(select(ProgrammeModuleRecord)
                                  .where(ProgrammeModuleRecord.programme_version_id.in_(version_ids))
                                  .order_by(ProgrammeModuleRecord.position)):
        modules_by_version.setdefault(module.programme_version_id, []).append(module)
    standings = {(s.enrolment_id, s.module_key): s for s in session.scalars(
        select(ModuleStandingRecord).where(ModuleStandingRecord.enrolment_id.in_([r[0].id for r in rows])))}
    found = []
    for enrolment, cohort, version, status in rows:
        taken = set(enrolment.module_keys or ())
        modules = tuple(
            ModuleProgress(m.key, m.name_sv, m.name_en,
                           getattr(standings.get((enrolment.id, m.key)), "state", NOT_GRADED),
                           getattr(standings.get((enrolment.id, m.key)), "score_given", None),
                           getattr(standings.get((enrolment.id, m.key)), "score_maximum", None),
                           enrolment.kind == "full_programme" or m.key in taken)
            for m in modules_by_version.get(version.id, []))
        found.append(EnrolmentProgress(
            enrolment.id, version.name_sv, version.name_en, cohort.name, cohort.starts_on, cohort.ends_on,
            enrolment.kind, status.state if status else None, status.reasons if status else [],
            status.modules_completed if status else 0, status.modules_required if status else len(modules),
            status.exam_score_given if status else None, status.exam_score_maximum if status else None,
            status.exam_attempts_used if status else 0, status.exam_attempts_left if status else None,
            status.certified_at if status else None, modules))
    return found
