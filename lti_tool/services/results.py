"""Enrolments, the append-only grade history, and the computed certification statuses."""
from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.orm import Session

from ..db.certificates import certification_holdings
from ..db.programmes import (CertificationStatusRecord, CohortRecord, EnrolmentRecord, FunderRecord,
                             ModuleStandingRecord, ProgrammeRecord, RegionRecord, ResultEventRecord)
from ..db.tenancy import LmsUser
from ..domain.certification import CertificationStatus, certification_status
from ..domain.cohort import Funder, Region
from ..domain.enrolment import Enrolment, EnrolmentKind, Participant
from ..domain.programme import Programme, ProgrammeRef
from ..domain.completion import module_standings
from ..domain.results import ExamAttempt, ModuleResult, Score, current_results
from .programmes import to_programme

log = logging.getLogger(__name__)
MODULE, EXAM = "module", "exam"


class EnrolmentError(ValueError):
    """An enrolment cannot be made as asked; the message names what is wrong."""


def enrol(session: Session, *, registration_id: int, cohort_id: int, lms_user_id: int, kind: EnrolmentKind,
          module_keys: frozenset[str] = frozenset(), region_id: int | None = None, employer: str | None = None,
          is_sknt_member: bool = False, now: datetime) -> EnrolmentRecord:
    _check_enrolment(session, registration_id, cohort_id, module_keys)
    record = EnrolmentRecord(registration_id=registration_id, cohort_id=cohort_id, lms_user_id=lms_user_id,
                             kind=kind.value, module_keys=sorted(module_keys), region_id=region_id,
                             employer=employer, is_sknt_member=is_sknt_member, created_at=now)
    session.add(record)
    session.flush()
    return record


def enrol_many(session: Session, *, registration_id: int, cohort_id: int, lms_user_ids: list[int],
               kind: EnrolmentKind, module_keys: frozenset[str] = frozenset(), now: datetime) -> list[int]:
    """`enrol` for many people at once (a roster sync's new learners): one check, one insert; their ids in order."""
    _check_enrolment(session, registration_id, cohort_id, module_keys)
    if not lms_user_ids:
        return []
    rows = [{"registration_id": registration_id, "cohort_id": cohort_id, "lms_user_id": user_id, "kind": kind.value,
             "module_keys": sorted(module_keys), "is_sknt_member": False, "created_at": now}
            for user_id in lms_user_ids]
    session.execute(insert(EnrolmentRecord), rows)
    ids = dict(session.execute(select(EnrolmentRecord.lms_user_id, EnrolmentRecord.id).where(
        EnrolmentRecord.cohort_id == cohort_id, EnrolmentRecord.lms_user_id.in_(lms_user_ids))).all())
    return [ids[user_id] for user_id in lms_user_ids]


def _check_enrolment(session: Session, registration_id: int, cohort_id: int, module_keys: frozenset[str]) -> None:
    cohort = session.get(CohortRecord, cohort_id)
    if cohort is None or cohort.registration_id != registration_id:
        raise EnrolmentError(f"no cohort {cohort_id} for platform {registration_id}")
    unknown = set(module_keys) - {m.key for m in cohort.programme_version.modules}
    if unknown:
        raise EnrolmentError(f"module_keys: not in the programme: {sorted(unknown)}")


def _slot(event: ModuleResult | ExamAttempt) -> tuple:
    if isinstance(event, ModuleResult):
        return (MODULE, event.module_key, None, event.source)
    return (EXAM, None, event.attempt, event.source)


def record_result(session: Session, enrolment_id: int, event: ModuleResult | ExamAttempt,
                  seen_at: datetime) -> ResultEventRecord | None:
    """Append a grade to the history unless it is the one already standing (syncing twice = once).

    A changed grade for the same slot (a regrade or override) is appended with a link to the
    value it replaced; nothing is ever updated or deleted.
    """
    kind, module_key, attempt, source = _slot(event)
    previous = session.scalar(
        select(ResultEventRecord)
        .where(ResultEventRecord.enrolment_id == enrolment_id, ResultEventRecord.kind == kind,
               ResultEventRecord.module_key.is_(None) if module_key is None else ResultEventRecord.module_key == module_key,
               ResultEventRecord.attempt.is_(None) if attempt is None else ResultEventRecord.attempt == attempt,
               ResultEventRecord.source == source)
        .order_by(ResultEventRecord.id.desc()).limit(1))
    if previous is not None and _same_grade(previous, event):
        return None
    row = ResultEventRecord(enrolment_id=enrolment_id, kind=kind, module_key=module_key, attempt=attempt,
                            score_given=str(event.score.given), score_maximum=str(event.score.maximum),
                            graded_at=event.graded_at, source=source, seen_at=seen_at,
                            replaces_id=previous.id if previous else None)
    session.add(row)
    session.flush()
    if previous is not None:
        log.info("enrolment %s: %s %s regraded %s/%s -> %s/%s", enrolment_id, kind, module_key or attempt,
                 previous.score_given, previous.score_maximum, row.score_given, row.score_maximum)
    return row


def _same_grade(row: ResultEventRecord, event: ModuleResult | ExamAttempt) -> bool:
    return (Decimal(row.score_given) == event.score.given and Decimal(row.score_maximum) == event.score.maximum
            and row.graded_at == event.graded_at)


def to_event(row: ResultEventRecord) -> ModuleResult | ExamAttempt:
    score = Score(Decimal(row.score_given), Decimal(row.score_maximum))
    if row.kind == MODULE:
        return ModuleResult(score=score, graded_at=row.graded_at, source=row.source, module_key=row.module_key)
    return ExamAttempt(score=score, graded_at=row.graded_at, source=row.source, attempt=row.attempt)


@dataclass(frozen=True)
class CohortContext:
    """What every status of one cohort shares, loaded once."""

    programme: Programme
    cohort_key: str
    funder: Funder | None


def _cohort_context(session: Session, cohort: CohortRecord) -> CohortContext:
    version = cohort.programme_version
    programme = to_programme(session.get(ProgrammeRecord, version.programme_id), version)
    funder = Funder(cohort.funder.key, cohort.funder.name) if cohort.funder else None
    return CohortContext(programme, cohort.key, funder)


def to_enrolment(record: EnrolmentRecord, user: LmsUser, context: CohortContext,
                 region: RegionRecord | None, funder: FunderRecord | None) -> Enrolment:
    return Enrolment(
        key=str(record.id), participant=Participant(user.id_on_platform, user.name or user.id_on_platform),
        programme=ProgrammeRef(context.programme.code, context.programme.version), cohort_key=context.cohort_key,
        region=Region(region.key, region.name) if region else None, employer=record.employer,
        is_sknt_member=record.is_sknt_member, kind=EnrolmentKind(record.kind),
        module_keys=frozenset(record.module_keys), funder=Funder(funder.key, funder.name) if funder else None,
        upgraded_at=record.upgraded_at)


def recompute_cohort_statuses(session: Session, registration_id: int, cohort_id: int,
                              as_of: datetime, enrolment_ids: Collection[int] | None = None
                              ) -> dict[int, CertificationStatus]:
    """Recompute and store every status of a cohort, and its module standings, in a fixed number of queries.

    With `enrolment_ids`, only those enrolments of the cohort (a sync's changes, a chunk at a time).
    """
    def only(query):
        return query if enrolment_ids is None else query.where(EnrolmentRecord.id.in_(list(enrolment_ids)))

    cohort = session.get(CohortRecord, cohort_id)
    if cohort is None or cohort.registration_id != registration_id:
        raise EnrolmentError(f"no cohort {cohort_id} for platform {registration_id}")
    context = _cohort_context(session, cohort)
    rows = session.execute(only(
        select(EnrolmentRecord, LmsUser, RegionRecord, FunderRecord)
        .join(LmsUser, LmsUser.id == EnrolmentRecord.lms_user_id)
        .outerjoin(RegionRecord, RegionRecord.id == EnrolmentRecord.region_id)
        .outerjoin(FunderRecord, FunderRecord.id == EnrolmentRecord.funder_id)
        .where(EnrolmentRecord.cohort_id == cohort_id, EnrolmentRecord.registration_id == registration_id,
               EnrolmentRecord.withdrawn_at.is_(None)))).all()
    events: dict[int, list] = defaultdict(list)
    for row in session.scalars(only(select(ResultEventRecord).join(EnrolmentRecord)
                                    .where(EnrolmentRecord.cohort_id == cohort_id))):
        events[row.enrolment_id].append(to_event(row))
    stored = {s.enrolment_id: s for s in session.scalars(only(
        select(CertificationStatusRecord).join(EnrolmentRecord).where(EnrolmentRecord.cohort_id == cohort_id)))}
    standings = _StoredStandings.load(session, cohort_id, only)
    # An issued certification makes a later lowered grade a case for review, not a silent revocation.
    held = certification_holdings(session, registration_id, cohort_id)
    statuses: dict[int, CertificationStatus] = {}
    for record, user, region, funder in rows:
        enrolment = to_enrolment(record, user, context, region, funder)
        issued, revocation = held.get(record.id, (None, None))
        status = certification_status(context.programme, enrolment, events[record.id], as_of, issued=issued,
                                      revocation=revocation)
        statuses[record.id] = status
        _store_status(session, stored.get(record.id), record.id, status, as_of)
        current = current_results(events[record.id]).modules
        standings.put(record.id, module_standings(context.programme.modules, current))
    session.flush()
    standings.write(session)
    return statuses


class _StoredStandings:
    """Module standings as stored, and the rows that changed: only those are written."""

    def __init__(self, stored: dict[tuple[int, str], tuple]):
        self._stored = stored
        self._new: list[dict] = []
        self._changed: list[dict] = []

    @classmethod
    def load(cls, session: Session, cohort_id: int, only=lambda query: query) -> "_StoredStandings":
        table = ModuleStandingRecord.__table__
        rows = session.execute(only(select(table).join(EnrolmentRecord, EnrolmentRecord.id == table.c.enrolment_id)
                                    .where(EnrolmentRecord.cohort_id == cohort_id)))
        return cls({(r.enrolment_id, r.module_key): (r.state, r.score_given, r.score_maximum, r.completed_at)
                    for r in rows})

    def put(self, enrolment_id: int, standings) -> None:
        for standing in standings:
            score = standing.score
            values = (standing.state.value, None if score is None else str(score.given),
                      None if score is None else str(score.maximum), standing.completed_at)
            key = (enrolment_id, standing.module_key)
            before = self._stored.get(key)
            if before == values:
                continue
            row = {"enrolment_id": enrolment_id, "module_key": standing.module_key, "state": values[0],
                   "score_given": values[1], "score_maximum": values[2], "completed_at": values[3]}
            (self._new if before is None else self._changed).append(row)

    def write(self, session: Session) -> None:
        table = ModuleStandingRecord.__table__
        connection = session.connection()
        if self._new:
            connection.execute(insert(table), self._new)
        if self._changed:
            connection.execute(
                update(table).where(table.c.enrolment_id == bindparam("b_enrolment"),
                                    table.c.module_key == bindparam("b_module"))
                .values(state=bindparam("state"), score_given=bindparam("score_given"),
                        score_maximum=bindparam("score_maximum"), completed_at=bindparam("completed_at")),
                [{**row, "b_enrolment": row["enrolment_id"], "b_module": row["module_key"]} for row in self._changed])


def _store_status(session: Session, row: CertificationStatusRecord | None, enrolment_id: int,
                  status: CertificationStatus, computed_at: datetime) -> None:
    if row is None:
        row = CertificationStatusRecord(enrolment_id=enrolment_id)
        session.add(row)
    row.state = status.state.value
    row.reasons = [{"code": r.code.value, "params": _jsonable(r.params())} for r in status.reasons]
    row.modules_completed = status.modules_completed
    row.modules_required = status.modules_required
    row.certified_at = status.certified_at
    row.needs_admin_review = status.needs_admin_review
    row.computed_at = computed_at
    exam = status.exam
    row.exam_score_given = None if exam.score is None else str(exam.score.given)
    row.exam_score_maximum = None if exam.score is None else str(exam.score.maximum)
    row.exam_attempts_used = exam.attempts_used
    row.exam_attempts_left = exam.attempts_left


def _jsonable(params: dict) -> dict:
    """Reason parameters as JSON, so reports can explain a status without recomputing it."""
    return {key: _json_value(value) for key, value in params.items()}


def _json_value(value):
    if isinstance(value, Score):
        return {"given": str(value.given), "maximum": str(value.maximum)}
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, (int, str, bool, type(None))):
        return value
    return str(value)
