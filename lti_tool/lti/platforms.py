"""A platform registration as the LTI layer sees it, and pylti1p3's tool configuration over it."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from pylti1p3.deployment import Deployment as LibDeployment
from pylti1p3.registration import Registration as LibRegistration
from pylti1p3.tool_config import ToolConfAbstract

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

    def active_deployment_ids(self, registration_id: int) -> set[str]: ...


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


class DatabaseToolConf(ToolConfAbstract):
    """pylti1p3's tool configuration read from the database: active registrations only."""

    def __init__(self, lookup: RegistrationLookup, keys: KeyRing):
        super().__init__()
        self._lookup = lookup
        self._keys = keys
        # One issuer may serve many customers with their own client_ids (Canvas): never assume one.
        self.issuers_relation_types = _AlwaysManyClients()

    def _active(self, issuer: str, client_id: str | None) -> PlatformRegistration | None:
        found = [r for r in self._lookup.registrations_for(issuer, client_id) if r.is_active]
        return found[0] if len(found) == 1 else None

    def find_registration_by_issuer(self, iss: str, *args: Any, **kwargs: Any):
        registration = self._active(iss, None)
        return to_library_registration(registration, self._keys) if registration else None

    def find_registration_by_params(self, iss: str, client_id: str, *args: Any, **kwargs: Any):
        registration = self._active(iss, client_id)
        return to_library_registration(registration, self._keys) if registration else None

    def find_deployment(self, iss: str, deployment_id: str):
        return self.find_deployment_by_params(iss, deployment_id, None)

    def find_deployment_by_params(self, iss: str, deployment_id: str, client_id: str | None,
                                  *args: Any, **kwargs: Any):
        registration = self._active(iss, client_id)
        if registration and deployment_id in self._lookup.active_deployment_ids(registration.id):
            return LibDeployment().set_deployment_id(deployment_id)
        return None


class _AlwaysManyClients(dict):
    def get(self, key: Any, default: Any = None) -> Any:  # noqa: D401
        return "one-issuer-many-client-ids"
