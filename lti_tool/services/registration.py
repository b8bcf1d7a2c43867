"""Registering an LMS: through LTI Dynamic Registration, or by hand with values checked before saving.

Dynamic Registration takes two requests. The first (the LMS administrator opens the tool's
registration URL from the LMS) fetches and checks the platform's configuration and keeps it,
with the registration token, as a *pending registration* in the shared store; the second (the
administrator confirms) takes that pending registration exactly once
(`take_pending_registration`), then registers the tool with the platform and saves the
registration (`complete_dynamic_registration`). The pending registration is kept under a digest of
the registration token, so taking it also spends the token: a second use, from this or any
other browser, finds the "used" marker.

Nothing is saved in the database unless the platform has accepted the registration.
"""
from __future__ import annotations

import hashlib
import json
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Callable
from urllib.parse import urlsplit

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..db.shared_state import USED
from ..db.tenancy import Registration
from ..lti.dynamic_registration import (
    PlatformConfiguration, RegistrationError, RegistrationFailure as F, check_url, parse_platform_configuration,
    parse_registration_response, registration_request, requested_scopes, token_expires_at,
)
from ..lti.errors import LaunchRejected
from ..lti.platform_keys import parse_jwks
from ..lti.safe_fetch import Fetched, FetchFailure, FetchRefused, SafeFetcher
from ..lti.tool_description import Feature, ToolDescription, unavailable_features
from .admin import Actor, record_change
from .platforms import NewPlatform, PlatformError, add_platform

log = logging.getLogger(__name__)

PENDING_PREFIX = "dynamic-registration:"
# Moodle's and Canvas's registration tokens live an hour; the confirmation page no longer.
PENDING_SECONDS = 3600
# A spent token stays recognisable far beyond its own life.
USED_MARKER_SECONDS = 7 * 24 * 3600
VIA_CLI, VIA_FORM, VIA_DYNAMIC_REGISTRATION = "cli", "form", "dynamic_registration"
FAMILY_NAMES = {"moodle": "Moodle", "canvas": "Canvas", "desire2learn": "Brightspace", "sakai": "Sakai",
                "blackboard": "Blackboard"}


# --- the platform's keys: fetchable and usable, for both ways of registering -----------------
class PlatformKeysInvalid(ValueError):
    """The keyset answered, but holds no RSA signing key with a kid."""


def check_platform_keys(fetcher: SafeFetcher, key_set_url: str) -> int:
    """How many usable keys the platform publishes; FetchRefused or PlatformKeysInvalid otherwise."""
    fetched = fetcher.get(key_set_url, headers={"Accept": "application/json"})
    if not fetched.is_ok:
        raise FetchRefused(FetchFailure.UNREACHABLE, f"{key_set_url} answered HTTP {fetched.status}")
    try:
        keys = parse_jwks(fetched.json())
    except LaunchRejected as exc:
        raise PlatformKeysInvalid(exc.detail) from exc
    if not keys:
        raise PlatformKeysInvalid(f"{key_set_url} publishes no RSA signing key with a kid")
    return len(keys)


# --- Dynamic Registration ---------------------------------------------------------------------
@dataclass(frozen=True)
class PendingRegistration:
    """A checked platform configuration waiting for the administrator's confirmation."""

    key: str
    configuration: PlatformConfiguration
    registration_token: str | None
    suggested_name: str

    @property
    def requested_scopes(self) -> tuple[str, ...]:
        return requested_scopes(self.configuration)

    @property
    def features_not_offered(self) -> tuple[Feature, ...]:
        return unavailable_features(self.requested_scopes)

    def to_json(self) -> str:
        return json.dumps({"configuration": self.configuration.to_dict(), "token": self.registration_token,
                           "name": self.suggested_name})

    @classmethod
    def from_json(cls, key: str, raw: str) -> "PendingRegistration":
        data = json.loads(raw)
        return cls(key, PlatformConfiguration.from_dict(data["configuration"]), data["token"], data["name"])


@dataclass(frozen=True)
class CompletedRegistration:
    registration_id: int
    name: str
    issuer: str
    client_id: str
    deployment_id: str | None
    product_family_code: str | None
    requested_scopes: tuple[str, ...]
    granted_scopes: tuple[str, ...]
    unavailable_features: tuple[Feature, ...]
    is_first_deployment_preapproved: bool

    @property
    def is_pending_in_lms(self) -> bool:
        # Moodle adds a dynamically registered tool as "pending" until its administrator activates it.
        return self.product_family_code == "moodle"


def pending_key(registration_token: str | None) -> str:
    if not registration_token:
        return secrets.token_hex(32)  # nothing to spend: every visit is its own pending registration
    return hashlib.sha256(registration_token.encode()).hexdigest()


def suggested_name(configuration: PlatformConfiguration) -> str:
    family = FAMILY_NAMES.get(configuration.product_family_code or "", configuration.product_family_code or "LMS")
    where = configuration.account_name or urlsplit(configuration.issuer).netloc
    return f"{family}, {where}"[:200]


_FETCH_FAILURES = {
    FetchFailure.URL_INVALID: F.CONFIGURATION_MALFORMED,
    FetchFailure.HTTPS_REQUIRED: F.HTTPS_REQUIRED,
    FetchFailure.ADDRESS_NOT_ALLOWED: F.ADDRESS_NOT_ALLOWED,
    FetchFailure.UNREACHABLE: F.PLATFORM_UNREACHABLE,
    FetchFailure.REDIRECT: F.PLATFORM_UNREACHABLE,
    FetchFailure.TOO_LARGE: F.CONFIGURATION_MALFORMED,
    FetchFailure.NOT_JSON: F.CONFIGURATION_MALFORMED,
}


def _fetch(call: Callable[..., Fetched], *args: Any, **kwargs: Any) -> Fetched:
    try:
        return call(*args, **kwargs)
    except FetchRefused as refused:
        raise RegistrationError(_FETCH_FAILURES[refused.reason], refused.detail) from refused


def _json(fetched: Fetched, malformed: F) -> Any:
    try:
        return fetched.json()
    except FetchRefused as refused:
        raise RegistrationError(malformed, refused.detail) from refused


def _headers(registration_token: str | None) -> dict[str, str]:
    headers = {"Accept": "application/json"}
    if registration_token:
        headers["Authorization"] = "Bearer " + registration_token
    return headers


def _refused_token(fetched: Fetched) -> RegistrationError | None:
    if fetched.status in (401, 403):
        return RegistrationError(F.TOKEN_REFUSED, f"{fetched.url} refused the registration token "
                                                  f"(HTTP {fetched.status}): {fetched.text()}")
    return None


def begin_dynamic_registration(session: Session, store, fetcher: SafeFetcher, configuration_url: str,
                               registration_token: str | None, now: datetime, leeway_seconds: int = 0
                               ) -> PendingRegistration:
    """Fetch and check the platform's configuration and keys; keep it as a pending registration."""
    if not configuration_url:
        raise RegistrationError(F.CONFIGURATION_URL_MISSING, "the request has no openid_configuration")
    check_url("openid_configuration", configuration_url, require_https=fetcher.policy.require_https,
              failure=F.CONFIGURATION_URL_INVALID)
    token = registration_token or None
    key = pending_key(token)
    if token:
        existing = _pending_or_none(store, key, configuration_url)
        if existing is not None:
            return existing  # the administrator reloaded the page
        expires_at = token_expires_at(token)
        if expires_at is not None and expires_at + timedelta(seconds=leeway_seconds) < now:
            raise RegistrationError(F.TOKEN_EXPIRED, f"the registration token expired at {expires_at.isoformat()}")

    fetched = _fetch(fetcher.get, configuration_url, headers=_headers(token))
    refused = _refused_token(fetched)
    if refused:
        raise refused
    if not fetched.is_ok:
        raise RegistrationError(F.PLATFORM_UNREACHABLE, f"{configuration_url} answered HTTP {fetched.status}")
    configuration = parse_platform_configuration(configuration_url, _json(fetched, F.CONFIGURATION_MALFORMED),
                                                 require_https=fetcher.policy.require_https)
    try:
        # The tool will send client assertions to the token endpoint: the same address rules apply.
        fetcher.check(configuration.token_endpoint)
        check_platform_keys(fetcher, configuration.jwks_uri)
    except FetchRefused as refused:
        raise RegistrationError(_FETCH_FAILURES[refused.reason], refused.detail) from refused
    except PlatformKeysInvalid as invalid:
        raise RegistrationError(F.PLATFORM_KEYS_INVALID, str(invalid)) from invalid
    log.info("dynamic registration started by %s (%s)", configuration.issuer, configuration.product_family_code)
    return _remember(session, store, PendingRegistration(key, configuration, token, suggested_name(configuration)))


def _pending_or_none(store, key: str, configuration_url: str) -> PendingRegistration | None:
    raw = store.get(PENDING_PREFIX + key)
    if raw is None:
        return None
    if raw == USED:
        raise RegistrationError(F.TOKEN_USED, "this registration token has been used already")
    pending = PendingRegistration.from_json(key, raw)
    if pending.configuration.configuration_url != configuration_url:
        raise RegistrationError(F.TOKEN_USED, "this registration token is in use for another configuration")
    return pending


def _remember(session: Session, store, pending: PendingRegistration) -> PendingRegistration:
    """Store the pending registration unless a concurrent request (same token) did; theirs wins."""
    key = PENDING_PREFIX + pending.key
    for write in (store.add, store.put):  # put replaces an expired row the database still holds
        existing = _pending_or_none(store, pending.key, pending.configuration.configuration_url)
        if existing is not None:
            return existing
        try:
            with session.begin_nested():
                write(key, pending.to_json(), PENDING_SECONDS)
            return pending
        except IntegrityError:
            continue
    existing = _pending_or_none(store, pending.key, pending.configuration.configuration_url)
    if existing is None:
        raise RegistrationError(F.PENDING_EXPIRED, "the pending registration could not be stored")
    return existing


def find_pending_registration(store, key: str) -> PendingRegistration | None:
    """The pending registration a confirmation form names, without taking it (None when gone or used)."""
    raw = store.get(PENDING_PREFIX + key) if key else None
    return None if raw is None or raw == USED else PendingRegistration.from_json(key, raw)


def is_pending_key_known(store, key: str) -> bool:
    """Whether `key` names a pending registration this tool issued, waiting or already used."""
    return bool(key) and len(key) == 64 and store.get(PENDING_PREFIX + key) is not None


def take_pending_registration(store, key: str) -> PendingRegistration:
    """Spend the pending registration (and so its token): exactly one of any concurrent takers gets it."""
    raw = store.take(PENDING_PREFIX + key, USED_MARKER_SECONDS) if key else None
    if raw == USED:
        raise RegistrationError(F.TOKEN_USED, "this registration has been confirmed already")
    if raw is None:
        raise RegistrationError(F.PENDING_EXPIRED, "no pending registration (it expired, or never existed)")
    return PendingRegistration.from_json(key, raw)


def complete_dynamic_registration(session: Session, fetcher: SafeFetcher, tool: ToolDescription,
                                  pending: PendingRegistration, name: str | None, now: datetime
                                  ) -> CompletedRegistration:
    """Register the tool with the platform (a taken pending registration), save what it answered."""
    configuration = pending.configuration
    requested = pending.requested_scopes

    fetched = _fetch(fetcher.post_json, configuration.registration_endpoint,
                     registration_request(tool, configuration), headers=_headers(pending.registration_token))
    refused = _refused_token(fetched)
    if refused:
        raise refused
    if 400 <= fetched.status < 500:
        raise RegistrationError(F.REGISTRATION_REFUSED, f"HTTP {fetched.status}: {fetched.text()}")
    if not fetched.is_ok:
        raise RegistrationError(F.PLATFORM_UNREACHABLE,
                                f"{configuration.registration_endpoint} answered HTTP {fetched.status}")
    client = parse_registration_response(_json(fetched, F.REGISTRATION_MALFORMED), requested)

    name = (name or "").strip()[:200] or pending.suggested_name
    try:
        registration = add_platform(session, NewPlatform(
            issuer=configuration.issuer, client_id=client.client_id,
            auth_login_url=configuration.authorization_endpoint, auth_token_url=configuration.token_endpoint,
            key_set_url=configuration.jwks_uri, auth_audience=configuration.authorization_server,
            deployment_ids=(client.deployment_id,) if client.deployment_id else (), name=name), now)
    except PlatformError as exc:
        # The platform has registered the tool, but we cannot keep it: say so loudly.
        log.error("dynamic registration with %s accepted by the platform but not saved: %s", configuration.issuer, exc)
        raise RegistrationError(F.REGISTRATION_EXISTS, str(exc)) from exc
    _mark_source(registration, VIA_DYNAMIC_REGISTRATION, configuration.product_family_code, client.granted_scopes,
                 is_first_deployment_preapproved=client.deployment_id is None)
    session.flush()
    record_change(session, Actor(VIA_DYNAMIC_REGISTRATION, configuration.issuer, registration.id),
                  "registration.create", f"{configuration.issuer} ({client.client_id})", registration.id,
                  {"via": VIA_DYNAMIC_REGISTRATION, "deployment_id": client.deployment_id,
                   "granted_scopes": list(client.granted_scopes)}, now)
    missing = unavailable_features(client.granted_scopes)
    log.info("dynamic registration: %s client_id=%s deployment=%s (registration %s), unavailable features: %s",
             configuration.issuer, client.client_id, client.deployment_id, registration.id,
             [f.value for f in missing] or "none")
    return CompletedRegistration(
        registration_id=registration.id, name=registration.name, issuer=configuration.issuer,
        client_id=client.client_id, deployment_id=client.deployment_id,
        product_family_code=configuration.product_family_code, requested_scopes=requested,
        granted_scopes=client.granted_scopes, unavailable_features=missing,
        is_first_deployment_preapproved=client.deployment_id is None)


def _mark_source(registration: Registration, via: str, product_family_code: str | None,
                 granted_scopes: tuple[str, ...] | None, *, is_first_deployment_preapproved: bool = False) -> None:
    registration.registered_via = via
    registration.product_family_code = product_family_code
    registration.granted_scopes = list(granted_scopes) if granted_scopes is not None else None
    registration.is_first_deployment_preapproved = is_first_deployment_preapproved


# --- by hand ----------------------------------------------------------------------------------
class PlatformValuesRejected(ValueError):
    """One of the values typed into the registration form does not hold; `field` says which."""

    def __init__(self, field: str, reason: str, detail: str):
        super().__init__(f"{field}: {reason}: {detail}")
        self.field = field
        self.reason = reason  # a FetchFailure value, or "keys_invalid"
        self.detail = detail


URL_FIELDS = ("issuer", "auth_login_url", "auth_token_url", "key_set_url", "auth_audience")


def register_platform_by_hand(session: Session, fetcher: SafeFetcher, new: NewPlatform, actor: Actor,
                              now: datetime) -> Registration:
    """Check the platform's values (URLs, its token endpoint's address, a usable keyset), then save them."""
    for field in URL_FIELDS:
        value = getattr(new, field)
        if field == "auth_audience" and not value:
            continue
        try:
            check_url(field, value, require_https=fetcher.policy.require_https)
        except RegistrationError as error:
            reason = FetchFailure.HTTPS_REQUIRED if error.reason is F.HTTPS_REQUIRED else FetchFailure.URL_INVALID
            raise PlatformValuesRejected(field, reason.value, error.detail) from error
    # The token endpoint will receive the tool's client assertions: the same address rules apply.
    for field, check in (("auth_token_url", fetcher.check),
                         ("key_set_url", lambda url: check_platform_keys(fetcher, url))):
        try:
            check(getattr(new, field))
        except FetchRefused as refused:
            raise PlatformValuesRejected(field, refused.reason.value, refused.detail) from refused
        except PlatformKeysInvalid as invalid:
            raise PlatformValuesRejected(field, "keys_invalid", str(invalid)) from invalid
    registration = add_platform(session, new, now)
    _mark_source(registration, VIA_FORM, None, None)
    session.flush()
    record_change(session, actor, "registration.create", f"{new.issuer} ({new.client_id})", registration.id,
                  {"via": VIA_FORM, "deployment_ids": list(new.deployment_ids)}, now)
    return registration
