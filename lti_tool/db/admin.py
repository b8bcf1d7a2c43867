"""The admin console's tables: operators' local accounts and the audit trail of every change."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, UtcDateTime


class Operator(Base):
    """A person who runs the tool and sees every registration; signs in with e-mail and password."""

    __tablename__ = "admin_operator"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    # werkzeug's "method$salt$hash" string (scrypt by default); never the password itself.
    password_hash: Mapped[str] = mapped_column(String(255))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    last_signed_in_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class AdminAuditEntry(Base):
    """One change made through the console or the CLI: who, what, to which target, when.

    `registration_id` is the tenant the change concerns (None for the tool as a whole, such as a
    key rotation); an LMS administrator sees only their own registration's entries. Entries
    outlive what they describe, so the key to the registration is kept loose (SET NULL) and the
    target is also written out as text.
    """

    __tablename__ = "admin_audit"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    actor_kind: Mapped[str] = mapped_column(String(20))  # "operator" | "lms_admin" | "cli"
    actor: Mapped[str] = mapped_column(String(320))  # the operator's e-mail, the LMS admin's sub, the OS user
    actor_registration_id: Mapped[int | None] = mapped_column(ForeignKey("registration.id", ondelete="SET NULL"))
    registration_id: Mapped[int | None] = mapped_column(ForeignKey("registration.id", ondelete="SET NULL"),
                                                        index=True)
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str] = mapped_column(String(500))
    details: Mapped[dict] = mapped_column(JSON)
