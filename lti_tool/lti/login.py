"""OIDC third-party login initiation: remember state and nonce, send the browser to the platform."""
from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass
from typing import Mapping
from urllib.parse import urlencode

from .errors import LaunchRejected, RejectionReason
from .platforms import PlatformRegistration, RegistrationLookup

STATE_KEY = "login-state:"
# Everything the platform may send; kept so a "open in a new window" retry can log in again.
LOGIN_PARAMS = ("iss", "login_hint", "target_link_uri", "lti_message_hint", "client_id",
                "lti_deployment_id", "deployment_id", "lti_storage_target")


def state_cookie_name(state: str) -> str:
    # One cookie per login, so two tool links opening at once in one course do not collide.
    return "lti1p3-" + state[:24]


def binding_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class LoginStarted:
    auth_url: str
    state: str
    browser_token: str
    storage_target: str | None
    registration: PlatformRegistration
    auth_origin: str


def is_own_url(url: str, base_url: str) -> bool:
    base = base_url.rstrip("/")
    return url == base or url.startswith(base + "/")


def begin_login(params: Mapping[str, str], *, registrations: RegistrationLookup, store,
                base_url: str, redirect_uri: str, ttl_seconds: int) -> LoginStarted:
    issuer = params.get("iss")
    login_hint = params.get("login_hint")
    target_link_uri = params.get("target_link_uri")
    for name, value in (("iss", issuer), ("login_hint", login_hint), ("target_link_uri", target_link_uri)):
        if not value:
            raise LaunchRejected(RejectionReason.LOGIN_PARAMETER_MISSING, f"the login request has no {name}",
                                 claims={"iss": issuer})
    client_id = params.get("client_id") or None
    registration = _find_registration(registrations, issuer, client_id)
    if not is_own_url(target_link_uri, base_url):
        raise LaunchRejected(RejectionReason.TARGET_LINK_URI_FOREIGN,
                             f"target_link_uri {target_link_uri} is not this tool ({base_url})",
                             claims={"iss": issuer, "aud": registration.client_id})

    state = secrets.token_urlsafe(32)
    nonce = secrets.token_urlsafe(32)
    browser_token = secrets.token_urlsafe(32)
    storage_target = params.get("lti_storage_target") or None
    store.add(STATE_KEY + state, json.dumps({
        "registration_id": registration.id,
        "iss": registration.issuer,
        "client_id": registration.client_id,
        "nonce": nonce,
        "binding": binding_hash(browser_token),
        "storage_target": storage_target,
        "login_params": {k: params[k] for k in LOGIN_PARAMS if params.get(k)},
    }), ttl_seconds)

    query = {
        "scope": "openid",
        "response_type": "id_token",
        "response_mode": "form_post",
        "prompt": "none",
        "client_id": registration.client_id,
        "redirect_uri": redirect_uri,
        "state": state,
        "nonce": nonce,
        "login_hint": login_hint,
    }
    if params.get("lti_message_hint"):
        query["lti_message_hint"] = params["lti_message_hint"]
    separator = "&" if "?" in registration.auth_login_url else "?"
    return LoginStarted(
        auth_url=registration.auth_login_url + separator + urlencode(query),
        state=state,
        browser_token=browser_token,
        storage_target=storage_target,
        registration=registration,
        auth_origin=_origin(registration.auth_login_url),
    )


def _find_registration(registrations: RegistrationLookup, issuer: str, client_id: str | None) -> PlatformRegistration:
    found = registrations.registrations_for(issuer, client_id)
    claims = {"iss": issuer, "aud": client_id}
    if not found:
        raise LaunchRejected(RejectionReason.REGISTRATION_UNKNOWN,
                             f"no registration for issuer {issuer} and client_id {client_id}", claims=claims)
    active = [r for r in found if r.is_active]
    if not active:
        raise LaunchRejected(RejectionReason.REGISTRATION_INACTIVE,
                             f"the registration for {issuer} ({client_id}) is deactivated", claims=claims)
    if len(active) > 1:
        # Only possible when the platform omits client_id and one issuer has several registrations.
        raise LaunchRejected(RejectionReason.LOGIN_PARAMETER_MISSING,
                             f"issuer {issuer} has several registrations: the login must name its client_id",
                             claims=claims)
    return active[0]


def _origin(url: str) -> str:
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{rest.split('/', 1)[0]}"
