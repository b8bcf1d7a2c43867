"""OIDC third-party login initiation: a signed state and a nonce, the browser sent to the platform.

The login writes nothing to the database. Its state travels signed instead: HMAC-SHA256 with a
key derived from the tool's own signing key (KEYS_DIR, which every worker and instance shares
anyway: they publish one JWKS), over the registration, the nonce, the hash of the browser's
token, the time it was issued and the login's parameters (for an "open in a new window" retry).
The launch checks the signature and the age, then spends the state once in the shared store.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Mapping
from urllib.parse import urlencode

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from .errors import LaunchRejected, RejectionReason
from .platforms import PlatformRegistration, RegistrationLookup
from .tool_keys import KeyRing

STATE_KEY = "login-state:"
# Everything the platform may send; kept so a "open in a new window" retry can log in again.
LOGIN_PARAMS = ("iss", "login_hint", "target_link_uri", "lti_message_hint", "client_id",
                "lti_deployment_id", "deployment_id", "lti_storage_target")
# A state opens with this many random characters: they name its cookie and its platform-storage key.
STATE_ID_CHARS = 24


def state_cookie_name(state: str) -> str:
    # One cookie per login, so two tool links opening at once in one course do not collide.
    return "lti1p3-" + state[:STATE_ID_CHARS]


def binding_hash(token: str) -> str:
    return _b64(hashlib.sha256(token.encode()).digest())


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


@dataclass(frozen=True)
class LoginState:
    """What a login remembered, read back from its verified state."""

    registration_id: int
    nonce: str
    binding: str  # binding_hash of the browser's token (state cookie or platform storage)
    issued_at: int  # Unix seconds
    login_params: dict[str, str]

    @property
    def issuer(self) -> str:
        return self.login_params["iss"]

    @property
    def client_id(self) -> str | None:
        return self.login_params.get("client_id")

    @property
    def storage_target(self) -> str | None:
        return self.login_params.get("lti_storage_target")


class LoginStateSigner:
    """Signs and verifies login states: `<24 random characters>.<base64url JSON>.<base64url HMAC>`.

    The newest of the tool's keys signs; every key of the ring verifies, so a login that began
    just before `keys rotate` still launches. A state is accepted only in the exact form it was
    issued in (its MAC is compared as text), so each login has one state string to spend.
    """

    PURPOSE = b"lti-tool login state v1"

    def __init__(self, keys: KeyRing):
        self._keys = keys
        self._derived: tuple[list, list[bytes]] = ([], [])  # the ring's key list -> its HMAC keys, newest first

    def _newest_first(self) -> list[bytes]:
        keys = self._keys.keys()  # the same list until the ring is re-read (a rotation)
        if not keys:
            self._keys.ensure_key(datetime.now(timezone.utc))  # a first run without `lti-tool keys ensure`
            keys = self._keys.keys()
        derived = self._derived
        if derived[0] is not keys:
            derived = self._derived = (keys, [self._derive(key.private_pem) for key in reversed(keys)])
        return derived[1]

    @classmethod
    def _derive(cls, private_pem: str) -> bytes:
        return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=cls.PURPOSE).derive(private_pem.encode())

    @staticmethod
    def _mac(secret: bytes, signed: str) -> str:
        return _b64(hmac.new(secret, signed.encode(), hashlib.sha256).digest())

    def sign(self, state: LoginState) -> str:
        body = _b64(json.dumps({"r": state.registration_id, "n": state.nonce, "b": state.binding,
                                "t": state.issued_at, "p": state.login_params},
                               separators=(",", ":")).encode())
        signed = secrets.token_urlsafe(STATE_ID_CHARS * 3 // 4) + "." + body
        return signed + "." + self._mac(self._newest_first()[0], signed)

    def verify(self, state: str) -> LoginState | None:
        """The login behind `state`, or None when this tool did not issue it (or it was altered)."""
        signed, _, mac = state.rpartition(".")
        if not signed or len(signed) < STATE_ID_CHARS or signed[STATE_ID_CHARS:STATE_ID_CHARS + 1] != ".":
            return None
        given = mac.encode()
        if not any(hmac.compare_digest(self._mac(secret, signed).encode(), given)
                   for secret in self._newest_first()):
            return None
        try:
            encoded = signed[STATE_ID_CHARS + 1:]
            body = json.loads(base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)))
            return LoginState(int(body["r"]), str(body["n"]), str(body["b"]), int(body["t"]), dict(body["p"]))
        except (ValueError, KeyError, TypeError, binascii.Error):  # signed by us, so never expected
            return None


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
                signer: LoginStateSigner, base_url: str, redirect_uri: str, ttl_seconds: int) -> LoginStarted:
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

    nonce = secrets.token_urlsafe(32)
    browser_token = secrets.token_urlsafe(32)
    storage_target = params.get("lti_storage_target") or None
    state = signer.sign(LoginState(registration.id, nonce, binding_hash(browser_token), int(time.time()),
                                   {k: params[k] for k in LOGIN_PARAMS if params.get(k)}))
    # The database store writes nothing here; Redis keeps the login readable while it lives.
    store.note_single_use(STATE_KEY + state, json.dumps({"registration_id": registration.id, "nonce": nonce}),
                          ttl_seconds)

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
