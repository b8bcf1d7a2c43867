"""The admin console's use cases: who may manage which registration, the changes they make
(each written to the audit trail with who made it), and the pages' read models.

Operators manage every registration; an LMS administrator only the one they launched from.
Every query here is scoped by the registration the actor may see: a foreign id answers
`AdminNotFound`, exactly like an id that does not exist.
"""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from datetime import datetime
from fractions import Fraction
from typing import Generic, Sequence, TypeVar

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.orm import Session

from ..db.admin import AdminAuditEntry
from ..db.programmes import CohortRecord, ProgrammeRecord, ProgrammeVersionRecord
from ..db.service_health import ServiceHealth
from ..db.tenancy import Deployment, LaunchLog, Registration
from ..lti.tool_keys import KeyRing, KeyStatus
from . import platforms as platform_service
from .programme_file import InvalidProgrammeFile, ProgrammeDocument
from .programmes import ImportOutcome, ProgrammeNotFound, export_document, import_programme
from .service_health import health_of

log = logging.getLogger(__name__)
T = TypeVar("T")
PAGE_SIZE = 50


class AdminNotFound(LookupError):
    """No such thing, or not one this administrator may see (the two look the same)."""


class AdminForbidden(PermissionError):
    """Only operators may do this (it concerns every registration, or the tool as a whole)."""


class ProgrammeChangedMeanwhile(ValueError):
    """Someone saved a newer version while this edit was open; nothing was saved."""

    def __init__(self, latest: int):
        super().__init__(f"version {latest} was saved meanwhile")
        self.latest = latest


@dataclass(frozen=True)
class Actor:
    """Who makes a change: an operator (e-mail), an LMS administrator (sub + registration), the CLI (OS user)."""

    kind: str  # "operator" | "lms_admin" | "cli" | "dynamic_registration"
    name: str
    registration_id: int | None = None  # an LMS administrator's own registration
    display_name: str | None = None

    @property
    def is_operator(self) -> bool:
        return self.kind in ("operator", "cli")

    def may_see(self, registration_id: int) -> bool:
        return self.is_operator or self.registration_id == registration_id


def operator_actor(email: str) -> Actor:
    return Actor("operator", email)


def lms_admin_actor(sub: str, registration_id: int, display_name: str | None = None) -> Actor:
    return Actor("lms_admin", sub, registration_id, display_name)


def cli_actor(user: str) -> Actor:
    return Actor("cli", user)


# --- the audit trail ------------------------------------------------------------------------
def record_change(session: Session, actor: Actor, action: str, target: str, registration_id: int | None,
                  details: dict, now: datetime) -> AdminAuditEntry:
    entry = AdminAuditEntry(at=now, actor_kind=actor.kind, actor=actor.name[:320],
                            actor_registration_id=actor.registration_id, registration_id=registration_id,
                            action=action, target=target[:500], details=details)
    session.add(entry)
    session.flush()
    log.info("admin %s %s (registration %s) did %s on %s (registration %s) %s", actor.kind, actor.name,
             actor.registration_id, action, target, registration_id, details or "")
    return entry


@dataclass(frozen=True)
class Page(Generic[T]):
    items: Sequence[T]
    number: int
    count: int  # how many pages there are (at least 1)

    @property
    def has_previous(self) -> bool:
        return self.number > 1

    @property
    def has_next(self) -> bool:
        return self.number < self.count


def _page(session: Session, statement, number: int, size: int = PAGE_SIZE) -> Page:
    total = session.scalar(select(func.count()).select_from(statement.order_by(None).subquery())) or 0
    count = max(1, math.ceil(total / size))
    number = min(max(1, number), count)
    items = session.scalars(statement.limit(size).offset((number - 1) * size)).all()
    return Page(items, number, count)


def audit_page(session: Session, actor: Actor, number: int = 1) -> Page[AdminAuditEntry]:
    statement = select(AdminAuditEntry).order_by(AdminAuditEntry.at.desc(), AdminAuditEntry.id.desc())
    if not actor.is_operator:
        statement = statement.where(AdminAuditEntry.registration_id == actor.registration_id)
    return _page(session, statement, number)


# --- registrations and deployments ----------------------------------------------------------
def visible_registrations(session: Session, actor: Actor) -> list[Registration]:
    statement = select(Registration).order_by(Registration.id)
    if not actor.is_operator:
        statement = statement.where(Registration.id == actor.registration_id)
    return list(session.scalars(statement))


def registration_for(session: Session, actor: Actor, registration_id: int) -> Registration:
    registration = session.get(Registration, registration_id) if actor.may_see(registration_id) else None
    if registration is None:
        raise AdminNotFound(f"no registration {registration_id}")
    return registration


def _require_operator(actor: Actor) -> None:
    if not actor.is_operator:
        raise AdminForbidden("only operators may do this")


def set_registration_active(session: Session, actor: Actor, registration_id: int, is_active: bool,
                            now: datetime) -> Registration:
    """Switch a whole LMS on or off: its logins are refused while it is off. Operators only."""
    registration = registration_for(session, actor, registration_id)
    _require_operator(actor)
    was_active = registration.is_active
    platform_service.set_registration_active(session, registration.id, is_active)
    record_change(session, actor, "registration.activate" if is_active else "registration.deactivate",
                  f"{registration.issuer} ({registration.client_id})", registration.id,
                  {"was_active": was_active}, now)
    return registration


@dataclass(frozen=True)
class DeploymentRow:
    deployment: Deployment
    accepted_launches: int
    refused_launches: int
    last_refused_at: datetime | None

    @property
    def is_waiting_for_approval(self) -> bool:
        """Inactive and never launched successfully: a launch created it and nobody has approved it yet."""
        return not self.deployment.is_active and self.accepted_launches == 0


def deployments_of(session: Session, actor: Actor, registration_id: int) -> list[DeploymentRow]:
    registration = registration_for(session, actor, registration_id)
    stats = {row.deployment_id: row for row in session.execute(
        select(LaunchLog.deployment_id,
               func.count(case((LaunchLog.is_accepted.is_(True), 1))).label("accepted"),
               func.count(case((LaunchLog.is_accepted.is_(False), 1))).label("refused"),
               func.max(case((LaunchLog.is_accepted.is_(False), LaunchLog.at))).label("last_refused_at"))
        .where(LaunchLog.registration_id == registration.id, LaunchLog.deployment_id.is_not(None))
        .group_by(LaunchLog.deployment_id))}
    rows = []
    for deployment in session.scalars(select(Deployment).where(Deployment.registration_id == registration.id)
                                      .order_by(Deployment.is_active, Deployment.id)):
        stat = stats.get(deployment.id)
        rows.append(DeploymentRow(deployment, stat.accepted if stat else 0, stat.refused if stat else 0,
                                  stat.last_refused_at if stat else None))
    return rows


def set_deployment_active(session: Session, actor: Actor, registration_id: int, deployment_id: int,
                          is_active: bool, now: datetime) -> Deployment:
    """Approve (or block) a deployment of a registration the actor may manage."""
    registration = registration_for(session, actor, registration_id)
    deployment = session.scalar(select(Deployment).where(Deployment.id == deployment_id,
                                                         Deployment.registration_id == registration.id))
    if deployment is None:
        raise AdminNotFound(f"no deployment {deployment_id} in registration {registration_id}")
    return _set_deployment(session, actor, registration, deployment.id_on_platform, is_active, now)


def approve_deployment_id(session: Session, actor: Actor, registration_id: int, id_on_platform: str,
                          now: datetime) -> Deployment:
    """Approve a deployment id the admin copied from the LMS, before (or after) its first launch."""
    registration = registration_for(session, actor, registration_id)
    return _set_deployment(session, actor, registration, id_on_platform.strip(), True, now)


def _set_deployment(session: Session, actor: Actor, registration: Registration, id_on_platform: str,
                    is_active: bool, now: datetime) -> Deployment:
    before = platform_service.find_deployment(session, registration.id, id_on_platform)
    was_active = before.is_active if before is not None else None
    deployment = platform_service.set_deployment_active(session, registration.id, id_on_platform, is_active, now)
    action = "deployment.deactivate" if not is_active else (
        "deployment.activate" if was_active is not None else "deployment.add")
    record_change(session, actor, action, f"{id_on_platform} @ {registration.issuer}", registration.id,
                  {"was_active": was_active}, now)
    return deployment


def waiting_deployment_counts(session: Session, actor: Actor) -> dict[int, int]:
    """Inactive deployments per registration, for the overview (some may be deactivated on purpose)."""
    statement = (select(Deployment.registration_id, func.count(Deployment.id))
                 .where(Deployment.is_active.is_(False)).group_by(Deployment.registration_id))
    if not actor.is_operator:
        statement = statement.where(Deployment.registration_id == actor.registration_id)
    return dict(session.execute(statement).all())


def service_health_of(session: Session, actor: Actor, registration_id: int) -> list[ServiceHealth]:
    return health_of(session, registration_for(session, actor, registration_id).id)


def unhealthy_registration_ids(session: Session, actor: Actor) -> set[int]:
    """Registrations whose last call to some service failed, for the overview."""
    statement = select(ServiceHealth.registration_id).where(ServiceHealth.consecutive_failures > 0).distinct()
    if not actor.is_operator:
        statement = statement.where(ServiceHealth.registration_id == actor.registration_id)
    return set(session.scalars(statement))


# --- the launch log -------------------------------------------------------------------------
OUTCOMES = ("all", "accepted", "rejected")


def _launches_of(registration: Registration):
    # A rejected launch is often refused before its registration is known for sure (a bad
    # signature, an expired state): those rows carry only the issuer and client_id they claimed.
    return or_(LaunchLog.registration_id == registration.id,
               and_(LaunchLog.registration_id.is_(None), LaunchLog.issuer == registration.issuer,
                    LaunchLog.client_id == registration.client_id))


def launch_log_page(session: Session, actor: Actor, *, registration_id: int | None = None, outcome: str = "all",
                    number: int = 1) -> Page[LaunchLog]:
    """Newest first; an LMS administrator always sees only their own registration's launches."""
    if not actor.is_operator:
        registration_id = actor.registration_id
    statement = select(LaunchLog).order_by(LaunchLog.at.desc(), LaunchLog.id.desc())
    if registration_id is not None:
        statement = statement.where(_launches_of(registration_for(session, actor, registration_id)))
    if outcome == "accepted":
        statement = statement.where(LaunchLog.is_accepted.is_(True))
    elif outcome == "rejected":
        statement = statement.where(LaunchLog.is_accepted.is_(False))
    return _page(session, statement, number)


def registration_names(session: Session, actor: Actor) -> dict[int, str]:
    return {r.id: r.name for r in visible_registrations(session, actor)}


# --- the tool's keys ------------------------------------------------------------------------
def key_statuses(ring: KeyRing, now: datetime) -> list[KeyStatus]:
    return list(reversed(ring.statuses(now)))  # newest first


def rotate_tool_key(session: Session, actor: Actor, ring: KeyRing, now: datetime) -> str:
    """A new signing key; the old one stays published for the grace period. Operators only."""
    _require_operator(actor)
    previous = ring.keys()[-1].kid if ring.keys() else None
    key = ring.rotate(now)
    record_change(session, actor, "keys.rotate", key.kid, None, {"previous_signing_kid": previous}, now)
    return key.kid


# --- programmes -----------------------------------------------------------------------------
@dataclass(frozen=True)
class ProgrammeSummary:
    code: str
    latest_version: int
    name_sv: str
    name_en: str
    cohorts: int


def programmes_of(session: Session, actor: Actor, registration_id: int) -> list[ProgrammeSummary]:
    registration = registration_for(session, actor, registration_id)
    cohorts = dict(session.execute(
        select(ProgrammeVersionRecord.programme_id, func.count(CohortRecord.id))
        .join(CohortRecord, CohortRecord.programme_version_id == ProgrammeVersionRecord.id)
        .where(CohortRecord.registration_id == registration.id)
        .group_by(ProgrammeVersionRecord.programme_id)).all())
    summaries = []
    for record in session.scalars(select(ProgrammeRecord).where(ProgrammeRecord.registration_id == registration.id)
                                  .order_by(ProgrammeRecord.code)):
        if not record.versions:
            continue
        latest = record.versions[-1]
        summaries.append(ProgrammeSummary(record.code, latest.version, latest.name_sv, latest.name_en,
                                          cohorts.get(record.id, 0)))
    return summaries


@dataclass(frozen=True)
class ProgrammeDetail:
    document: ProgrammeDocument
    versions: list[tuple[int, datetime]] = field(default_factory=list)
    cohort_versions: dict[str, int] = field(default_factory=dict)


def programme_detail(session: Session, actor: Actor, registration_id: int, code: str) -> ProgrammeDetail:
    registration = registration_for(session, actor, registration_id)
    try:
        document = export_document(session, registration.id, code)
    except ProgrammeNotFound as exc:
        raise AdminNotFound(str(exc)) from exc
    record = session.scalar(select(ProgrammeRecord).where(ProgrammeRecord.registration_id == registration.id,
                                                          ProgrammeRecord.code == code))
    return ProgrammeDetail(document, [(v.version, v.created_at) for v in reversed(record.versions)],
                           {c.key: c.programme.version for c in document.cohorts})


_INT_MAX = 2**31 - 1
_BIGINT_MAX = 2**63 - 1


def storage_problems(document: ProgrammeDocument) -> list[str]:
    """What the domain allows but the columns cannot hold (lengths, integer ranges), named as in the file.

    PostgreSQL refuses an over-long name or an out-of-range number at the INSERT; checked
    before saving, the administrator gets a message instead of an error page.
    """
    programme, prices = document.programme, document.programme.prices
    problems = []

    def text(field_name: str, value: str, limit: int) -> None:
        if len(value) > limit:
            problems.append(f"{field_name}: at most {limit} characters")

    def whole(field_name: str, value: int | None, limit: int = _INT_MAX) -> None:
        if value is not None and value > limit:
            problems.append(f"{field_name}: at most {limit}")

    def exact(field_name: str, value) -> None:
        if len(str(value)) > 64:
            problems.append(f"{field_name}: too many decimals")

    text("programme.code", programme.code, 100)
    text("programme.name.sv", programme.name.sv, 300)
    text("programme.name.en", programme.name.en, 300)
    whole("programme.duration_weeks", programme.duration_weeks)
    whole("programme.validity_years", programme.validity_years)
    whole("prices.full_programme_sek", prices.full_programme_ore, _BIGINT_MAX)
    whole("prices.per_module_sek", prices.per_module_ore, _BIGINT_MAX)
    exact("prices.member_discount_percent", prices.member_discount)
    exact("final_exam.pass_mark_percent", Fraction(programme.final_exam.pass_mark))
    whole("final_exam.max_attempts", programme.final_exam.max_attempts)
    for i, module in enumerate(programme.modules):
        text(f"modules[{i}].key", module.key, 100)
        text(f"modules[{i}].name.sv", module.name.sv, 300)
        text(f"modules[{i}].name.en", module.name.en, 300)
        exact(f"modules[{i}].pass_mark_percent", Fraction(module.pass_mark))
    for kind, items in (("funders", document.funders), ("regions", document.regions),
                        ("cohorts", document.cohorts)):
        for i, item in enumerate(items):
            text(f"{kind}[{i}].key", item.key, 100)
            text(f"{kind}[{i}].name", item.name, 300)
    return problems


def save_programme(session: Session, actor: Actor, registration_id: int, document: ProgrammeDocument,
                   now: datetime, *, based_on_version: int | None = None, source: str = "form") -> ImportOutcome:
    """Save an edited or uploaded programme through the same import as the CLI (a new version only if changed).

    With `based_on_version` (an edit form) nothing is saved when another version was saved
    since the form was opened, so one administrator never silently undoes another's edit.
    """
    registration = registration_for(session, actor, registration_id)
    problems = storage_problems(document)
    if problems:
        raise InvalidProgrammeFile(problems)
    if based_on_version is not None:
        latest = session.scalar(select(func.max(ProgrammeVersionRecord.version)).join(ProgrammeRecord)
                                .where(ProgrammeRecord.registration_id == registration.id,
                                       ProgrammeRecord.code == document.programme.code))
        if latest is None:
            raise AdminNotFound(f"no programme {document.programme.code!r}")
        if latest != based_on_version:
            raise ProgrammeChangedMeanwhile(latest)
    outcome = import_programme(session, registration.id, document, now)
    if outcome.is_new_version or outcome.cohorts_added or source == "file":
        record_change(session, actor, "programme.import" if source == "file" else "programme.edit", outcome.code,
                      registration.id, {"version": outcome.version, "is_new_version": outcome.is_new_version,
                                        "cohorts_added": list(outcome.cohorts_added)}, now)
    return outcome
