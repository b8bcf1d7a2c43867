"""How each platform's services (token, AGS, NRPS, JWKS, registration) last answered."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, UtcDateTime


class ServiceHealth(Base):
    """One row per platform and service: the last call, the last success and the last failure."""

    __tablename__ = "service_health"
    __table_args__ = (UniqueConstraint("registration_id", "service"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    registration_id: Mapped[int] = mapped_column(ForeignKey("registration.id", ondelete="CASCADE"))
    service: Mapped[str] = mapped_column(String(40))
    last_called_at: Mapped[datetime] = mapped_column(UtcDateTime)
    last_ok_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    last_failed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    last_status: Mapped[int | None] = mapped_column(Integer)
    last_detail: Mapped[str | None] = mapped_column(Text)
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0)
