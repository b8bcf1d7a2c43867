"""Registering platforms and approving their deployments."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlparse

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..db.tenancy import Deployment, Registration

log = logging.getLogger(__name__)


class PlatformError(ValueError):
    """A platform command cannot be carried out; the message says why in one line."""


@dataclass(frozen=True)
class NewPlatform:
    issuer: str
    client_id: str
    auth_login_url: str
    auth_token_url: str
    key_set_url: str
    deployment_ids: tuple[str, ...] = ()
    name: str | None = None
    auth_audience: str | None = None


def _require_url(field: str, value: str) -> None:
    parsed = urlparse(value or "")
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise PlatformError(f"{field} must be an http(s) URL, got {value!r}")


def add_platform(session: Session, new: NewPlatform, now: datetime) -> Registration:
    for field in ("issuer", "auth_login_url", "auth_token_url", "key_set_url"):
        _require_url(field, getattr(new, field))
    if new.auth_audience:
        _require_url("auth_audience", new.auth_audience)
    if not new.client_id.strip():
        raise PlatformError("client_id must not be empty")
    if session.scalar(select(Registration.id).where(Registration.issuer == new.issuer,
                                                     Registration.client_id == new.client_id)):
        raise PlatformError(f"a registration for {new.issuer} with client_id {new.client_id} exists already")
    registration = Registration(
        name=new.name or urlparse(new.issuer).netloc, issuer=new.issuer, client_id=new.client_id,
        auth_login_url=new.auth_login_url, auth_token_url=new.auth_token_url, key_set_url=new.key_set_url,
        auth_audience=new.auth_audience, is_active=True, created_at=now,
    )
    for deployment_id in dict.fromkeys(new.deployment_ids):
        registration.deployments.append(Deployment(id_on_platform=deployment_id, is_active=True, created_at=now))
    session.add(registration)
    session.flush()
    log.info("registered platform %s client_id=%s (id %s)", new.issuer, new.client_id, registration.id)
    return registration


def get_registration(session: Session, registration_id: int) -> Registration:
    registration = session.get(Registration, registration_id)
    if registration is None:
        raise PlatformError(f"no registration with id {registration_id}")
    return registration


def list_registrations(session: Session) -> list[Registration]:
    return list(session.scalars(select(Registration).order_by(Registration.id)))


def set_registration_active(session: Session, registration_id: int, is_active: bool) -> Registration:
    registration = get_registration(session, registration_id)
    registration.is_active = is_active
    session.flush()
    log.info("registration %s %s", registration_id, "activated" if is_active else "deactivated")
    return registration


def remove_registration(session: Session, registration_id: int) -> None:
    session.delete(get_registration(session, registration_id))
    session.flush()
    log.info("registration %s removed", registration_id)


def find_deployment(session: Session, registration_id: int, id_on_platform: str) -> Deployment | None:
    return session.scalar(select(Deployment).where(Deployment.registration_id == registration_id,
                                                   Deployment.id_on_platform == id_on_platform))


def set_deployment_active(session: Session, registration_id: int, id_on_platform: str, is_active: bool,
                          now: datetime) -> Deployment:
    """Approve (or block) a deployment; approving one the tool has not seen yet creates it."""
    get_registration(session, registration_id)
    deployment = find_deployment(session, registration_id, id_on_platform)
    if deployment is None:
        deployment = Deployment(registration_id=registration_id, id_on_platform=id_on_platform, created_at=now)
        session.add(deployment)
    deployment.is_active = is_active
    session.flush()
    log.info("deployment %s of registration %s %s", id_on_platform, registration_id,
             "activated" if is_active else "deactivated")
    return deployment
