"""Recording launches: the tenant tree, the user's roles, the launch log and the launch session."""
from __future__ import annotations

import json
import logging
import secrets
from dataclasses import dataclass, field
from datetime import datetime
from typing import Callable, NamedTuple

from sqlalchemy import Connection, and_, bindparam, exists, insert, select, update
from sqlalchemy.orm import Session

from ..db.course_sync import CourseLinkRecord
from ..db.tenancy import Context, Deployment, LaunchLog, LmsUser, Membership, Registration, ResourceLink
from ..db.prepared import Prepared
from ..db.upsert import upsert
from ..lti.errors import LaunchRejected
from ..lti.launch import AGS_CLAIM, CLAIM, DL_CLAIM, NRPS_CLAIM, LaunchNames, ValidatedLaunch
from ..lti.platforms import PlatformRegistration
from ..lti.origins import launch_origins
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
    # The LMS's origins, allowed to frame the pages of this launch (CSP frame-ancestors).
    frame_origins: list[str] = field(default_factory=list)

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
    is_course_linked: bool = False  # the launch's course serves a cohort (read with the rest, for after_launch)

    @property
    def is_waiting_for_admin(self) -> bool:
        return self.session is None


class KnownRows(NamedTuple):
    """What the tool already knows of the rows a launch names (None: not known yet)."""

    deployment_id: int | None
    deployment_is_active: bool | None
    user_id: int | None
    user_name: str | None
    user_given_name: str | None
    user_family_name: str | None
    user_email: str | None
    context_id: int | None
    context_title: str | None
    context_label: str | None
    resource_link_id: int | None
    resource_link_title: str | None
    membership_id: int | None
    membership_roles: list | None
    course_link_id: int | None


# A launch's registration (the first columns) with the KnownRows of its deployment, user, course,
# link and membership, in one read (before the signature check: see LaunchLookup); an unchanged
# relaunch (the usual one) then writes none of those rows.
_FACTS = Prepared(
    select(Registration.id, Registration.issuer, Registration.client_id, Registration.auth_login_url,
           Registration.auth_token_url, Registration.key_set_url, Registration.auth_audience, Registration.is_active,
           Deployment.id, Deployment.is_active,
           LmsUser.id, LmsUser.name, LmsUser.given_name, LmsUser.family_name, LmsUser.email,
           Context.id, Context.title, Context.label, ResourceLink.id, ResourceLink.title,
           Membership.id, Membership.roles, CourseLinkRecord.id)
    .select_from(Registration)
    .outerjoin(Deployment, and_(Deployment.registration_id == Registration.id,
                                Deployment.id_on_platform == bindparam("deployment")))
    .outerjoin(LmsUser, and_(LmsUser.registration_id == Registration.id,
                             LmsUser.id_on_platform == bindparam("sub")))
    .outerjoin(Context, and_(Context.deployment_id == Deployment.id,
                             Context.id_on_platform == bindparam("context")))
    .outerjoin(ResourceLink, and_(ResourceLink.context_id == Context.id,
                                  ResourceLink.id_on_platform == bindparam("resource_link")))
    .outerjoin(Membership, and_(Membership.context_id == Context.id, Membership.lms_user_id == LmsUser.id))
    .outerjoin(CourseLinkRecord, CourseLinkRecord.context_id == Context.id)
    .where(Registration.id == bindparam("registration_id"))
)
_REGISTRATION_COLUMNS = 8
_NOTHING_KNOWN = KnownRows(*(None,) * len(KnownRows._fields))


def _read_facts(connection: Connection, registration_id: int, names: LaunchNames) -> tuple | None:
    return _FACTS.execute(connection, {"registration_id": registration_id, "deployment": names.deployment_id,
                                       "sub": names.sub, "context": names.context_id,
                                       "resource_link": names.resource_link_id}).first()


class LaunchLookup:
    """The LaunchLookup of the LTI layer: a launch's registration and what is known of what it names."""

    def __init__(self, connection: Callable[[], Connection]):
        self._connection = connection

    def registration_for_launch(self, registration_id: int,
                                names: LaunchNames) -> tuple[PlatformRegistration | None, tuple | None]:
        row = _read_facts(self._connection(), registration_id, names)
        if row is None:
            return None, None
        return PlatformRegistration(*row[:_REGISTRATION_COLUMNS]), (names, KnownRows(*row[_REGISTRATION_COLUMNS:]))


_LOG = Prepared(insert(LaunchLog.__table__).values({name: bindparam(name) for name in (
    "at", "is_accepted", "reason_code", "reason_detail", "issuer", "client_id", "deployment_id_on_platform", "sub",
    "message_type", "registration_id", "deployment_id", "context_id", "lms_user_id")}))
# Spends a Dynamic Registration's pre-approval, good only while the registration has no deployment
# at all; of two first launches racing, only one wins it.
_TAKE_PREAPPROVAL = (update(Registration.__table__)
                     .where(Registration.id == bindparam("registration_id"),
                            Registration.is_first_deployment_preapproved.is_(True),
                            ~exists().where(Deployment.registration_id == Registration.id))
                     .values(is_first_deployment_preapproved=False))


def record_launch(connection: Connection, store, launch: ValidatedLaunch, now: datetime,
                  request_origin: str | None = None) -> LaunchOutcome:
    """Remember who launched from where, with which roles (every launch runs this).

    One read of what is already known, a write only for what is new or changed (a relaunch
    usually writes none of the user, course, link and membership rows), then the launch log
    entry and the launch session. On the request's connection: no ORM session on this path.

    `request_origin` is the launch POST's `Origin` header: the LMS's page that posted it.
    """
    registration = launch.registration
    context = launch.context
    names = launch.names
    if launch.known is not None and launch.known[0] == names:
        known = launch.known[1]
    else:  # a launch validated without the lookup's reading, or whose identifiers it could not read
        row = _read_facts(connection, registration.id, names)
        known = KnownRows(*row[_REGISTRATION_COLUMNS:]) if row is not None else _NOTHING_KNOWN
    if known.deployment_id is None:
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
        # The user may be known already; the course rows hang off the deployment, so none of them is.
        known = known._replace(deployment_id=deployment_id, deployment_is_active=is_active)
    else:
        deployment_id, is_active = known.deployment_id, known.deployment_is_active
    user = {"name": launch.name, "given_name": launch.given_name, "family_name": launch.family_name,
            "email": launch.email}
    user_id = known.user_id
    # Privacy settings may withhold names; never overwrite what we know with nothing.
    stored_user = (known.user_name, known.user_given_name, known.user_family_name, known.user_email)
    if user_id is None or _differs(stored_user, user.values()):
        user_id = upsert(connection, LmsUser.__table__, {
            "registration_id": registration.id, "id_on_platform": launch.sub, **user, "updated_at": now},
            conflict=("registration_id", "id_on_platform"), keep_when_missing=tuple(user))
    context_id = None
    if is_active and context is not None:
        context_id = _record_context(connection, deployment_id, user_id, launch, known, now)
    _LOG.execute(connection, {
        "at": now, "is_accepted": is_active, "reason_code": None if is_active else "deployment_inactive",
        "reason_detail": None, "issuer": registration.issuer, "client_id": registration.client_id,
        "deployment_id_on_platform": launch.deployment_id, "sub": launch.sub, "message_type": launch.message_type,
        "registration_id": registration.id, "deployment_id": deployment_id, "context_id": context_id,
        "lms_user_id": user_id})
    if not is_active:
        return LaunchOutcome(None, deployment_id)
    is_course_linked = context_id is not None and known.course_link_id is not None

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
        frame_origins=list(launch_origins(registration.issuer, registration.auth_login_url, launch.claims,
                                          request_origin)),
    )
    store.add(SESSION_KEY + launch_session.launch_id, launch_session.to_json(), SESSION_SECONDS)
    log.info("launch accepted: %s sub=%s deployment=%s context=%s as %s", registration.issuer, launch.sub,
             launch.deployment_id, launch.context.id_on_platform if launch.context else None, audience)
    return LaunchOutcome(launch_session, deployment_id, is_course_linked)


def _record_context(connection, deployment_id: int, user_id: int, launch: ValidatedLaunch, known: KnownRows,
                    now: datetime) -> int:
    """The course, its link and the user's roles in it; each row written only when new or changed."""
    context = launch.context
    context_id = known.context_id
    if context_id is None or _differs((known.context_title, known.context_label), (context.title, context.label)):
        context_id = upsert(connection, Context.__table__, {
            "deployment_id": deployment_id, "id_on_platform": context.id_on_platform,
            "title": context.title, "label": context.label, "updated_at": now},
            conflict=("deployment_id", "id_on_platform"), keep_when_missing=("title", "label"))
    if launch.resource_link_id and (known.resource_link_id is None
                                    or _differs((known.resource_link_title,), (launch.resource_link_title,))):
        upsert(connection, ResourceLink.__table__, {
            "context_id": context_id, "id_on_platform": launch.resource_link_id,
            "title": launch.resource_link_title, "updated_at": now},
            conflict=("context_id", "id_on_platform"), keep_when_missing=("title",))
    roles = list(launch.roles)
    if known.membership_id is None or known.membership_roles != roles:
        upsert(connection, Membership.__table__, {
            "context_id": context_id, "lms_user_id": user_id, "roles": roles, "updated_at": now},
            conflict=("context_id", "lms_user_id"))
    return context_id


def _differs(stored, new) -> bool:
    """Whether writing `new` (None: "not sent", which keeps the stored value) would change `stored`."""
    return any(value is not None and value != old for old, value in zip(stored, new))


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
