"""Database: typed models, the naming convention and the per-request session."""
from .base import Base
from .session import get_connection, get_session, init_app
from . import programmes, service_health, tenancy  # noqa: F401  (registers the tables on Base.metadata)
from . import admin  # noqa: F401  (the admin console's operators and audit trail)
from . import certificates  # noqa: F401  (issued certificates, their signed credentials, status lists)
from . import course_sync, demo_lms  # noqa: F401  (grade and roster sync, score outbox; the demo LMS's state)

__all__ = ["Base", "get_connection", "get_session", "init_app"]
