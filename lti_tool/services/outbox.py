"""The score outbox: certification scores for the LMS, never lost, never sent twice.

Queueing (in the sync's transaction): one row per enrolment, line item and **version**; a new
version only when the score or its comment changed, with a timestamp strictly later than the
previous version's (Moodle refuses a score that is not strictly newer than the stored grade).

Sending (`send_due_scores`, after a sync and from `lti-tool outbox send`):

- A sender first claims due rows with a lease (one UPDATE … RETURNING, committed), so two
  senders never post the same row; a sender that dies leaves the lease to run out.
- Each row is posted once per claim, and its outcome (sent_at, or the error and the next
  attempt) is committed right after the post, row by row.
- 429, 5xx, time-outs, connection failures (and 401/403, a configuration that may be fixed)
  are retried with exponential backoff and jitter, never sooner than Retry-After; the row is
  never given up.
- 400, 404, 415 and 422 (Moodle's "only students", Canvas's "not a student") are permanent:
  the row is marked rejected with the platform's answer and not retried.
- 409 (Moodle: not newer than the stored grade) is checked by reading the grade back: if the
  LMS holds this very score, an earlier post of it arrived and only its commit was lost, so
  the row is sent; otherwise someone graded the column later by hand, and the row is rejected.
- A row overtaken by a newer version of the same score before it was sent is superseded, not sent.
"""
from __future__ import annotations

import hashlib
import json
import logging
import random
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Callable

from sqlalchemy import func, insert, or_, select, update
from sqlalchemy.orm import Session

from ..db.course_sync import ContextServiceRecord, LineItemRecord, ScoreOutboxRecord
from ..db.programmes import CertificationStatusRecord
from ..db.queries import to_platform_registration
from ..db.shared_state import RememberingStore
from ..db.tenancy import Registration
from ..lti.ags import AgsClient, Score, paging_for
from ..lti.errors import LmsServiceError
from ..lti.platforms import service_connector
from ..lti.service_client import ServiceClient
from .service_health import Service, record_service_call

if TYPE_CHECKING:
    from .sync import CourseFacts, SyncEnvironment

log = logging.getLogger(__name__)

PENDING, SENT, REJECTED, SUPERSEDED = "pending", "sent", "rejected", "superseded"
PERMANENT_STATUSES = {400, 404, 405, 415, 422}
CERTIFIED = "certified"
QUEUE_CHUNK = 500


@dataclass(frozen=True)
class OutboxPolicy:
    base_delay: float = 30.0
    max_delay: float = 3600.0
    lease: timedelta = timedelta(minutes=2)
    batch: int = 500
    random: Callable[[], float] = random.random

    def next_attempt(self, now: datetime, attempts: int, retry_after: float | None) -> datetime:
        step = min(self.max_delay, self.base_delay * 2 ** max(attempts - 1, 0))
        wait = step / 2 + self.random() * step / 2
        if retry_after is not None:
            wait = max(wait, retry_after)
        return now + timedelta(seconds=wait)


@dataclass
class SendReport:
    counts: Counter = field(default_factory=Counter)

    def __str__(self) -> str:
        return ", ".join(f"{key} {value}" for key, value in sorted(self.counts.items())) or "nothing due"


# --- queueing -----------------------------------------------------------------------------------------------------
def queue_certification_scores(session: Session, *, course: "CourseFacts", line_item_id: int,
                               learners: dict[int, str], now: datetime,
                               comments: Callable[[list[tuple[str, list]]], list[str]]) -> int:
    """A new version for every learner whose certification score or reason changed; returns how many.

    The status's digest is compared first, so the words are rendered only for statuses that changed.
    """
    second = now.replace(microsecond=0)
    queued = 0
    enrolment_ids = sorted(learners)
    for start in range(0, len(enrolment_ids), QUEUE_CHUNK):  # a chunk at a time: memory stays flat
        chunk = enrolment_ids[start:start + QUEUE_CHUNK]
        latest: dict[int, tuple] = {}
        for row in session.execute(select(ScoreOutboxRecord.enrolment_id, ScoreOutboxRecord.version,
                                          ScoreOutboxRecord.score_given, ScoreOutboxRecord.comment,
                                          ScoreOutboxRecord.status_digest, ScoreOutboxRecord.scored_at)
                                   .where(ScoreOutboxRecord.line_item_id == line_item_id,
                                          ScoreOutboxRecord.enrolment_id.in_(chunk))
                                   .order_by(ScoreOutboxRecord.version)):
            latest[row.enrolment_id] = row
        changed = []
        for enrolment_id, state, reasons in session.execute(
                select(CertificationStatusRecord.enrolment_id, CertificationStatusRecord.state,
                       CertificationStatusRecord.reasons).where(CertificationStatusRecord.enrolment_id.in_(chunk))):
            digest = status_digest(state, reasons)
            before = latest.get(enrolment_id)
            if before is None or before.status_digest != digest:
                changed.append((enrolment_id, state, reasons, digest))
        distinct: dict[str, tuple] = {}  # learners in the same state for the same reasons share the words
        for _, state, reasons, digest in changed:
            distinct.setdefault(digest, (state, reasons))
        texts = dict(zip(distinct, comments(list(distinct.values()))))
        rows = []
        for enrolment_id, state, _, digest in changed:
            text = texts[digest]
            given = "1" if state == CERTIFIED else "0"
            before = latest.get(enrolment_id)
            if before is not None and before.score_given == given and before.comment == text:
                continue
            scored_at = second if before is None else max(second, before.scored_at + timedelta(seconds=1))
            rows.append({"registration_id": course.registration.id, "context_id": course.context_id,
                         "enrolment_id": enrolment_id, "line_item_id": line_item_id,
                         "version": before.version + 1 if before else 1,
                         "user_id_on_platform": learners[enrolment_id], "score_given": given, "score_maximum": "1",
                         "comment": text, "status_digest": digest, "scored_at": scored_at, "state": PENDING,
                         "attempts": 0, "next_attempt_at": now, "created_at": now})
        if rows:
            session.execute(insert(ScoreOutboxRecord), rows)
            queued += len(rows)
    return queued


def status_digest(state: str, reasons: list) -> str:
    return hashlib.sha256(json.dumps([state, reasons], sort_keys=True).encode()).hexdigest()


# --- sending --------------------------------------------------------------------------------------------------------
def send_due_scores(env: "SyncEnvironment", *, context_id: int | None = None,
                    policy: OutboxPolicy | None = None) -> SendReport:
    policy = policy or OutboxPolicy()
    report = SendReport()
    now = env.clock()
    claimed = _claim(env, context_id, now, policy)
    if not claimed:
        return report
    health: dict[int, list] = defaultdict(list)
    http = env.http_factory()
    try:
        with env.sessionmaker() as session:
            rows = session.scalars(select(ScoreOutboxRecord).where(ScoreOutboxRecord.id.in_(claimed))
                                   .order_by(ScoreOutboxRecord.id)).all()
            clients: dict[int, AgsClient | LmsServiceError] = {}
            for row in rows:
                if row.context_id not in clients:
                    clients[row.context_id] = _client_for(env, session, row, http, health)
                _send_one(env, session, row, clients[row.context_id], policy, report)
                session.commit()
            for registration_id, calls in health.items():
                # The failures (the latest few), then how the last call went.
                failures = [call for call in calls if not call[1]][-20:]
                for service, _, status, detail in failures:
                    record_service_call(session, registration_id, Service(service), is_ok=False, at=env.clock(),
                                        status=status, detail=detail)
                service, is_ok, status, _ = calls[-1]
                if is_ok:
                    record_service_call(session, registration_id, Service(service), is_ok=True, at=env.clock(),
                                        status=status, detail=f"{len(calls)} call(s) sending scores")
            session.commit()
    finally:
        http.close()
    log.info("score outbox: %s", report)
    return report


def _claim(env: "SyncEnvironment", context_id: int | None, now: datetime, policy: OutboxPolicy) -> list[int]:
    with env.sessionmaker() as session:
        due = (select(ScoreOutboxRecord.id)
               .where(ScoreOutboxRecord.state == PENDING, ScoreOutboxRecord.next_attempt_at <= now,
                      or_(ScoreOutboxRecord.lease_until.is_(None), ScoreOutboxRecord.lease_until < now))
               .order_by(ScoreOutboxRecord.id).limit(policy.batch))
        if context_id is not None:
            due = due.where(ScoreOutboxRecord.context_id == context_id)
        candidates = list(session.scalars(due))
        if not candidates:
            return []
        # Compare-and-set: of two senders, only one moves each row's lease.
        claimed = session.scalars(
            update(ScoreOutboxRecord)
            .where(ScoreOutboxRecord.id.in_(candidates), ScoreOutboxRecord.state == PENDING,
                   or_(ScoreOutboxRecord.lease_until.is_(None), ScoreOutboxRecord.lease_until < now))
            .values(lease_until=now + policy.lease).returning(ScoreOutboxRecord.id)).all()
        session.commit()
        return sorted(claimed)


def _client_for(env: "SyncEnvironment", session: Session, row: ScoreOutboxRecord, http,
                health: dict[int, list]) -> AgsClient | LmsServiceError:
    services = session.get(ContextServiceRecord, row.context_id)
    registration = session.get(Registration, row.registration_id)
    if services is None or not services.lineitems_url or registration is None or not registration.is_active:
        return LmsServiceError("no grade service for the course (or the platform is deactivated)")

    def observe(service: str, *, is_ok: bool, status: int | None, detail: str | None) -> None:
        health[row.registration_id].append((service, is_ok, status, detail))

    connector = service_connector(to_platform_registration(registration), env.tool_keys, http,
                                  RememberingStore(env.store))
    client = ServiceClient(connector, observer=observe, retry=env.retry)
    return AgsClient(client, services.lineitems_url, services.ags_scopes, paging_for(services.product_family))


def _send_one(env: "SyncEnvironment", session: Session, row: ScoreOutboxRecord, ags: AgsClient | LmsServiceError,
              policy: OutboxPolicy, report: SendReport) -> None:
    now = env.clock()
    newer = session.scalar(select(ScoreOutboxRecord.id).where(
        ScoreOutboxRecord.enrolment_id == row.enrolment_id, ScoreOutboxRecord.line_item_id == row.line_item_id,
        ScoreOutboxRecord.version > row.version, ScoreOutboxRecord.state.in_((PENDING, SENT))).limit(1))
    if newer is not None:
        _settle(row, SUPERSEDED, now, None, "a newer version replaced it before it was sent")
        report.counts["superseded"] += 1
        return
    line_item = session.get(LineItemRecord, row.line_item_id)
    row.attempts += 1
    try:
        if isinstance(ags, LmsServiceError):
            raise ags
        score = Score(user_id=row.user_id_on_platform, score_given=Decimal(row.score_given),
                      score_maximum=Decimal(row.score_maximum), timestamp=row.scored_at, comment=row.comment)
        ags.post_score(line_item.id_on_platform, score)
    except LmsServiceError as error:
        if error.status == 409 and _already_holds(ags, line_item.id_on_platform, row):
            _settle(row, SENT, now, 409, "already applied by an earlier post")
            report.counts["sent"] += 1
            return
        if error.status in PERMANENT_STATUSES or error.status == 409 or (error.is_permanent and error.status is None):
            _settle(row, REJECTED, now, error.status, str(error))
            report.counts["rejected"] += 1
            log.warning("score %s (enrolment %s) rejected by the LMS: %s", row.id, row.enrolment_id, error)
            return
        row.state, row.lease_until = PENDING, None
        row.last_status, row.last_error = error.status, str(error)[:4000]
        row.next_attempt_at = policy.next_attempt(now, row.attempts, error.retry_after)
        report.counts["retrying"] += 1
        return
    _settle(row, SENT, now, 200, None)
    report.counts["sent"] += 1


def _settle(row: ScoreOutboxRecord, state: str, now: datetime, status: int | None, detail: str | None) -> None:
    row.state, row.lease_until, row.last_status, row.last_error = state, None, status, (detail or None) and detail[:4000]
    if state == SENT:
        row.sent_at = now


def _already_holds(ags: AgsClient, line_item_url: str, row: ScoreOutboxRecord) -> bool:
    try:
        for page in ags.result_pages(line_item_url, user_id=row.user_id_on_platform):
            for result in page:
                if result.user_id == row.user_id_on_platform:
                    return result.score == Decimal(row.score_given) and result.timestamp in (None, row.scored_at)
    except LmsServiceError:
        return False
    return False


def outbox_counts(session: Session, context_id: int | None = None) -> dict[str, int]:
    query = select(ScoreOutboxRecord.state, func.count()).group_by(ScoreOutboxRecord.state)
    if context_id is not None:
        query = query.where(ScoreOutboxRecord.context_id == context_id)
    return dict(session.execute(query).all())
