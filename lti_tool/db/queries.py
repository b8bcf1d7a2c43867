"""Queries that return LTI-layer values rather than rows."""
from __future__ import annotations

from typing import Callable

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from ..lti.platforms import PlatformRegistration
from .tenancy import Registration


def to_platform_registration(row: Registration) -> PlatformRegistration:
    return PlatformRegistration(
        id=row.id, issuer=row.issuer, client_id=row.client_id, auth_login_url=row.auth_login_url,
        auth_token_url=row.auth_token_url, key_set_url=row.key_set_url, auth_audience=row.auth_audience,
        is_active=row.is_active,
    )


_COLUMNS = (Registration.id, Registration.issuer, Registration.client_id, Registration.auth_login_url,
            Registration.auth_token_url, Registration.key_set_url, Registration.auth_audience, Registration.is_active)
# Built once: this runs on every login and launch.
_BY_ISSUER = select(*_COLUMNS).where(Registration.issuer == bindparam("issuer"))
_BY_ISSUER_AND_CLIENT = _BY_ISSUER.where(Registration.client_id == bindparam("client_id"))


class DatabaseRegistrations:
    """The RegistrationLookup of the LTI layer, over the request's session."""

    def __init__(self, session: Callable[[], Session]):
        self._session = session

    def registrations_for(self, issuer: str, client_id: str | None) -> list[PlatformRegistration]:
        statement = _BY_ISSUER if client_id is None else _BY_ISSUER_AND_CLIENT
        rows = self._session().connection().execute(statement, {"issuer": issuer, "client_id": client_id})
        return [PlatformRegistration(*row) for row in rows]
