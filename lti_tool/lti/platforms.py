"""A platform registration as the LTI layer sees it, and pylti1p3's tool configuration over it."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from pylti1p3.registration import Registration as LibRegistration

from .tool_keys import KeyRing


@dataclass(frozen=True)
class PlatformRegistration:
    id: int
    issuer: str
    client_id: str
    auth_login_url: str
    auth_token_url: str
    key_set_url: str
    auth_audience: str | None
    is_active: bool


class RegistrationLookup(Protocol):
    """Finds registrations; implemented over the database in lti_tool.db.queries."""

    def registrations_for(self, issuer: str, client_id: str | None) -> list[PlatformRegistration]: ...


def to_library_registration(registration: PlatformRegistration, keys: KeyRing) -> LibRegistration:
    signing = keys.signing_key()
    return (
        LibRegistration()
        .set_issuer(registration.issuer)
        .set_client_id(registration.client_id)
        .set_auth_login_url(registration.auth_login_url)
        .set_auth_token_url(registration.auth_token_url)
        .set_key_set_url(registration.key_set_url)
        .set_auth_audience(registration.auth_audience or "")
        .set_tool_private_key(signing.private_pem)
        .set_tool_public_key(signing.public_pem)
    )


def service_connector(registration: PlatformRegistration, keys: KeyRing, http, store):
    """A connector for LMS services outside a launch (roster and grade sync)."""
    from .service_connector import SharedTokenConnector

    return SharedTokenConnector(to_library_registration(registration, keys), http, store)
