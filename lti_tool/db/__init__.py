"""Database: typed models, the naming convention and the per-request session."""
from .base import Base
from .session import get_session, init_app
from . import programmes, service_health, tenancy  # noqa: F401  (registers the tables on Base.metadata)

__all__ = ["Base", "get_session", "init_app"]
