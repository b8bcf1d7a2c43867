"""Syncing a course from its LMS: NRPS roster → enrolments, AGS results → grade history → statuses → outbox.

A run goes:

1. **Lock.** A `sync_run` row whose `running_context_id` is the course, committed at once: the
   column is unique, so a second run of the same course (another worker, the CLI, a learner's
   launch) finds the lock and is skipped. A lock older than LOCK_TIMEOUT (a worker that died) is
   taken over and its run marked abandoned.
2. **Read.** The roster (every page), the line items, and the results of every bound line item,
   page by page, each compared with what is stored. While it only reads, nothing is written, so
   a sync with few changes never holds SQLite's write lock across HTTP calls.
3. **Write**, in ONE transaction: users, roster, enrolments, appended grades, recomputed statuses
   and queued scores. A failure anywhere rolls all of it back: the data is as before the run. When
   the changes outgrow a batch (a first sync of a big course) they go into that same transaction
   as they come, so memory is bounded by the batch and a page, not by the course.
4. **Record** the run (finished, counts, error) and the services' health, in a transaction of its own.
"""
from __future__ import annotations

import logging
import threading
import traceback
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Callable, Iterable

import requests
from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..db.course_sync import ContextServiceRecord, CourseLinkRecord, RosterMemberRecord, SyncRunRecord
from ..db.programmes import CertificationStatusRecord, EnrolmentRecord, ResultEventRecord
from ..db.queries import to_platform_registration
from ..db.shared_state import DatabaseStore, OwnTransactionStore, RememberingStore
from ..db.tenancy import Context, Deployment, LmsUser, Registration
from ..db.upsert import upsert
from ..domain.enrolment import EnrolmentKind
from ..lti.ags import AgsClient, paging_for
from ..lti.errors import LmsServiceError
from ..lti.http import TimeoutSession
from ..lti.nrps import Member, NrpsClient
from ..lti.platforms import PlatformRegistration, service_connector
from ..lti.service_client import ACCESS_TOKEN, RetryPolicy, ServiceClient
from ..lti.tool_keys import KeyRing
from .certificates import CredentialIssuer, issue_due_certificates
from .course_links import FULL_PROGRAMME, programme_module_keys
from .grade_sync import read_grades
from .outbox import queue_certification_scores
from .results import enrol_many, recompute_cohort_statuses
from .service_health import Service, record_service_call

log = logging.getLogger(__name__)

LOCK_TIMEOUT = timedelta(minutes=30)
WRITE_BATCH = 2000
RECOMPUTE_CHUNK = 500
# Line items whose results are fetched at once: the platform's latency overlaps the sync's own work.
FETCHERS = 3
ACTIVE, INACTIVE, GONE = "active", "inactive", "gone"
_IN_CHUNK = 500


class SyncError(Exception):
    """The course cannot be synced as it stands (not linked, no service endpoints)."""


@dataclass(frozen=True)
class SyncEnvironment:
    """What a sync needs, outside any request: it runs from the CLI, a background thread or a test."""

    sessionmaker: Callable[[], Session]
    tool_keys: KeyRing
    store: object
    http_factory: Callable[[], requests.Session]
    # What the tool writes into the LMS, in its default language: status comments, the Certification column's name.
    comments: Callable[[list[tuple[str, list]]], list[str]]
    certification_label: str = "Certification"
    clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc)
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    # Set, a run that changed results issues the certificates they now support (no one has to press a button).
    issuer: CredentialIssuer | None = None


@dataclass(frozen=True)
class LearnerScope:
    """A sync of one learner (their launch): no roster call, their results only."""

    lms_user_id: int
    user_id_on_platform: str
    roles: tuple[str, ...]


@dataclass(frozen=True)
class SyncOutcome:
    context_id: int
    run_id: int | None
    state: str  # "succeeded" | "failed" | "skipped"
    counts: dict
    error: str | None = None


# --- the run ------------------------------------------------------------------------------------------------
def sync_course(env: SyncEnvironment, context_id: int, *, trigger: str = "cli",
                learner: LearnerScope | None = None) -> SyncOutcome:
    now = env.clock()
    run_id = _start_run(env, context_id, learner, trigger, now)
    if run_id is None:
        log.info("course %s: a sync is already running; skipped", context_id)
        return SyncOutcome(context_id, None, "skipped", {})
    tally = _Tally()
    state, error, registration_id, cohort_id = "failed", None, None, None
    session = env.sessionmaker()
    try:
        course = _load_course(session, context_id)
        registration_id, cohort_id = course.registration.id, course.cohort_id
        http = env.http_factory()
        try:
            _sync(env, session, course, learner, tally, now, http)
        finally:
            http.close()
        session.commit()
        state = "succeeded"
    except (LmsServiceError, SyncError) as exc:
        session.rollback()
        error = str(exc)
        tally.end_on_last_failure()
    except Exception as exc:  # noqa: BLE001 - a run always ends recorded; the unexpected one with its traceback
        session.rollback()
        error = f"{type(exc).__name__}: {exc}"
        log.error("course %s: sync failed\n%s", context_id, traceback.format_exc())
    finally:
        session.close()
    if state == "succeeded" and tally.counts["statuses_recomputed"]:
        _issue_due_certificates(env, registration_id, cohort_id, now, tally)
    _finish_run(env, run_id, registration_id, state, tally, error)
    log.info("course %s: sync %s %s%s", context_id, state, dict(tally.counts), f" ({error})" if error else "")
    return SyncOutcome(context_id, run_id, state, dict(tally.counts), error)


def sync_courses(env: SyncEnvironment, context_ids: Iterable[int], *, parallelism: int = 4,
                 trigger: str = "cli") -> list[SyncOutcome]:
    """Many courses, at most `parallelism` at a time (each run has its own session and HTTP session)."""
    with ThreadPoolExecutor(max_workers=max(1, parallelism), thread_name_prefix="sync") as pool:
        return list(pool.map(lambda context_id: sync_course(env, context_id, trigger=trigger), context_ids))


def _issue_due_certificates(env: SyncEnvironment, registration_id: int, cohort_id: int, now: datetime,
                            tally: "_Tally") -> None:
    """In its own transaction after the grades are committed: a failure here never loses a grade."""
    if env.issuer is None:
        return
    session = env.sessionmaker()
    try:
        outcome = issue_due_certificates(session, registration_id, cohort_id, now, env.issuer)
        session.commit()
        tally.counts["certificates_issued"] += len(outcome.issued)
    except IntegrityError:
        # Someone issued the same certificates at this moment (an administrator's button, another run).
        session.rollback()
        log.info("cohort %s: certificates issued by someone else meanwhile", cohort_id)
    except Exception:  # noqa: BLE001 - the run's grades stand; the next run or the button tries again
        session.rollback()
        tally.counts["certificates_failed"] += 1
        log.error("cohort %s: issuing certificates failed\n%s", cohort_id, traceback.format_exc())
    finally:
        session.close()


def linked_context_ids(session: Session) -> list[int]:
    return list(session.scalars(select(CourseLinkRecord.context_id).order_by(CourseLinkRecord.context_id)))


def _start_run(env: SyncEnvironment, context_id: int, learner: LearnerScope | None, trigger: str,
               now: datetime) -> int | None:
    with env.sessionmaker() as session:
        holder = session.scalar(select(SyncRunRecord).where(SyncRunRecord.running_context_id == context_id))
        if holder is not None and holder.started_at < now - LOCK_TIMEOUT:
            session.execute(update(SyncRunRecord).where(SyncRunRecord.id == holder.id,
                                                        SyncRunRecord.running_context_id.is_not(None))
                            .values(running_context_id=None, state="abandoned", finished_at=now,
                                    error="the run never finished (its worker stopped); lock taken over"))
            session.commit()
            log.warning("course %s: sync run %s abandoned, lock taken over", context_id, holder.id)
        run = SyncRunRecord(context_id=context_id, running_context_id=context_id, trigger=trigger,
                            lms_user_id=learner.lms_user_id if learner else None, state="running",
                            started_at=now, counts={})
        session.add(run)
        try:
            session.commit()
        except IntegrityError:
            session.rollback()
            return None
        return run.id


def _finish_run(env: SyncEnvironment, run_id: int, registration_id: int | None, state: str, tally: "_Tally",
                error: str | None) -> None:
    now = env.clock()
    with env.sessionmaker() as session:
        session.execute(update(SyncRunRecord).where(SyncRunRecord.id == run_id).values(
            running_context_id=None, state=state, finished_at=now, counts=dict(tally.counts),
            error=(error or None) and error[:4000]))
        if registration_id is not None:
            tally.record_health(session, registration_id, now)
        session.commit()


class _Tally:
    """Counts for the run's record, and the outcome of every service call for service health."""

    def __init__(self):
        self._lock = threading.Lock()
        self.counts: Counter = Counter()
        # In call order, a run of successes folded into one entry: [service, is_ok, status, detail, calls].
        self.calls: list[list] = []

    def observe(self, service: str, *, is_ok: bool, status: int | None, detail: str | None) -> None:
        with self._lock:  # fetcher threads report too
            self._observe(service, is_ok, status, detail)

    def _observe(self, service: str, is_ok: bool, status: int | None, detail: str | None) -> None:
        self.counts["service_calls"] += 1
        if not is_ok:
            self.counts["service_failures"] += 1
        last = next((entry for entry in reversed(self.calls) if entry[0] == service), None)
        if is_ok and last is not None and last[1]:
            last[4] += 1
            return
        self.calls.append([service, is_ok, status, detail, 1])
        if is_ok and service != ACCESS_TOKEN:
            # A service answered, so the token that went with it was good.
            token = next((entry for entry in reversed(self.calls) if entry[0] == ACCESS_TOKEN), None)
            if token is not None and not token[1]:
                self.calls.append([ACCESS_TOKEN, True, 200, None, 1])

    def end_on_last_failure(self) -> None:
        """The run failed: its health ends on the failure that stopped it, whatever other threads saw later."""
        last = next((entry for entry in reversed(self.calls) if not entry[1]), None)
        if last is not None and last is not self.calls[-1]:
            self.calls.append(list(last))

    def record_health(self, session: Session, registration_id: int, at: datetime) -> None:
        for service, is_ok, status, detail, calls in self.calls:
            record_service_call(session, registration_id, Service(service), is_ok=is_ok, at=at, status=status,
                                detail=detail if not is_ok else f"{calls} call(s) in a sync")


# --- what a course is -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class CourseFacts:
    context_id: int
    registration: PlatformRegistration
    link: CourseLinkRecord
    module_keys: frozenset[str]
    services: ContextServiceRecord

    @property
    def cohort_id(self) -> int:
        return self.link.cohort_id

    @property
    def is_full_programme(self) -> bool:
        return self.link.kind == FULL_PROGRAMME


def _load_course(session: Session, context_id: int) -> CourseFacts:
    found = session.execute(select(Registration, Deployment.is_active)
                            .join(Deployment, Deployment.registration_id == Registration.id)
                            .join(Context, Context.deployment_id == Deployment.id)
                            .where(Context.id == context_id)).first()
    if found is None:
        raise SyncError(f"no course {context_id}")
    row, is_deployment_active = found
    if not row.is_active or not is_deployment_active:
        raise SyncError(f"the platform {row.issuer} or its deployment is deactivated")
    link = session.scalar(select(CourseLinkRecord).where(CourseLinkRecord.context_id == context_id))
    if link is None:
        raise SyncError("the course is not linked to a cohort yet (an instructor links it on first launch)")
    services = session.get(ContextServiceRecord, context_id)
    if services is None or not (services.lineitems_url or services.memberships_url):
        raise SyncError("no grade or roster service is known for the course: launch the tool from it once")
    return CourseFacts(context_id, to_platform_registration(row), link, programme_module_keys(session, link),
                       services)


def _sync(env: SyncEnvironment, session: Session, course: CourseFacts, learner: LearnerScope | None,
          tally: _Tally, now: datetime, http: requests.Session) -> None:
    store = RememberingStore(env.store)
    connector = service_connector(course.registration, env.tool_keys, http, store)
    client = ServiceClient(connector, observer=tally.observe, retry=env.retry)
    paging = paging_for(course.services.product_family)
    services = course.services
    ags = AgsClient(client, services.lineitems_url, services.ags_scopes, paging) if services.lineitems_url else None
    roster = RosterPlan(session, course, now, tally)
    if learner is not None:
        roster.read_learner(learner)
    elif services.memberships_url:
        roster.read(NrpsClient(client, services.memberships_url, paging.list_limit))
    writer = Writer(session, course, roster, now, tally)
    if ags is not None:
        sessions: list[requests.Session] = []

        def fetcher() -> AgsClient:
            sessions.append(env.http_factory())
            return AgsClient(ServiceClient(service_connector(course.registration, env.tool_keys, sessions[-1], store),
                                           observer=tally.observe, retry=env.retry),
                             services.lineitems_url, services.ags_scopes, paging)

        try:
            # A platform that does not page results (Moodle) sends a column's results in one page: fewer at once.
            read_grades(session, course, ags, writer, learner, now, tally, env.certification_label,
                        fetchers=fetcher, workers=FETCHERS if paging.results_limit else 2)
        finally:
            for fetching in sessions:
                fetching.close()
    writer.write()
    # Only the enrolments this run changed (and any never computed), a chunk at a time: memory stays flat.
    changed = sorted(roster.changed_enrolments | _without_status(session, course.cohort_id))
    for start in range(0, len(changed), RECOMPUTE_CHUNK):
        tally.counts["statuses_recomputed"] += len(recompute_cohort_statuses(
            session, course.registration.id, course.cohort_id, now, changed[start:start + RECOMPUTE_CHUNK]))
    if writer.certification_line_item_id is not None:
        learners = roster.scored_learners(only=learner.lms_user_id if learner else None)
        tally.counts["scores_queued"] += queue_certification_scores(
            session, course=course, line_item_id=writer.certification_line_item_id, learners=learners, now=now,
            comments=env.comments)


def _without_status(session: Session, cohort_id: int) -> set[int]:
    return set(session.scalars(select(EnrolmentRecord.id).outerjoin(
        CertificationStatusRecord, CertificationStatusRecord.enrolment_id == EnrolmentRecord.id)
        .where(EnrolmentRecord.cohort_id == cohort_id, EnrolmentRecord.withdrawn_at.is_(None),
               CertificationStatusRecord.enrolment_id.is_(None))))


# --- roster ----------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Known:
    """An enrolment as read: enough to decide without loading the row."""

    id: int
    kind: str
    module_keys: tuple[str, ...]
    is_withdrawn: bool


class RosterPlan:
    """The roster as the LMS says it now, compared with what is stored, a page at a time.

    Only compact indexes of the whole course are kept (sub → user id, user id → enrolment);
    members, stored rows and decisions live for one page until they are written.
    """

    def __init__(self, session: Session, course: CourseFacts, now: datetime, tally: _Tally):
        self.session = session
        self.course = course
        self.now = now
        self.tally = tally
        self.users: dict[str, int] = {}  # sub → lms_user.id, for every member the run has seen
        self.enrolments: dict[int, _Known] = {}  # lms_user.id → enrolment in the cohort
        self.active_learners: set[str] = set()
        self.user_writes: dict[str, dict] = {}  # sub → values (new users and changed names)
        self.roster_inserts: list[tuple[str, dict]] = []
        self.roster_updates: list[tuple[int, dict]] = []  # roster_member.id → values
        self.to_enrol: list[str] = []  # subs of active learners whose enrolment must change
        self.to_withdraw: list[int] = []  # lms_user ids that stopped being active learners here
        self.changed_enrolments: set[int] = set()  # whose status must be recomputed

    @property
    def has_changes(self) -> bool:
        return bool(self.user_writes or self.roster_inserts or self.roster_updates or self.to_enrol
                    or self.to_withdraw)

    def read(self, nrps: NrpsClient) -> None:
        seen: set[int] = set()
        for page in nrps.member_pages():
            members = {member.user_id: member for member in page}
            self.tally.counts["members_seen"] += len(members)
            stored_users = self._load_users(list(members))
            rows = self._load_roster([user[0] for user in stored_users.values()])
            self._load_enrolments([user[0] for user in stored_users.values()])
            for member in members.values():
                user = stored_users.get(member.user_id)
                self._note_user(member, user)
                user_id = user[0] if user else None
                if user_id is not None:
                    seen.add(user_id)
                self._compare(member, user_id, rows.get(user_id))
        # Left the course (not listed any more): kept as "gone", never deleted.
        for row_id, user_id, status, is_learner in self.session.execute(
                select(RosterMemberRecord.id, RosterMemberRecord.lms_user_id, RosterMemberRecord.status,
                       RosterMemberRecord.is_learner)
                .where(RosterMemberRecord.context_id == self.course.context_id, RosterMemberRecord.status != GONE)):
            if user_id not in seen:
                self.roster_updates.append((row_id, {"status": GONE, "changed_at": self.now}))
                if is_learner and status == ACTIVE:
                    self.to_withdraw.append(user_id)

    def read_learner(self, learner: LearnerScope) -> None:
        """A launch proves one active learner (or not): the roster row and enrolment of that person only."""
        member = Member(learner.user_id_on_platform, learner.roles, "Active")
        self.users[member.user_id] = learner.lms_user_id
        self._load_enrolments([learner.lms_user_id])
        self._compare(member, learner.lms_user_id, self._load_roster([learner.lms_user_id]).get(learner.lms_user_id))

    def _load_users(self, subs: list[str]) -> dict[str, tuple]:
        found: dict[str, tuple] = {}
        for start in range(0, len(subs), _IN_CHUNK):
            rows = self.session.execute(
                select(LmsUser.id_on_platform, LmsUser.id, LmsUser.name, LmsUser.given_name, LmsUser.family_name,
                       LmsUser.email)
                .where(LmsUser.registration_id == self.course.registration.id,
                       LmsUser.id_on_platform.in_(subs[start:start + _IN_CHUNK])))
            for sub, *values in rows:
                found[sub] = tuple(values)
                self.users[sub] = values[0]
        return found

    def _load_roster(self, user_ids: list[int]) -> dict[int, tuple]:
        rows: dict[int, tuple] = {}
        for start in range(0, len(user_ids), _IN_CHUNK):
            for row in self.session.execute(
                    select(RosterMemberRecord.lms_user_id, RosterMemberRecord.id, RosterMemberRecord.roles,
                           RosterMemberRecord.status, RosterMemberRecord.is_learner, RosterMemberRecord.is_instructor)
                    .where(RosterMemberRecord.context_id == self.course.context_id,
                           RosterMemberRecord.lms_user_id.in_(user_ids[start:start + _IN_CHUNK]))):
                rows[row.lms_user_id] = row
        return rows

    def _load_enrolments(self, user_ids: list[int]) -> None:
        for start in range(0, len(user_ids), _IN_CHUNK):
            for enrolment_id, user_id, kind, module_keys, withdrawn_at in self.session.execute(
                    select(EnrolmentRecord.id, EnrolmentRecord.lms_user_id, EnrolmentRecord.kind,
                           EnrolmentRecord.module_keys, EnrolmentRecord.withdrawn_at)
                    .where(EnrolmentRecord.cohort_id == self.course.cohort_id,
                           EnrolmentRecord.registration_id == self.course.registration.id,
                           EnrolmentRecord.lms_user_id.in_(user_ids[start:start + _IN_CHUNK]))):
                self.enrolments[user_id] = _Known(enrolment_id, kind, tuple(module_keys), withdrawn_at is not None)

    def _note_user(self, member: Member, stored: tuple | None) -> None:
        wanted = {"name": member.name, "given_name": member.given_name, "family_name": member.family_name,
                  "email": member.email}
        if stored is not None:
            known = dict(zip(("name", "given_name", "family_name", "email"), stored[1:]))
            # A platform that withholds names must not erase the ones a launch gave us.
            if all(value is None or value == known[key] for key, value in wanted.items()):
                return
        self.user_writes[member.user_id] = wanted

    def _compare(self, member: Member, user_id: int | None, row) -> None:
        status = ACTIVE if member.is_active else INACTIVE
        wanted = {"roles": sorted(member.roles), "status": status, "is_learner": member.is_learner,
                  "is_instructor": member.is_instructor}
        if row is None:
            self.roster_inserts.append((member.user_id, {**wanted, "changed_at": self.now}))
        elif (list(row.roles), row.status, row.is_learner, row.is_instructor) != tuple(wanted.values()):
            self.roster_updates.append((row.id, {**wanted, "changed_at": self.now}))
        if member.is_learner and member.is_active:
            self.active_learners.add(member.user_id)
            known = self.enrolments.get(user_id) if user_id is not None else None
            if self._enrolment_change(known) is not None:
                self.to_enrol.append(member.user_id)
        elif row is not None and row.is_learner and row.status == ACTIVE and user_id is not None:
            self.to_withdraw.append(user_id)

    def _enrolment_change(self, known: _Known | None) -> str | None:
        if known is None:
            return "enrol"
        if known.is_withdrawn:
            return "reinstate"
        if known.kind != EnrolmentKind.MODULE_ONLY.value:
            return None
        if self.course.is_full_programme:
            return "upgrade"
        return "add_module" if self.course.link.module_key not in known.module_keys else None

    def enrolment_id(self, sub: str) -> int | None:
        user_id = self.users.get(sub)
        known = self.enrolments.get(user_id) if user_id is not None else None
        return known.id if known else None

    def enrolment_reference(self, sub: str) -> int | tuple[str, str] | None:
        """The enrolment a result belongs to: its id, ("new", sub) when this run creates it, or None."""
        enrolment_id = self.enrolment_id(sub)
        if enrolment_id is not None:
            return enrolment_id
        return ("new", sub) if sub in self.to_enrol else None

    def scored_learners(self, only: int | None = None) -> dict[int, str]:
        """enrolment id → sub of every active learner of this course whose enrolment stands."""
        if not self.active_learners and only is None:
            # No roster was read (no NRPS): the course's stored active learners.
            return dict(self.session.execute(
                select(EnrolmentRecord.id, LmsUser.id_on_platform)
                .join(RosterMemberRecord, RosterMemberRecord.lms_user_id == EnrolmentRecord.lms_user_id)
                .join(LmsUser, LmsUser.id == EnrolmentRecord.lms_user_id)
                .where(RosterMemberRecord.context_id == self.course.context_id,
                       RosterMemberRecord.status == ACTIVE, RosterMemberRecord.is_learner.is_(True),
                       EnrolmentRecord.cohort_id == self.course.cohort_id,
                       EnrolmentRecord.withdrawn_at.is_(None))).all())
        learners = {}
        for sub in self.active_learners:
            user_id = self.users.get(sub)
            known = self.enrolments.get(user_id) if user_id is not None else None
            if known is not None and not known.is_withdrawn and (only is None or user_id == only):
                learners[known.id] = sub
        return learners

    # --- applied by the Writer, inside the run's transaction ---
    def apply(self) -> None:
        connection = self.session.connection()
        registration_id = self.course.registration.id
        for sub, values in self.user_writes.items():
            self.users[sub] = upsert(connection, LmsUser.__table__, {
                "registration_id": registration_id, "id_on_platform": sub, "updated_at": self.now, **values},
                conflict=("registration_id", "id_on_platform"),
                keep_when_missing=("name", "given_name", "family_name", "email"))
        self.tally.counts["users_written"] += len(self.user_writes)
        if self.roster_inserts:
            self.session.execute(insert(RosterMemberRecord), [
                {"context_id": self.course.context_id, "lms_user_id": self.users[sub], **values}
                for sub, values in self.roster_inserts])
        for row_id, values in self.roster_updates:
            self.session.execute(update(RosterMemberRecord).where(RosterMemberRecord.id == row_id).values(**values))
        self.tally.counts["roster_changes"] += len(self.roster_inserts) + len(self.roster_updates)
        self._apply_enrolments()
        self._apply_withdrawals()
        self.user_writes, self.roster_inserts, self.roster_updates = {}, [], []
        self.to_enrol, self.to_withdraw = [], []

    def _apply_enrolments(self) -> None:
        if not self.to_enrol:
            return
        link = self.course.link
        new = [sub for sub in self.to_enrol if self.users[sub] not in self.enrolments]
        if new:
            kind = EnrolmentKind.FULL_PROGRAMME if self.course.is_full_programme else EnrolmentKind.MODULE_ONLY
            modules = frozenset() if self.course.is_full_programme else frozenset({link.module_key})
            ids = enrol_many(self.session, registration_id=self.course.registration.id, cohort_id=link.cohort_id,
                             lms_user_ids=[self.users[sub] for sub in new], kind=kind, module_keys=modules,
                             now=self.now)
            for sub, enrolment_id in zip(new, ids):
                self.enrolments[self.users[sub]] = _Known(enrolment_id, kind.value, tuple(sorted(modules)), False)
            self.tally.counts["enrolled"] += len(new)
            self.changed_enrolments.update(ids)
        existing = [self.users[sub] for sub in self.to_enrol if sub not in new]
        for record in self.session.scalars(select(EnrolmentRecord).where(
                EnrolmentRecord.cohort_id == link.cohort_id, EnrolmentRecord.lms_user_id.in_(existing))):
            change = self._enrolment_change(self.enrolments[record.lms_user_id])
            if record.withdrawn_at is not None:
                record.withdrawn_at = None
                self.tally.counts["reinstated"] += 1
                log.info("enrolment %s reinstated: back in course %s", record.id, self.course.context_id)
            if change == "upgrade" or (self.course.is_full_programme
                                       and record.kind == EnrolmentKind.MODULE_ONLY.value):
                record.kind = EnrolmentKind.FULL_PROGRAMME.value
                record.upgraded_at = self.now
                self.tally.counts["upgraded"] += 1
            elif (not self.course.is_full_programme and record.kind == EnrolmentKind.MODULE_ONLY.value
                  and link.module_key not in record.module_keys):
                record.module_keys = sorted({*record.module_keys, link.module_key})
                self.tally.counts["modules_added"] += 1
            self.enrolments[record.lms_user_id] = _Known(record.id, record.kind, tuple(record.module_keys), False)
            self.changed_enrolments.add(record.id)
        self.session.flush()

    def _apply_withdrawals(self) -> None:
        if not self.to_withdraw:
            return
        # Still an active learner in another course of the cohort: stays enrolled.
        elsewhere = set(self.session.scalars(
            select(RosterMemberRecord.lms_user_id)
            .join(CourseLinkRecord, CourseLinkRecord.context_id == RosterMemberRecord.context_id)
            .where(CourseLinkRecord.cohort_id == self.course.cohort_id,
                   RosterMemberRecord.context_id != self.course.context_id,
                   RosterMemberRecord.lms_user_id.in_(self.to_withdraw),
                   RosterMemberRecord.status == ACTIVE, RosterMemberRecord.is_learner.is_(True))))
        for record in self.session.scalars(select(EnrolmentRecord).where(
                EnrolmentRecord.cohort_id == self.course.cohort_id,
                EnrolmentRecord.lms_user_id.in_(self.to_withdraw), EnrolmentRecord.withdrawn_at.is_(None))):
            if record.lms_user_id in elsewhere:
                continue
            record.withdrawn_at = self.now
            self.enrolments[record.lms_user_id] = _Known(record.id, record.kind, tuple(record.module_keys), True)
            self.tally.counts["withdrawn"] += 1
            log.info("enrolment %s withdrawn: no longer an active learner in course %s", record.id,
                     self.course.context_id)
        self.session.flush()


# --- writing ---------------------------------------------------------------------------------------------------
class Writer:
    """Holds the run's changes and writes them, all in the run's one transaction."""

    def __init__(self, session: Session, course: CourseFacts, roster: RosterPlan, now: datetime, tally: _Tally):
        self.session = session
        self.course = course
        self.roster = roster
        self.now = now
        self.tally = tally
        self.line_item_writes: list[Callable[[], None]] = []
        self.events: list[dict] = []  # result_event rows; "enrolment_id" may still be a ("new", sub) reference
        self.certification_line_item_id: int | None = None
        self.is_writing = False

    def add_event(self, row: dict) -> None:
        self.events.append(row)
        if len(self.events) >= WRITE_BATCH:
            self.write()

    def write(self) -> None:
        if not (self.line_item_writes or self.roster.has_changes or self.events):
            return
        if not self.is_writing:
            # End the read-only snapshot first: on SQLite a transaction that read before another
            # writer committed cannot become a writer.
            self.session.commit()
            self.is_writing = True
        for write in self.line_item_writes:
            write()
        self.line_item_writes = []
        self.roster.apply()
        if self.events:
            rows = [row for row in map(self._resolved, self.events) if row is not None]
            if rows:
                self.session.execute(insert(ResultEventRecord), rows)
                self.roster.changed_enrolments.update(row["enrolment_id"] for row in rows)
            self.tally.counts["results_recorded"] += len(rows)
            self.events = []
        self.session.flush()

    def _resolved(self, row: dict) -> dict | None:
        reference = row["enrolment_id"]
        if isinstance(reference, tuple):
            enrolment_id = self.roster.enrolment_id(reference[1])
            if enrolment_id is None:
                self.tally.counts["results_unmatched"] += 1
                return None
            return {**row, "enrolment_id": enrolment_id}
        return row


def environment_for(app, *, comments: Callable[[list[tuple[str, list]]], list[str]], certification_label: str,
                    clock: Callable[[], datetime] | None = None, retry: RetryPolicy | None = None,
                    http_factory: Callable[[], requests.Session] | None = None) -> SyncEnvironment:
    """The app's collaborators for syncs outside a request; the words the LMS sees come from the caller."""
    svc = app.extensions["lti_services"]
    sessionmaker = app.extensions["db_sessionmaker"]
    # A token cached mid-sync is committed at once, not held in the sync's long transaction.
    store = OwnTransactionStore(sessionmaker) if isinstance(svc.store, DatabaseStore) else svc.store
    return SyncEnvironment(
        sessionmaker=sessionmaker, tool_keys=svc.tool_keys, store=store,
        http_factory=http_factory or (lambda: TimeoutSession(svc.settings.HTTP_TIMEOUT)), comments=comments,
        certification_label=certification_label, clock=clock or (lambda: datetime.now(timezone.utc)),
        retry=retry or RetryPolicy(), issuer=CredentialIssuer.from_settings(svc.settings, svc.tool_keys))
