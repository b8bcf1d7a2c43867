"""Queries that return LTI-layer values rather than rows."""
from __future__ import annotations

from typing import Callable

from sqlalchemy import Connection, Engine, bindparam, func, select
from sqlalchemy.orm import Session

from ..lti.platforms import PlatformRegistration
from .course_sync import ContextServiceRecord
from .prepared import Prepared, read_outside_transaction
from .tenancy import Context, Deployment, Registration


def to_platform_registration(row: Registration) -> PlatformRegistration:
    return PlatformRegistration(
        id=row.id, issuer=row.issuer, client_id=row.client_id, auth_login_url=row.auth_login_url,
        auth_token_url=row.auth_token_url, key_set_url=row.key_set_url, auth_audience=row.auth_audience,
        is_active=row.is_active,
    )


_COLUMNS = (Registration.id, Registration.issuer, Registration.client_id, Registration.auth_login_url,
            Registration.auth_token_url, Registration.key_set_url, Registration.auth_audience, Registration.is_active)
# Built once and prepared (see prepared.py): this runs on every login and launch.
_BY_ISSUER_SELECT = select(*_COLUMNS).where(Registration.issuer == bindparam("issuer"))
_BY_ISSUER = Prepared(_BY_ISSUER_SELECT)
_BY_ISSUER_AND_CLIENT = Prepared(_BY_ISSUER_SELECT.where(Registration.client_id == bindparam("client_id")))


class DatabaseRegistrations:
    """The RegistrationLookup of the LTI layer, over the request's connection (or a session's)."""

    def __init__(self, session: Callable[[], Session | Connection], engine: Engine | None = None):
        self._session = session  # the request's session, or its connection (db.get_connection)
        self._engine = engine

    def registrations_for(self, issuer: str, client_id: str | None) -> list[PlatformRegistration]:
        statement = _BY_ISSUER if client_id is None else _BY_ISSUER_AND_CLIENT
        unit = self._session()
        connection = unit if isinstance(unit, Connection) else unit.connection()
        rows = statement.execute(connection, {"issuer": issuer, "client_id": client_id}).all()
        return [PlatformRegistration(*row) for row in rows]

    def outside_transaction(self) -> "RegistrationsOutsideTransaction":
        """The same lookup for a request that writes nothing (the login): no session, no transaction."""
        if self._engine is None:
            raise RuntimeError("DatabaseRegistrations needs its engine for reads outside a transaction")
        return RegistrationsOutsideTransaction(self._engine)


class RegistrationsOutsideTransaction:
    def __init__(self, engine: Engine):
        self._engine = engine

    def registrations_for(self, issuer: str, client_id: str | None) -> list[PlatformRegistration]:
        statement = _BY_ISSUER if client_id is None else _BY_ISSUER_AND_CLIENT
        rows = read_outside_transaction(self._engine, statement, {"issuer": issuer, "client_id": client_id})
        return [PlatformRegistration(*row) for row in rows]


_ACTIVE_REGISTRATION_URLS = select(Registration.issuer, Registration.auth_login_url).where(Registration.is_active)
# One row per deployment, not per course: a deployment's courses live on one LMS.
_DEPLOYMENT_SERVICE_URLS = (
    select(func.max(ContextServiceRecord.lineitems_url), func.max(ContextServiceRecord.memberships_url))
    .join(Context, Context.id == ContextServiceRecord.context_id)
    .join(Deployment, Deployment.id == Context.deployment_id)
    .join(Registration, Registration.id == Deployment.registration_id)
    .where(Registration.is_active, Deployment.is_active)
    .group_by(Deployment.id))


def registered_platform_urls(connection: Connection) -> list[str]:
    """URLs that show where the LMSs of the active registrations live (their pages frame the tool).

    Issuers and login URLs, and for each approved deployment one of the AGS/NRPS endpoints its
    courses' launches carried: a Canvas issuer is not the customer's domain, those endpoints are.
    """
    urls = [url for row in connection.execute(_ACTIVE_REGISTRATION_URLS) for url in row]
    urls += [url for row in connection.execute(_DEPLOYMENT_SERVICE_URLS) for url in row if url]
    return urls
