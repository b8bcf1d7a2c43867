"""Validates an LTI 1.3 launch (id_token + state) and turns it into a typed value.

pylti1p3's MessageLaunch validation is replaced to close the library's gaps: single-use state
and nonce bound to the browser, clock-skew leeway, `aud` lists with `azp`, the platform key
cache, and one reason code per failure; the library's message validators still run last.
"""
from __future__ import annotations

import base64
import binascii
import hmac
import json
import time
from dataclasses import dataclass, field
from typing import Any, Mapping, NamedTuple, Protocol

from jwt.algorithms import RSAAlgorithm
from pylti1p3.exception import LtiException
from pylti1p3.message_validators import get_validators

from .errors import LaunchRejected, RejectionReason
from .login import STATE_KEY, LoginState, LoginStateSigner, binding_hash, is_own_url, state_cookie_name
from .platform_keys import PlatformKeys
from .platforms import PlatformRegistration
from ..db.shared_state import USED

CLAIM = "https://purl.imsglobal.org/spec/lti/claim/"
DL_CLAIM = "https://purl.imsglobal.org/spec/lti-dl/claim/"
AGS_CLAIM = "https://purl.imsglobal.org/spec/lti-ags/claim/endpoint"
NRPS_CLAIM = "https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice"
RESOURCE_LINK_REQUEST = "LtiResourceLinkRequest"
DEEP_LINKING_REQUEST = "LtiDeepLinkingRequest"
SUPPORTED_MESSAGES = {RESOURCE_LINK_REQUEST, DEEP_LINKING_REQUEST}
# Keep a used state's marker long enough to recognise a replay of any live id_token.
USED_MARKER_SECONDS = 3600


class CookieNotReturned(Exception):
    """The browser did not send the state cookie back (a third-party iframe); the state is kept."""

    def __init__(self, state: str, storage_target: str | None, login_params: dict[str, str]):
        super().__init__("state cookie not returned")
        self.state = state
        self.storage_target = storage_target
        self.login_params = login_params


class LaunchNames(NamedTuple):
    """The platform's identifiers a launch names, as ValidatedLaunch carries them."""

    deployment_id: str | None
    sub: str | None
    context_id: str | None
    resource_link_id: str | None


class LaunchLookup(Protocol):
    """Finds a launch's registration; implemented over the database in lti_tool.services.launches."""

    def registration_for_launch(self, registration_id: int,
                                names: LaunchNames) -> tuple[PlatformRegistration | None, Any]:
        """The registration (None when it is gone) and, opaque to this layer, what the tool already
        knows of the deployment, user and course `names` (read in the same query; the launch's
        recording uses it when the validated launch names the same)."""
        ...


@dataclass(frozen=True)
class LaunchContext:
    id_on_platform: str
    title: str | None
    label: str | None


@dataclass(frozen=True)
class ValidatedLaunch:
    registration: PlatformRegistration
    deployment_id: str
    message_type: str
    sub: str
    roles: tuple[str, ...]
    name: str | None
    given_name: str | None
    family_name: str | None
    email: str | None
    locale: str | None
    context: LaunchContext | None
    resource_link_id: str | None
    resource_link_title: str | None
    target_link_uri: str
    claims: Mapping[str, Any] = field(repr=False)
    known: Any = field(default=None, repr=False, compare=False)  # from LaunchLookup, for recording the launch

    @property
    def custom(self) -> Mapping[str, str]:
        return self.claims.get(CLAIM + "custom") or {}

    @property
    def names(self) -> LaunchNames:
        return LaunchNames(self.deployment_id, self.sub, self.context.id_on_platform if self.context else None,
                           self.resource_link_id)


@dataclass(frozen=True)
class LaunchSettings:
    base_url: str
    leeway_seconds: int
    # Over plain http on loopback (a developer's Moodle) browsers drop cross-site cookies and
    # there is no platform storage: the unguessable, single-use state is then the only binding.
    is_cookie_optional: bool
    login_state_ttl: int = 600  # seconds from the login to its launch (LOGIN_STATE_TTL)

    @property
    def used_marker_seconds(self) -> int:
        # A spent state's marker outlives the state itself, so its replay is always told apart.
        return max(USED_MARKER_SECONDS, self.login_state_ttl + self.leeway_seconds)


def validate_launch(form: Mapping[str, str], cookies: Mapping[str, str], *, store, signer: LoginStateSigner,
                    registrations: LaunchLookup, platform_keys: PlatformKeys,
                    settings: LaunchSettings) -> ValidatedLaunch:
    """Check everything, then spend the login's state: a launch is accepted once, or not at all.

    The state is spent last, after the signature check that may fetch the platform's keys,
    so no database write lock is held while waiting for the platform.
    """
    id_token = form.get("id_token", "")
    state = form.get("state", "")
    if not id_token:
        raise LaunchRejected(RejectionReason.ID_TOKEN_MISSING, "the launch has no id_token")
    header, unverified = _decode_unverified(id_token)
    if not state:
        raise LaunchRejected(RejectionReason.STATE_MISSING, "the launch has no state", claims=unverified)

    key = STATE_KEY + state
    login = _check_login_state(signer.verify(state), form, cookies, state, settings, unverified,
                               was_spent=lambda: store.get(key) == USED)
    registration, known = _expected_registration(login, registrations, unverified)
    _check_audience(unverified, registration.client_id)
    claims = _verify_signature(id_token, header, registration, platform_keys, settings, unverified)
    if claims.get("nonce") != login.nonce:
        raise LaunchRejected(RejectionReason.NONCE_MISMATCH, "the nonce is not the one this login issued",
                             claims=claims)
    launch = _typed_launch(claims, registration, settings, known)
    _run_library_validators(claims)
    spent = store.spend(key, settings.used_marker_seconds)
    if spent is False:
        raise LaunchRejected(RejectionReason.STATE_REPLAYED, "this launch was already used (replay)",
                             claims=claims)
    if spent is None:
        raise LaunchRejected(RejectionReason.STATE_UNKNOWN, "the shared store no longer knows this login",
                             claims=claims)
    return launch


def _run_library_validators(claims: dict) -> None:
    """pylti1p3's own message rules (e.g. deep-linking settings), after our more precise checks."""
    try:
        for validator in get_validators():
            if validator.can_validate(claims):
                validator.validate(claims)
    except LtiException as exc:
        raise LaunchRejected(RejectionReason.MESSAGE_INVALID, str(exc), claims=claims) from exc


def _b64(segment: str) -> bytes:
    # validate=True: one base64 text for one value, as PyJWT insists since its malleability fix.
    return base64.b64decode(segment + "=" * (-len(segment) % 4), altchars=b"-_", validate=True)


def _b64_json(segment: str) -> Any:
    return json.loads(_b64(segment))


def _decode_unverified(id_token: str) -> tuple[dict, dict]:
    """Header and claims read without checking the signature: only to route and to log.

    Cheaper than asking PyJWT twice; the one verifying decode comes later.
    """
    parts = id_token.split(".")
    try:
        if len(parts) != 3:
            raise ValueError("a JWT has three parts")
        header, body = _b64_json(parts[0]), _b64_json(parts[1])
    except (ValueError, UnicodeDecodeError, binascii.Error) as exc:
        raise LaunchRejected(RejectionReason.ID_TOKEN_MALFORMED, f"the id_token is not a JWT: {exc}") from exc
    if not isinstance(header, dict) or not isinstance(body, dict):
        raise LaunchRejected(RejectionReason.ID_TOKEN_MALFORMED, "the id_token header or body is not an object")
    return header, body


def _check_login_state(login: LoginState | None, form: Mapping[str, str], cookies: Mapping[str, str], state: str,
                       settings: LaunchSettings, unverified: dict, was_spent) -> LoginState:
    """The signed login, if it is ours, alive and this browser's.

    `was_spent()` reads the shared store, on these refusals only: a state used before is
    refused as a replay, whatever else is wrong with the request.
    """
    def refuse(reason: RejectionReason, detail: str) -> LaunchRejected:
        if was_spent():
            reason, detail = RejectionReason.STATE_REPLAYED, "this launch was already used (replay)"
        return LaunchRejected(reason, detail, claims=unverified)

    def refuse_cookieless() -> Exception:
        if was_spent():
            return LaunchRejected(RejectionReason.STATE_REPLAYED, "this launch was already used (replay)",
                                  claims=unverified)
        return CookieNotReturned(state, login.storage_target, login.login_params)

    if login is None:
        raise LaunchRejected(RejectionReason.STATE_UNKNOWN,
                             "no login started this launch (unknown or altered state)", claims=unverified)
    age = time.time() - login.issued_at
    if not -settings.login_state_ttl <= age <= settings.login_state_ttl:
        raise refuse(RejectionReason.STATE_UNKNOWN, f"the login state expired ({int(age)} s old)")
    browser_token = cookies.get(state_cookie_name(state)) or form.get("lti_storage_token")
    if browser_token is None:
        if not settings.is_cookie_optional:
            raise refuse_cookieless()
    elif not hmac.compare_digest(binding_hash(browser_token), login.binding):
        raise refuse(RejectionReason.STATE_MISMATCH, "the state does not belong to this browser")
    return login


def _expected_registration(login: LoginState, registrations: LaunchLookup,
                           unverified: dict) -> tuple[PlatformRegistration, Any]:
    if unverified.get("iss") != login.issuer:
        raise LaunchRejected(RejectionReason.ISSUER_MISMATCH,
                             f"iss {unverified.get('iss')!r} is not the platform that started the login "
                             f"({login.issuer})", claims=unverified)
    # Read with what is known of the deployment, user and course the (yet unverified) token names:
    # one query; the recording of the launch trusts it only if the verified launch names the same.
    registration, known = registrations.registration_for_launch(login.registration_id, _names(unverified))
    if registration is None or registration.issuer != login.issuer or (
            login.client_id is not None and registration.client_id != login.client_id):
        raise LaunchRejected(RejectionReason.REGISTRATION_UNKNOWN, "the registration was removed during the login",
                             claims=unverified)
    if not registration.is_active:
        raise LaunchRejected(RejectionReason.REGISTRATION_INACTIVE, "the registration is deactivated",
                             claims=unverified)
    return registration, known


def _names(claims: dict) -> LaunchNames:
    """What _typed_launch will make of the identifiers (None where it would refuse them)."""
    deployment_id, sub = claims.get(CLAIM + "deployment_id"), claims.get("sub")
    context, resource_link = claims.get(CLAIM + "context"), claims.get(CLAIM + "resource_link")
    return LaunchNames(
        deployment_id if isinstance(deployment_id, str) else None, sub if isinstance(sub, str) else None,
        str(context["id"]) if isinstance(context, dict) and context.get("id") else None,
        resource_link.get("id") if isinstance(resource_link, dict) and isinstance(resource_link.get("id"), str)
        else None)


def _check_audience(unverified: dict, client_id: str) -> None:
    aud = unverified.get("aud")
    audiences = [aud] if isinstance(aud, str) else aud if isinstance(aud, list) else []
    if client_id not in audiences:
        raise LaunchRejected(RejectionReason.AUDIENCE_MISMATCH,
                             f"aud {aud!r} does not name this tool's client_id {client_id!r}", claims=unverified)
    azp = unverified.get("azp")
    if azp is not None and azp != client_id:
        raise LaunchRejected(RejectionReason.AZP_MISMATCH, f"azp {azp!r} is not this tool's client_id",
                             claims=unverified)
    if len(set(audiences)) > 1 and azp is None:
        raise LaunchRejected(RejectionReason.AUDIENCE_UNTRUSTED,
                             f"aud names other parties {sorted(set(audiences) - {client_id})} and no azp "
                             "says the token is for this tool", claims=unverified)


_RS256 = RSAAlgorithm(RSAAlgorithm.SHA256)
REQUIRED_CLAIMS = ("exp", "iat", "iss", "aud", "nonce")


def _verify_signature(id_token: str, header: dict, registration: PlatformRegistration,
                      platform_keys: PlatformKeys, settings: LaunchSettings, unverified: dict) -> dict:
    """RS256 with the platform's key, then the time and issuer claims with the configured leeway.

    PyJWT's RS256 algorithm checks the signature; the claims were already parsed (strictly) by
    _decode_unverified, so they are not parsed again: on this hot path that parse cost more
    than the RSA check itself.
    """
    def reject(reason: RejectionReason, detail: str) -> LaunchRejected:
        return LaunchRejected(reason, detail, claims=unverified)

    if header.get("alg") != "RS256":
        raise reject(RejectionReason.ALGORITHM_NOT_ALLOWED, f"alg {header.get('alg')!r} is not RS256")
    kid = header.get("kid")
    if not kid:
        raise reject(RejectionReason.KID_MISSING, "the id_token header has no kid")
    try:
        key = platform_keys.key_for(registration.key_set_url, kid)
    except LaunchRejected as exc:
        exc.claims = unverified
        raise
    signing_input, _, signature = id_token.rpartition(".")
    try:
        is_valid = _RS256.verify(signing_input.encode("ascii"), key.key, _b64(signature))
    except (ValueError, UnicodeEncodeError, binascii.Error):
        is_valid = False
    if not is_valid:
        raise reject(RejectionReason.SIGNATURE_INVALID, "the signature does not verify with the platform's key")
    _check_claims(unverified, registration.issuer, settings.leeway_seconds, reject)
    return unverified


def _check_claims(claims: dict, issuer: str, leeway: int, reject) -> None:
    for name in REQUIRED_CLAIMS:
        if claims.get(name) is None:
            raise reject(RejectionReason.CLAIM_MISSING, f"the id_token has no {name!r} claim")
    now = time.time()
    for name in ("exp", "iat", "nbf"):
        value = claims.get(name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
            raise reject(RejectionReason.ID_TOKEN_MALFORMED, f"{name} must be a number of seconds")
    if claims["exp"] <= now - leeway:
        raise reject(RejectionReason.TOKEN_EXPIRED, f"the id_token expired {int(now - claims['exp'])} s ago")
    for name in ("iat", "nbf"):
        if claims.get(name) is not None and claims[name] > now + leeway:
            raise reject(RejectionReason.TOKEN_NOT_YET_VALID,
                         f"{name} is {int(claims[name] - now)} s in the future (leeway {leeway} s)")
    if claims["iss"] != issuer:
        raise reject(RejectionReason.ISSUER_MISMATCH, f"iss {claims['iss']!r} is not {issuer!r}")


def _typed_launch(claims: dict, registration: PlatformRegistration, settings: LaunchSettings,
                  known: Any = None) -> ValidatedLaunch:
    def reject(reason: RejectionReason, detail: str) -> LaunchRejected:
        return LaunchRejected(reason, detail, claims=claims)

    if claims.get(CLAIM + "version") != "1.3.0":
        raise reject(RejectionReason.VERSION_INVALID, f"LTI version {claims.get(CLAIM + 'version')!r} is not 1.3.0")
    message_type = claims.get(CLAIM + "message_type")
    if message_type not in SUPPORTED_MESSAGES:
        raise reject(RejectionReason.MESSAGE_TYPE_UNSUPPORTED, f"message_type {message_type!r} is not supported")
    deployment_id = claims.get(CLAIM + "deployment_id")
    if not isinstance(deployment_id, str) or not deployment_id:
        raise reject(RejectionReason.DEPLOYMENT_MISSING, "the launch names no deployment_id")
    # An anonymous launch cannot earn a certificate: we follow the certification guide and refuse it.
    sub = claims.get("sub")
    if not isinstance(sub, str) or not sub:
        raise reject(RejectionReason.SUB_MISSING, "the launch has no sub (user id)")
    roles = claims.get(CLAIM + "roles")
    if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
        raise reject(RejectionReason.ROLES_MISSING, "the launch has no roles claim")
    resource_link = claims.get(CLAIM + "resource_link") or {}
    if message_type == RESOURCE_LINK_REQUEST and not (isinstance(resource_link, dict) and resource_link.get("id")):
        raise reject(RejectionReason.RESOURCE_LINK_MISSING, "the launch has no resource_link.id")
    target_link_uri = claims.get(CLAIM + "target_link_uri")
    if not isinstance(target_link_uri, str) or not is_own_url(target_link_uri, settings.base_url):
        raise reject(RejectionReason.TARGET_LINK_URI_FOREIGN,
                     f"target_link_uri {target_link_uri!r} is not this tool ({settings.base_url})")
    context_claim = claims.get(CLAIM + "context")
    context = None
    if isinstance(context_claim, dict) and context_claim.get("id"):
        context = LaunchContext(str(context_claim["id"]), context_claim.get("title"), context_claim.get("label"))
    presentation = claims.get(CLAIM + "launch_presentation") or {}
    return ValidatedLaunch(
        registration=registration,
        deployment_id=deployment_id,
        message_type=message_type,
        sub=sub,
        roles=tuple(roles),
        name=claims.get("name"),
        given_name=claims.get("given_name"),
        family_name=claims.get("family_name"),
        email=claims.get("email"),
        locale=presentation.get("locale") or claims.get("locale"),
        context=context,
        resource_link_id=resource_link.get("id") if isinstance(resource_link, dict) else None,
        resource_link_title=resource_link.get("title") if isinstance(resource_link, dict) else None,
        target_link_uri=target_link_uri,
        claims=claims,
        known=known,
    )
