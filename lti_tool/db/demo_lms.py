"""The built-in demo platform's own state: its courses, members, gradebook and injected faults.

Kept in the database (not in a process) so the fake LMS behaves the same on every gunicorn
worker. Nothing of the tool reads these tables: the tool sees them only over HTTP.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, UtcDateTime
from .programmes import EXACT
from .tenancy import PLATFORM_ID


class DemoCourse(Base):
    __tablename__ = "demo_course"
    __table_args__ = (UniqueConstraint("id_on_platform"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    id_on_platform: Mapped[str] = mapped_column(PLATFORM_ID)
    flavour: Mapped[str] = mapped_column(String(20))  # "moodle" | "canvas"
    # Access tokens issued before this moment are refused with 401, as if they had expired.
    tokens_valid_after: Mapped[datetime | None] = mapped_column(UtcDateTime)


class DemoMember(Base):
    __tablename__ = "demo_member"
    __table_args__ = (UniqueConstraint("course_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("demo_course.id", ondelete="CASCADE"))
    user_id: Mapped[str] = mapped_column(PLATFORM_ID)
    name: Mapped[str | None] = mapped_column(String(500))
    given_name: Mapped[str | None] = mapped_column(String(255))
    family_name: Mapped[str | None] = mapped_column(String(255))
    email: Mapped[str | None] = mapped_column(String(320))
    # Full role URIs; the Moodle flavour answers NRPS with the short names.
    roles: Mapped[list[str]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(20))  # "Active" | "Inactive"


class DemoLineItem(Base):
    __tablename__ = "demo_line_item"

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("demo_course.id", ondelete="CASCADE"), index=True)
    label: Mapped[str] = mapped_column(String(500))
    score_maximum: Mapped[str] = mapped_column(EXACT)
    resource_id: Mapped[str | None] = mapped_column(PLATFORM_ID)
    tag: Mapped[str | None] = mapped_column(PLATFORM_ID)
    resource_link_id: Mapped[str | None] = mapped_column(PLATFORM_ID)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class DemoGrade(Base):
    """The gradebook cell of one user in one column; score_given NULL: a submission not yet graded."""

    __tablename__ = "demo_grade"
    __table_args__ = (UniqueConstraint("line_item_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    line_item_id: Mapped[int] = mapped_column(ForeignKey("demo_line_item.id", ondelete="CASCADE"))
    user_id: Mapped[str] = mapped_column(PLATFORM_ID)
    score_given: Mapped[str | None] = mapped_column(EXACT)
    score_maximum: Mapped[str] = mapped_column(EXACT)
    comment: Mapped[str | None] = mapped_column(Text)
    timestamp: Mapped[datetime] = mapped_column(UtcDateTime)


class DemoFault(Base):
    """A failure to inject: the next `remaining` service calls whose path contains `path_contains`."""

    __tablename__ = "demo_fault"

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("demo_course.id", ondelete="CASCADE"))
    path_contains: Mapped[str] = mapped_column(String(200))
    method: Mapped[str | None] = mapped_column(String(10))
    status: Mapped[int | None] = mapped_column(Integer)  # None: answer normally, after the delay
    retry_after: Mapped[int | None] = mapped_column(Integer)
    delay_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    remaining: Mapped[int] = mapped_column(Integer)
