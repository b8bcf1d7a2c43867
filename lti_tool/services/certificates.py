"""Certificates: issued from the computed statuses (never on request), revoked, re-issued, looked up.

Issuing is a server decision: `issue_due_certificates` recomputes a cohort's statuses and
issues what the results support. A page view never issues anything.
"""
from __future__ import annotations

import logging
import secrets
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from ..config import Settings
from ..credentials.signing import sign_credential
from ..db.certificates import CertificateCredentialRecord, CertificateRecord, StatusListRecord
from ..db.programmes import CohortRecord, EnrolmentRecord, ProgrammeRecord, ResultEventRecord
from ..db.tenancy import LmsUser, Membership
from ..domain.certificates import (Certificate, CertificateKind, CertifiedModule, DueCertificate,
                                   due_certificates, modules_completed_at, new_certificate_code,
                                   InvalidCertificateCode, parse_certificate_code)
from ..domain.certification import CertificationStatus
from ..domain.open_badges import Issuer, StatusEntry, open_badge_credential
from ..domain.programme import LocalisedName, Programme
from ..domain.status_list import MIN_SIZE
from ..lti.roles import Audience
from ..lti.tool_keys import KeyRing
from .programmes import to_programme
from .results import CohortContext, recompute_cohort_statuses, to_enrolment, to_event

log = logging.getLogger(__name__)
SYSTEM = "system"  # who issued a certificate the results made due
MAX_NAME = 300
REVOCATION = "revocation"


class CertificateError(ValueError):
    """The certificate cannot be changed as asked; the message says why."""


class CertificateNotFound(LookupError):
    """No certificate with that code for this platform."""


@dataclass(frozen=True)
class CredentialIssuer:
    """What signing needs: the issuer profile (base URL and name) and the tool's key ring."""

    profile: Issuer
    keys: KeyRing

    @classmethod
    def from_settings(cls, settings: Settings, keys: KeyRing) -> "CredentialIssuer":
        return cls(Issuer(settings.BASE_URL, settings.ISSUER_NAME), keys)


@dataclass(frozen=True)
class IssueOutcome:
    issued: tuple[str, ...]
    # Enrolments with a certificate due whose LMS shares no name: issued once a name arrives.
    waiting_for_name: tuple[int, ...]
    flagged_for_review: tuple[str, ...]


@dataclass(frozen=True)
class Viewer:
    """Who asks, from their launch: a learner sees their own; staff what their role covers."""

    registration_id: int
    lms_user_id: int
    audience: Audience | None
    context_id: int | None

    @property
    def is_administrator(self) -> bool:
        return self.audience is Audience.ADMINISTRATOR

    @property
    def is_staff(self) -> bool:
        return self.audience in (Audience.ADMINISTRATOR, Audience.INSTRUCTOR)


# --- issuing ----------------------------------------------------------------------------------
def issue_due_certificates(session: Session, registration_id: int, cohort_id: int, now: datetime,
                           issuer: CredentialIssuer) -> IssueOutcome:
    """Recompute the cohort's statuses, then issue every certificate and intyg the results support.

    Certificates already issued are never issued twice; one the results stop supporting (a
    lowered grade) is flagged for an administrator's review, never revoked by itself.
    """
    statuses = recompute_cohort_statuses(session, registration_id, cohort_id, now)
    cohort = session.get(CohortRecord, cohort_id)
    version = cohort.programme_version
    programme = to_programme(session.get(ProgrammeRecord, version.programme_id), version)
    context = CohortContext(programme, cohort.key, None)
    rows = session.execute(
        select(EnrolmentRecord, LmsUser).join(LmsUser, LmsUser.id == EnrolmentRecord.lms_user_id)
        .where(EnrolmentRecord.registration_id == registration_id, EnrolmentRecord.id.in_(list(statuses)))
        .order_by(EnrolmentRecord.id)).all()
    events: dict[int, list] = defaultdict(list)
    for row in session.scalars(select(ResultEventRecord).join(EnrolmentRecord)
                               .where(EnrolmentRecord.cohort_id == cohort_id)):
        events[row.enrolment_id].append(to_event(row))
    held: dict[int, dict[tuple[CertificateKind, str], CertificateRecord]] = defaultdict(dict)
    for record in session.scalars(select(CertificateRecord).where(CertificateRecord.registration_id == registration_id,
                                                                  CertificateRecord.cohort_id == cohort_id)):
        held[record.enrolment_id][(CertificateKind(record.kind), record.module_key)] = record

    indexes = _StatusIndexes(session, now)
    issued, waiting, flagged = [], [], []
    for enrolment_record, user in rows:
        status = statuses[enrolment_record.id]
        completed = modules_completed_at(programme, events[enrolment_record.id])
        mine = held[enrolment_record.id]
        flagged += _review_flags(mine, status, completed)
        due = due_certificates(programme, to_enrolment(enrolment_record, user, context, None, None), status,
                               completed, mine.keys())
        if not due:
            continue
        name = participant_name(user)
        if name is None:
            waiting.append(enrolment_record.id)
            log.warning("enrolment %s: %d certificate(s) due but the LMS shares no name", enrolment_record.id,
                        len(due))
            continue
        for item in due:
            record = _new_certificate(enrolment_record, cohort, programme, status, completed, item, name, issuer,
                                      now)
            session.add(record)
            _sign_revision(record, issuer, indexes, now, issued_by=SYSTEM, note=None)
            issued.append(record.code)
    session.flush()
    if issued or flagged:
        log.info("cohort %s of registration %s: issued %d certificate(s), %d flagged for review", cohort_id,
                 registration_id, len(issued), len(flagged))
    return IssueOutcome(tuple(issued), tuple(waiting), tuple(flagged))


def _review_flags(mine: dict[tuple[CertificateKind, str], CertificateRecord], status: CertificationStatus,
                  completed: dict[str, datetime]) -> list[str]:
    flagged = []
    for (kind, module_key), record in mine.items():
        if record.revoked_at is not None:
            record.needs_review = False
            continue
        if kind is CertificateKind.CERTIFICATION:
            record.needs_review = status.needs_admin_review
        else:
            record.needs_review = module_key not in completed
        if record.needs_review:
            flagged.append(record.code)
    return flagged


def participant_name(user: LmsUser) -> str | None:
    name = (user.name or " ".join(part for part in (user.given_name, user.family_name) if part)).strip()
    return name[:MAX_NAME] or None


def _new_certificate(enrolment: EnrolmentRecord, cohort: CohortRecord, programme: Programme,
                     status: CertificationStatus, completed: dict[str, datetime], due: DueCertificate, name: str,
                     issuer: CredentialIssuer, now: datetime) -> CertificateRecord:
    is_certification = due.kind is CertificateKind.CERTIFICATION
    modules = [{"key": m.key, "name_sv": m.name.sv, "name_en": m.name.en,
                "completed_at": completed[m.key].isoformat()}
               for m in programme.modules if is_certification or m.key == due.module_key]
    return CertificateRecord(
        registration_id=enrolment.registration_id, cohort_id=cohort.id, lms_user_id=enrolment.lms_user_id,
        enrolment_id=enrolment.id, code=new_certificate_code(secrets.token_bytes(16)), kind=due.kind.value,
        module_key=due.module_key, participant_name=name, programme_code=programme.code,
        programme_version=programme.version, programme_name_sv=programme.name.sv,
        programme_name_en=programme.name.en, modules=modules,
        exam_passed_at=status.exam.passed_at if is_certification else None, achieved_at=due.achieved_at,
        issuer_name=issuer.profile.name, issued_at=now, expires_at=status.expires_at if is_certification else None,
        revision=1, revised_at=now, needs_review=False)


def _sign_revision(record: CertificateRecord, issuer: CredentialIssuer, indexes: "_StatusIndexes", now: datetime,
                   *, issued_by: str, note: str | None) -> None:
    entry = indexes.take()
    credential = open_badge_credential(issuer.profile, record.registration_id, to_certificate(record), entry)
    signed = sign_credential(credential, issuer.keys)
    record.credentials.append(CertificateCredentialRecord(
        revision=record.revision, participant_name=record.participant_name, status_list_id=entry.list_id,
        status_list_index=entry.index, token=signed.token, kid=signed.kid, issued_at=now, issued_by=issued_by,
        note=note))


class _StatusIndexes:
    """Random, unused places in the newest status list; a new list once half of one is taken.

    Random rather than sequential, as the Bitstring Status List recommends: an index then
    says nothing about when or to whom a credential was issued. Two transactions picking the
    same index at the same moment are refused by the unique constraint (the issue is retried).
    """

    def __init__(self, session: Session, now: datetime):
        self.session = session
        self.now = now
        self.list: StatusListRecord | None = None
        self.used: set[int] = set()

    def take(self) -> StatusEntry:
        if self.list is None or len(self.used) >= self.list.size // 2:
            self._open()
        while True:
            index = secrets.randbelow(self.list.size)
            if index not in self.used:
                self.used.add(index)
                return StatusEntry(self.list.id, index)

    def _open(self) -> None:
        latest = self.session.scalar(select(StatusListRecord).where(StatusListRecord.purpose == REVOCATION)
                                     .order_by(StatusListRecord.id.desc()).limit(1))
        if latest is not None and latest is not self.list:
            self.list = latest
            self.used = set(self.session.scalars(select(CertificateCredentialRecord.status_list_index)
                                                 .where(CertificateCredentialRecord.status_list_id == latest.id)))
            if len(self.used) < latest.size // 2:
                return
        self.list = StatusListRecord(purpose=REVOCATION, size=MIN_SIZE, created_at=self.now)
        self.session.add(self.list)
        self.session.flush()
        self.used = set()


# --- administration ---------------------------------------------------------------------------
def revoke_certificate(session: Session, registration_id: int, code: str, *, reason: str, revoked_by: str,
                       now: datetime) -> CertificateRecord:
    """Withdraw a certificate: its page, its JSON and the status list show it revoked from now on."""
    record = get_certificate(session, registration_id, code)
    reason = (reason or "").strip()
    if not reason:
        raise CertificateError("a revocation needs a reason")
    if record.revoked_at is not None:
        raise CertificateError(f"certificate {record.code} is already revoked")
    record.revoked_at = now
    record.revoked_by = (revoked_by or SYSTEM)[:MAX_NAME]
    record.revocation_reason = reason
    record.needs_review = False
    session.flush()
    if record.kind == CertificateKind.CERTIFICATION.value:
        # The stored status follows at once: revoked, not certified.
        recompute_cohort_statuses(session, registration_id, record.cohort_id, now)
    log.info("certificate %s revoked by %s: %s", record.code, record.revoked_by, reason)
    return record


def reissue_certificate(session: Session, registration_id: int, code: str, *, participant_name: str,
                        reason: str | None, reissued_by: str, now: datetime,
                        issuer: CredentialIssuer) -> CertificateRecord:
    """A corrected name under the same code: a new signed credential, the previous one revoked in the status list."""
    record = get_certificate(session, registration_id, code)
    name = " ".join((participant_name or "").split())
    if not name:
        raise CertificateError("the corrected name is empty")
    if len(name) > MAX_NAME:
        raise CertificateError(f"the name is longer than {MAX_NAME} characters")
    if record.revoked_at is not None:
        raise CertificateError(f"certificate {record.code} is revoked and cannot be re-issued")
    record.current_credential.superseded_at = now
    record.participant_name = name
    record.revision += 1
    record.revised_at = now
    _sign_revision(record, issuer, _StatusIndexes(session, now), now, issued_by=(reissued_by or SYSTEM)[:MAX_NAME],
                   note=(reason or "").strip() or None)
    session.flush()
    log.info("certificate %s re-issued (revision %s) by %s", record.code, record.revision, reissued_by)
    return record


# --- lookups ----------------------------------------------------------------------------------
def find_certificate(session: Session, code: str) -> CertificateRecord | None:
    """The public lookup behind /verify: by the unique, unguessable code; a mistyped code finds nothing."""
    try:
        canonical = parse_certificate_code(code)
    except InvalidCertificateCode:
        return None
    return session.scalar(select(CertificateRecord).where(CertificateRecord.code == canonical))


def get_certificate(session: Session, registration_id: int, code: str) -> CertificateRecord:
    record = find_certificate(session, code)
    if record is None or record.registration_id != registration_id:
        raise CertificateNotFound(f"no certificate {code!r} for platform {registration_id}")
    return record


def _course_members(viewer: Viewer):
    return select(Membership.lms_user_id).where(Membership.context_id == viewer.context_id)


def _visible(viewer: Viewer):
    """The SQL condition for what a viewer may see, always within their platform."""
    condition = CertificateRecord.registration_id == viewer.registration_id
    if viewer.is_administrator:
        return condition
    own = CertificateRecord.lms_user_id == viewer.lms_user_id
    if viewer.audience is Audience.INSTRUCTOR and viewer.context_id is not None:
        # An instructor sees the certificates of the people in the course they launched from.
        return condition & or_(own, CertificateRecord.lms_user_id.in_(_course_members(viewer)))
    return condition & own


def visible_certificates(session: Session, viewer: Viewer, cohort_id: int | None = None) -> list[CertificateRecord]:
    statement = select(CertificateRecord).where(_visible(viewer))
    if cohort_id is not None:
        statement = statement.where(CertificateRecord.cohort_id == cohort_id)
    return list(session.scalars(statement.order_by(CertificateRecord.participant_name, CertificateRecord.kind,
                                                   CertificateRecord.module_key, CertificateRecord.id)))


def own_certificates(session: Session, viewer: Viewer) -> list[CertificateRecord]:
    own = Viewer(viewer.registration_id, viewer.lms_user_id, Audience.LEARNER, None)
    return visible_certificates(session, own)


def visible_certificate(session: Session, viewer: Viewer, code: str) -> CertificateRecord | None:
    try:
        canonical = parse_certificate_code(code)
    except InvalidCertificateCode:
        return None
    return session.scalar(select(CertificateRecord).where(_visible(viewer), CertificateRecord.code == canonical))


def visible_cohorts(session: Session, viewer: Viewer) -> list[CohortRecord]:
    """Cohorts a staff member may issue or download for: all on the platform for an administrator,
    those with participants in the instructor's course otherwise."""
    statement = select(CohortRecord).where(CohortRecord.registration_id == viewer.registration_id)
    if not viewer.is_administrator:
        if viewer.audience is not Audience.INSTRUCTOR or viewer.context_id is None:
            return []
        statement = statement.where(CohortRecord.id.in_(
            select(EnrolmentRecord.cohort_id).where(EnrolmentRecord.registration_id == viewer.registration_id,
                                                    EnrolmentRecord.lms_user_id.in_(_course_members(viewer)))))
    return list(session.scalars(statement.order_by(CohortRecord.starts_on, CohortRecord.id)))


def revoked_indexes(session: Session, list_id: int) -> set[int]:
    """The set bits of a status list: credentials of revoked certificates, and superseded revisions."""
    return set(session.scalars(
        select(CertificateCredentialRecord.status_list_index).join(CertificateRecord)
        .where(CertificateCredentialRecord.status_list_id == list_id,
               or_(CertificateRecord.revoked_at.is_not(None), CertificateCredentialRecord.superseded_at.is_not(None)))))


def to_certificate(record: CertificateRecord) -> Certificate:
    return Certificate(
        code=record.code, kind=CertificateKind(record.kind), participant_name=record.participant_name,
        programme_code=record.programme_code, programme_version=record.programme_version,
        programme_name=LocalisedName(record.programme_name_sv, record.programme_name_en),
        modules=tuple(CertifiedModule(m["key"], LocalisedName(m["name_sv"], m["name_en"]),
                                      datetime.fromisoformat(m["completed_at"])) for m in record.modules),
        exam_passed_at=record.exam_passed_at, achieved_at=record.achieved_at, issuer_name=record.issuer_name,
        issued_at=record.issued_at, revision=record.revision, revised_at=record.revised_at,
        expires_at=record.expires_at, revoked_at=record.revoked_at)

