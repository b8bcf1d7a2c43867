"""Recording launches: the tenant tree, the user's roles, the launch log and the launch session."""
from __future__ import annotations

import json
import logging
import secrets
from dataclasses import asdict, dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..db.tenancy import Context, Deployment, LaunchLog, LmsUser, Membership, ResourceLink
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
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, raw: str) -> "LaunchSession":
        return cls(**json.loads(raw))


@dataclass(frozen=True)
class LaunchOutcome:
    session: LaunchSession | None
    deployment: Deployment

    @property
    def is_waiting_for_admin(self) -> bool:
        return self.session is None


def record_launch(session: Session, store, launch: ValidatedLaunch, now: datetime) -> LaunchOutcome:
    registration = launch.registration
    deployment = session.scalar(select(Deployment).where(Deployment.registration_id == registration.id,
                                                         Deployment.id_on_platform == launch.deployment_id))
    if deployment is None:
        # A known platform installed the tool somewhere new: an administrator approves it first.
        deployment = Deployment(registration_id=registration.id, id_on_platform=launch.deployment_id,
                                is_active=False, created_at=now)
        session.add(deployment)
        session.flush()
        log.warning("new deployment %s of %s (%s) waits for approval", launch.deployment_id,
                    registration.issuer, registration.client_id)
    user = _upsert_user(session, registration.id, launch, now)
    entry = LaunchLog(at=now, is_accepted=deployment.is_active,
                      reason_code=None if deployment.is_active else "deployment_inactive",
                      issuer=registration.issuer, client_id=registration.client_id,
                      deployment_id_on_platform=launch.deployment_id, sub=launch.sub,
                      message_type=launch.message_type, registration_id=registration.id,
                      deployment_id=deployment.id, lms_user_id=user.id)
    session.add(entry)
    if not deployment.is_active:
        session.flush()
        return LaunchOutcome(None, deployment)

    context = _upsert_context(session, deployment.id, launch, now)
    if context is not None:
        entry.context_id = context.id
        _upsert_membership(session, context.id, user.id, list(launch.roles), now)
    session.flush()
    audience = primary_audience(launch.roles)
    launch_session = LaunchSession(
        launch_id=secrets.token_urlsafe(24), registration_id=registration.id, deployment_id=deployment.id,
        context_id=context.id if context else None, lms_user_id=user.id,
        audience=audience.value if audience else None, roles=list(launch.roles),
        message_type=launch.message_type, name=launch.name, email=launch.email, locale=launch.locale,
        context_title=launch.context.title if launch.context else None,
        context_label=launch.context.label if launch.context else None,
        resource_link_id=launch.resource_link_id, platform_issuer=registration.issuer,
        services={key: launch.claims[claim] for key, claim in (
            ("ags", AGS_CLAIM), ("nrps", NRPS_CLAIM), ("deep_linking", DL_CLAIM + "deep_linking_settings"),
            ("custom", CLAIM + "custom")) if claim in launch.claims},
    )
    store.put(SESSION_KEY + launch_session.launch_id, launch_session.to_json(), SESSION_SECONDS)
    log.info("launch accepted: %s sub=%s deployment=%s context=%s as %s", registration.issuer, launch.sub,
             launch.deployment_id, launch.context.id_on_platform if launch.context else None, audience)
    return LaunchOutcome(launch_session, deployment)


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


def _upsert_user(session: Session, registration_id: int, launch: ValidatedLaunch, now: datetime) -> LmsUser:
    user = session.scalar(select(LmsUser).where(LmsUser.registration_id == registration_id,
                                                LmsUser.id_on_platform == launch.sub))
    if user is None:
        user = LmsUser(registration_id=registration_id, id_on_platform=launch.sub)
        session.add(user)
    # Privacy settings may withhold names; never overwrite what we know with nothing.
    for attribute in ("name", "given_name", "family_name", "email"):
        value = getattr(launch, attribute)
        if value:
            setattr(user, attribute, value)
    user.updated_at = now
    session.flush()
    return user


def _upsert_context(session: Session, deployment_id: int, launch: ValidatedLaunch, now: datetime) -> Context | None:
    if launch.context is None:
        return None
    context = session.scalar(select(Context).where(Context.deployment_id == deployment_id,
                                                   Context.id_on_platform == launch.context.id_on_platform))
    if context is None:
        context = Context(deployment_id=deployment_id, id_on_platform=launch.context.id_on_platform)
        session.add(context)
    context.title = launch.context.title or context.title
    context.label = launch.context.label or context.label
    context.updated_at = now
    session.flush()
    if launch.resource_link_id:
        link = session.scalar(select(ResourceLink).where(ResourceLink.context_id == context.id,
                                                         ResourceLink.id_on_platform == launch.resource_link_id))
        if link is None:
            link = ResourceLink(context_id=context.id, id_on_platform=launch.resource_link_id)
            session.add(link)
        link.title = launch.resource_link_title or link.title
        link.updated_at = now
    return context


def _upsert_membership(session: Session, context_id: int, user_id: int, roles: list[str], now: datetime) -> None:
    membership = session.scalar(select(Membership).where(Membership.context_id == context_id,
                                                         Membership.lms_user_id == user_id))
    if membership is None:
        membership = Membership(context_id=context_id, lms_user_id=user_id)
        session.add(membership)
    membership.roles = roles
    membership.updated_at = now
