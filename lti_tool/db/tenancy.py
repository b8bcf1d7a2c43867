"""The LTI tenant tree: registration → deployment → context → resource link, and LMS users."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, String, Text, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, UtcDateTime

URL = String(2048)
PLATFORM_ID = String(255)


class Registration(Base):
    """One tool registration in one LMS: an issuer and a client_id (Canvas shares one issuer)."""

    __tablename__ = "registration"
    __table_args__ = (UniqueConstraint("issuer", "client_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    issuer: Mapped[str] = mapped_column(URL)
    client_id: Mapped[str] = mapped_column(PLATFORM_ID)
    auth_login_url: Mapped[str] = mapped_column(URL)
    auth_token_url: Mapped[str] = mapped_column(URL)
    key_set_url: Mapped[str] = mapped_column(URL)
    auth_audience: Mapped[str | None] = mapped_column(URL)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    # How it came: "cli", "form" (the manual registration page) or "dynamic_registration".
    registered_via: Mapped[str] = mapped_column(String(32), default="cli", server_default="cli")
    # The LMS's product ("moodle", "canvas") as its Dynamic Registration configuration names it.
    product_family_code: Mapped[str | None] = mapped_column(String(64))
    # The service scopes the LMS granted at Dynamic Registration; None when unknown (registered by hand).
    granted_scopes: Mapped[list[str] | None] = mapped_column(JSON)
    # Set by a Dynamic Registration that returned no deployment (Canvas): the administrator who just
    # installed the tool is not asked to approve its first deployment again; any later one waits.
    is_first_deployment_preapproved: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    deployments: Mapped[list["Deployment"]] = relationship(
        back_populates="registration", cascade="all, delete-orphan", order_by="Deployment.id"
    )


class Deployment(Base):
    """A placement of the tool inside the LMS; an unknown one starts inactive for an admin to approve."""

    __tablename__ = "deployment"
    __table_args__ = (UniqueConstraint("registration_id", "id_on_platform"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    registration_id: Mapped[int] = mapped_column(ForeignKey("registration.id", ondelete="CASCADE"))
    id_on_platform: Mapped[str] = mapped_column(PLATFORM_ID)
    is_active: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)

    registration: Mapped[Registration] = relationship(back_populates="deployments")


class Context(Base):
    """A course in the LMS, as seen through one deployment."""

    __tablename__ = "context"
    __table_args__ = (UniqueConstraint("deployment_id", "id_on_platform"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    deployment_id: Mapped[int] = mapped_column(ForeignKey("deployment.id", ondelete="CASCADE"))
    id_on_platform: Mapped[str] = mapped_column(PLATFORM_ID)
    title: Mapped[str | None] = mapped_column(String(500))
    label: Mapped[str | None] = mapped_column(String(255))
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class ResourceLink(Base):
    """A link to the tool placed in a course."""

    __tablename__ = "resource_link"
    __table_args__ = (UniqueConstraint("context_id", "id_on_platform"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    context_id: Mapped[int] = mapped_column(ForeignKey("context.id", ondelete="CASCADE"))
    id_on_platform: Mapped[str] = mapped_column(PLATFORM_ID)
    title: Mapped[str | None] = mapped_column(String(500))
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class LmsUser(Base):
    """A person as the LMS identifies them (`sub`), per registration."""

    __tablename__ = "lms_user"
    __table_args__ = (UniqueConstraint("registration_id", "id_on_platform"),
                      # the target of enrolments' tenant-checking composite key
                      UniqueConstraint("id", "registration_id"))

    id: Mapped[int] = mapped_column(primary_key=True)
    registration_id: Mapped[int] = mapped_column(ForeignKey("registration.id", ondelete="CASCADE"))
    id_on_platform: Mapped[str] = mapped_column(PLATFORM_ID)
    name: Mapped[str | None] = mapped_column(String(500))
    given_name: Mapped[str | None] = mapped_column(String(255))
    family_name: Mapped[str | None] = mapped_column(String(255))
    email: Mapped[str | None] = mapped_column(String(320))
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class Membership(Base):
    """A user's roles in a context, as last seen in a launch or a roster sync."""

    __tablename__ = "membership"
    __table_args__ = (UniqueConstraint("context_id", "lms_user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    context_id: Mapped[int] = mapped_column(ForeignKey("context.id", ondelete="CASCADE"))
    lms_user_id: Mapped[int] = mapped_column(ForeignKey("lms_user.id", ondelete="CASCADE"))
    roles: Mapped[list[str]] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class LaunchLog(Base):
    """Every launch attempt, accepted or rejected, with the reason: where support looks first."""

    __tablename__ = "launch_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    is_accepted: Mapped[bool] = mapped_column(Boolean)
    reason_code: Mapped[str | None] = mapped_column(String(64))
    reason_detail: Mapped[str | None] = mapped_column(Text)
    issuer: Mapped[str | None] = mapped_column(URL)
    client_id: Mapped[str | None] = mapped_column(PLATFORM_ID)
    deployment_id_on_platform: Mapped[str | None] = mapped_column(PLATFORM_ID)
    sub: Mapped[str | None] = mapped_column(PLATFORM_ID)
    message_type: Mapped[str | None] = mapped_column(String(64))
    registration_id: Mapped[int | None] = mapped_column(
        ForeignKey("registration.id", ondelete="SET NULL"), index=True
    )
    deployment_id: Mapped[int | None] = mapped_column(ForeignKey("deployment.id", ondelete="SET NULL"))
    context_id: Mapped[int | None] = mapped_column(ForeignKey("context.id", ondelete="SET NULL"))
    lms_user_id: Mapped[int | None] = mapped_column(ForeignKey("lms_user.id", ondelete="SET NULL"))


class SharedState(Base):
    """Short-lived key/value state shared by all workers (login state, launch data, caches)."""

    __tablename__ = "shared_state"

    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
