"""Recording launches: the tenant tree, the user's roles, the launch log and the launch session."""
from __future__ import annotations

import json
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, exists, insert, select, update
from sqlalchemy.orm import Session

from ..db.tenancy import Context, Deployment, LaunchLog, LmsUser, Membership, Registration, ResourceLink
from ..db.upsert import upsert
from ..lti.errors import LaunchRejected
from ..lti.launch import AGS_CLAIM, CLAIM, DL_CLAIM, NRPS_CLAIM, ValidatedLaunch
from ..lti.roles import primary_audience

log = logging.getLogger(__name__)
SESSION_KEY = "launch:"
SESSION_SECONDS = 8 * 3600


@dataclass(frozen=True)
class LaunchSession:
    """What a page needs to know about the launch that opened it; stored shared, addressed by id."""

    launch_id: str
    registration_id: int
    deployment_id: int
    context_id: int | None
    lms_user_id: int
    audience: str | None
    roles: list[str]
    message_type: str
    name: str | None
    email: str | None
    locale: str | None
    context_title: str | None
    context_label: str | None
    resource_link_id: str | None
    platform_issuer: str
    services: dict

    def to_json(self) -> str:
        # vars(), not asdict(): asdict deep-copies the claims, on every launch.
        return json.dumps(vars(self))

    @classmethod
    def from_json(cls, raw: str) -> "LaunchSession":
        return cls(**json.loads(raw))


@dataclass(frozen=True)
class LaunchOutcome:
    session: LaunchSession | None
    deployment_id: int

    @property
    def is_waiting_for_admin(self) -> bool:
        return self.session is None


_DEPLOYMENT = select(Deployment.id, Deployment.is_active).where(
    Deployment.registration_id == bindparam("registration_id"), Deployment.id_on_platform == bindparam("id_on_platform"))


_LOG = insert(LaunchLog.__table__)
# Spends a Dynamic Registration's pre-approval, good only while the registration has no deployment
# at all; of two first launches racing, only one wins it.
_TAKE_PREAPPROVAL = (update(Registration.__table__)
                     .where(Registration.id == bindparam("registration_id"),
                            Registration.is_first_deployment_preapproved.is_(True),
                            ~exists().where(Deployment.registration_id == Registration.id))
                     .values(is_first_deployment_preapproved=False))


def record_launch(session: Session, store, launch: ValidatedLaunch, now: datetime) -> LaunchOutcome:
    """Remember who launched from where, with which roles; one statement per fact (every launch runs this)."""
    registration = launch.registration
    connection = session.connection()
    found = connection.execute(_DEPLOYMENT, {"registration_id": registration.id,
                                             "id_on_platform": launch.deployment_id}).first()
    if found is None:
        # A known platform installed the tool somewhere new: an administrator approves it first,
        # unless it is the first one after a Dynamic Registration that named none (Canvas): the
        # administrator who registered the tool has just installed it.
        is_active = connection.execute(_TAKE_PREAPPROVAL, {"registration_id": registration.id}).rowcount == 1
        deployment_id = upsert(connection, Deployment.__table__, {
            "registration_id": registration.id, "id_on_platform": launch.deployment_id, "is_active": is_active,
            "created_at": now}, conflict=("registration_id", "id_on_platform"))
        if is_active:
            log.info("first deployment %s of %s (%s) approved: it follows a Dynamic Registration",
                     launch.deployment_id, registration.issuer, registration.client_id)
        else:
            log.warning("new deployment %s of %s (%s) waits for approval", launch.deployment_id,
                        registration.issuer, registration.client_id)
    else:
        deployment_id, is_active = found
    user_id = upsert(connection, LmsUser.__table__, {
        "registration_id": registration.id, "id_on_platform": launch.sub, "name": launch.name,
        "given_name": launch.given_name, "family_name": launch.family_name, "email": launch.email,
        "updated_at": now}, conflict=("registration_id", "id_on_platform"),
        # Privacy settings may withhold names; never overwrite what we know with nothing.
        keep_when_missing=("name", "given_name", "family_name", "email"))
    context_id = None
    if is_active and launch.context is not None:
        context_id = _record_context(connection, deployment_id, user_id, launch, now)
    connection.execute(_LOG, {
        "at": now, "is_accepted": is_active, "reason_code": None if is_active else "deployment_inactive",
        "reason_detail": None, "issuer": registration.issuer, "client_id": registration.client_id,
        "deployment_id_on_platform": launch.deployment_id, "sub": launch.sub, "message_type": launch.message_type,
        "registration_id": registration.id, "deployment_id": deployment_id, "context_id": context_id,
        "lms_user_id": user_id})
    if not is_active:
        return LaunchOutcome(None, deployment_id)

    audience = primary_audience(launch.roles)
    launch_session = LaunchSession(
        launch_id=secrets.token_urlsafe(24), registration_id=registration.id, deployment_id=deployment_id,
        context_id=context_id, lms_user_id=user_id,
        audience=audience.value if audience else None, roles=list(launch.roles),
        message_type=launch.message_type, name=launch.name, email=launch.email, locale=launch.locale,
        context_title=launch.context.title if launch.context else None,
        context_label=launch.context.label if launch.context else None,
        resource_link_id=launch.resource_link_id, platform_issuer=registration.issuer,
        services={key: launch.claims[claim] for key, claim in (
            ("ags", AGS_CLAIM), ("nrps", NRPS_CLAIM), ("deep_linking", DL_CLAIM + "deep_linking_settings"),
            ("custom", CLAIM + "custom"), ("tool_platform", CLAIM + "tool_platform")) if claim in launch.claims},
    )
    store.add(SESSION_KEY + launch_session.launch_id, launch_session.to_json(), SESSION_SECONDS)
    log.info("launch accepted: %s sub=%s deployment=%s context=%s as %s", registration.issuer, launch.sub,
             launch.deployment_id, launch.context.id_on_platform if launch.context else None, audience)
    return LaunchOutcome(launch_session, deployment_id)


def _record_context(connection, deployment_id: int, user_id: int, launch: ValidatedLaunch, now: datetime) -> int:
    context_id = upsert(connection, Context.__table__, {
        "deployment_id": deployment_id, "id_on_platform": launch.context.id_on_platform,
        "title": launch.context.title, "label": launch.context.label, "updated_at": now},
        conflict=("deployment_id", "id_on_platform"), keep_when_missing=("title", "label"))
    if launch.resource_link_id:
        upsert(connection, ResourceLink.__table__, {
            "context_id": context_id, "id_on_platform": launch.resource_link_id,
            "title": launch.resource_link_title, "updated_at": now},
            conflict=("context_id", "id_on_platform"), keep_when_missing=("title",))
    upsert(connection, Membership.__table__, {
        "context_id": context_id, "lms_user_id": user_id, "roles": list(launch.roles), "updated_at": now},
        conflict=("context_id", "lms_user_id"))
    return context_id


def record_rejection(session: Session, error: LaunchRejected, now: datetime) -> None:
    claims = error.claims
    aud = claims.get("aud")
    session.add(LaunchLog(
        at=now, is_accepted=False, reason_code=error.reason.value, reason_detail=error.detail[:2000],
        issuer=_text(claims.get("iss")), client_id=_text(aud[0] if isinstance(aud, list) and aud else aud),
        deployment_id_on_platform=_text(claims.get(CLAIM + "deployment_id")), sub=_text(claims.get("sub")),
        message_type=_text(claims.get(CLAIM + "message_type")),
    ))
    session.flush()
    log.warning("launch rejected (%s): %s", error.reason.value, error.detail)


def load_launch_session(store, launch_id: str) -> LaunchSession | None:
    raw = store.get(SESSION_KEY + launch_id) if launch_id else None
    return LaunchSession.from_json(raw) if raw else None


def _text(value) -> str | None:
    return value[:255] if isinstance(value, str) else None
