"""Recording the outcome of every call to a platform's services, for the admin console."""
from __future__ import annotations

import enum
import logging
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..db.service_health import ServiceHealth

log = logging.getLogger(__name__)


class Service(str, enum.Enum):
    ACCESS_TOKEN = "access_token"
    AGS = "ags"
    NRPS = "nrps"
    JWKS = "jwks"
    REGISTRATION = "registration"


def record_service_call(session: Session, registration_id: int, service: Service, *, is_ok: bool,
                        at: datetime, status: int | None = None, detail: str | None = None) -> ServiceHealth:
    """Note one call's outcome; the row keeps the last success and the last failure apart."""
    row = session.scalar(select(ServiceHealth).where(ServiceHealth.registration_id == registration_id,
                                                     ServiceHealth.service == service.value))
    if row is None:
        row = ServiceHealth(registration_id=registration_id, service=service.value, consecutive_failures=0)
        session.add(row)
    row.last_called_at = at
    row.last_status = status
    row.last_detail = (detail or "")[:2000] or None
    if is_ok:
        row.last_ok_at = at
        row.consecutive_failures = 0
    else:
        row.last_failed_at = at
        row.consecutive_failures = (row.consecutive_failures or 0) + 1
        log.warning("platform %s %s failed (%s): %s", registration_id, service.value, status, detail)
    session.flush()
    return row


def health_of(session: Session, registration_id: int) -> list[ServiceHealth]:
    return list(session.scalars(select(ServiceHealth).where(ServiceHealth.registration_id == registration_id)
                                .order_by(ServiceHealth.service)))
