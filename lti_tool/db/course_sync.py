"""Grades and rosters from the LMS: course links, line items, roster, sync runs and the score outbox.

A course (context) is linked to one cohort; its tool-owned gradebook columns (line items) are
bound to modules, the final exam or the tool's own Certification column; its roster is kept
as last read over NRPS. Every sync is a row in `sync_run`; while one runs, its
`running_context_id` holds the context id, and a unique constraint on that column is the
lock that keeps two syncs of one course apart on every database. Scores for the LMS wait in
`score_outbox`, one row per enrolment, line item and version, so none is lost or sent twice.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import (JSON, Boolean, ForeignKey, ForeignKeyConstraint, Index, Integer, String, Text,
                        UniqueConstraint)
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, UtcDateTime
from .programmes import EXACT, KEY, ResultEventRecord
from .tenancy import PLATFORM_ID, URL

# Reading one line item's previous grades is one index range, however long the history grows.
Index("ix_result_event_source_enrolment_id", ResultEventRecord.source, ResultEventRecord.enrolment_id)
# A grade is replaced at most once: two writers appending a regrade of the same grade cannot both win.
Index("ix_result_event_replaces_id", ResultEventRecord.replaces_id, unique=True)


class ContextServiceRecord(Base):
    """The AGS and NRPS endpoints the launches from a course carried, for syncs outside a launch."""

    __tablename__ = "context_service"

    context_id: Mapped[int] = mapped_column(ForeignKey("context.id", ondelete="CASCADE"), primary_key=True)
    lineitems_url: Mapped[str | None] = mapped_column(URL)
    ags_scopes: Mapped[list[str]] = mapped_column(JSON)
    memberships_url: Mapped[str | None] = mapped_column(URL)
    # tool_platform.product_family_code ("moodle", "canvas"): decides platform-specific paging.
    product_family: Mapped[str | None] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class CourseLinkRecord(Base):
    """Which cohort a course serves, and whether it is the full programme or a single module."""

    __tablename__ = "course_link"
    __table_args__ = (
        UniqueConstraint("context_id"),
        ForeignKeyConstraint(["cohort_id", "registration_id"], ["cohort.id", "cohort.registration_id"],
                             ondelete="CASCADE"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    context_id: Mapped[int] = mapped_column(ForeignKey("context.id", ondelete="CASCADE"))
    registration_id: Mapped[int] = mapped_column(ForeignKey("registration.id", ondelete="CASCADE"))
    cohort_id: Mapped[int] = mapped_column(Integer, index=True)
    kind: Mapped[str] = mapped_column(String(20))  # "full_programme" | "single_module"
    module_key: Mapped[str | None] = mapped_column(KEY)
    linked_by_lms_user_id: Mapped[int | None] = mapped_column(ForeignKey("lms_user.id", ondelete="SET NULL"))
    linked_at: Mapped[datetime] = mapped_column(UtcDateTime)


class LineItemRecord(Base):
    """A gradebook column the tool sees over AGS (its own), and what it is bound to."""

    __tablename__ = "line_item"
    __table_args__ = (UniqueConstraint("context_id", "id_on_platform"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    context_id: Mapped[int] = mapped_column(ForeignKey("context.id", ondelete="CASCADE"))
    id_on_platform: Mapped[str] = mapped_column(URL)
    label: Mapped[str] = mapped_column(String(500))
    score_maximum: Mapped[str] = mapped_column(EXACT)
    resource_id: Mapped[str | None] = mapped_column(PLATFORM_ID)
    tag: Mapped[str | None] = mapped_column(PLATFORM_ID)
    resource_link_id: Mapped[str | None] = mapped_column(PLATFORM_ID)
    binding: Mapped[str | None] = mapped_column(String(20))  # "module" | "exam" | "certification"
    module_key: Mapped[str | None] = mapped_column(KEY)
    exam_attempt: Mapped[int | None] = mapped_column(Integer)
    is_bound_by_hand: Mapped[bool] = mapped_column(Boolean, default=False)
    # False once the LMS stops listing it (deleted column): kept for the history that points to it.
    is_present: Mapped[bool] = mapped_column(Boolean, default=True)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class RosterMemberRecord(Base):
    """A member of a course as the last NRPS roster said; a member who left is kept as "gone"."""

    __tablename__ = "roster_member"
    __table_args__ = (UniqueConstraint("context_id", "lms_user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    context_id: Mapped[int] = mapped_column(ForeignKey("context.id", ondelete="CASCADE"))
    lms_user_id: Mapped[int] = mapped_column(ForeignKey("lms_user.id", ondelete="CASCADE"), index=True)
    roles: Mapped[list[str]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(20))  # "active" | "inactive" | "gone"
    is_learner: Mapped[bool] = mapped_column(Boolean)
    is_instructor: Mapped[bool] = mapped_column(Boolean)
    changed_at: Mapped[datetime] = mapped_column(UtcDateTime)


class SyncRunRecord(Base):
    """One sync of a course (or of one learner in it): when, what it found, what it wrote, what failed."""

    __tablename__ = "sync_run"
    __table_args__ = (UniqueConstraint("running_context_id"),
                      Index("ix_sync_run_context_id_started_at", "context_id", "started_at"))

    id: Mapped[int] = mapped_column(primary_key=True)
    context_id: Mapped[int] = mapped_column(ForeignKey("context.id", ondelete="CASCADE"))
    # The lock: the context id while the run is going, NULL once it ended (NULLs never collide).
    running_context_id: Mapped[int | None] = mapped_column(Integer)
    lms_user_id: Mapped[int | None] = mapped_column(ForeignKey("lms_user.id", ondelete="SET NULL"))
    trigger: Mapped[str] = mapped_column(String(20))  # "cli" | "dashboard" | "launch" | "manual"
    state: Mapped[str] = mapped_column(String(20))  # "running" | "succeeded" | "failed" | "abandoned"
    started_at: Mapped[datetime] = mapped_column(UtcDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    counts: Mapped[dict] = mapped_column(JSON)
    error: Mapped[str | None] = mapped_column(Text)


class ScoreOutboxRecord(Base):
    """A score to send to the LMS; never edited once sent, superseded by a newer version instead."""

    __tablename__ = "score_outbox"
    __table_args__ = (UniqueConstraint("enrolment_id", "line_item_id", "version"),
                      Index("ix_score_outbox_state_next_attempt_at", "state", "next_attempt_at"))

    id: Mapped[int] = mapped_column(primary_key=True)
    registration_id: Mapped[int] = mapped_column(ForeignKey("registration.id", ondelete="CASCADE"))
    context_id: Mapped[int] = mapped_column(ForeignKey("context.id", ondelete="CASCADE"))
    enrolment_id: Mapped[int] = mapped_column(ForeignKey("enrolment.id", ondelete="CASCADE"))
    line_item_id: Mapped[int] = mapped_column(ForeignKey("line_item.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    user_id_on_platform: Mapped[str] = mapped_column(PLATFORM_ID)
    score_given: Mapped[str] = mapped_column(EXACT)
    score_maximum: Mapped[str] = mapped_column(EXACT)
    comment: Mapped[str | None] = mapped_column(Text)
    # The status (state and reasons) the score and comment were made from: unchanged, nothing is rendered again.
    status_digest: Mapped[str] = mapped_column(String(64))
    # The score's own timestamp: strictly increasing per enrolment and line item (Moodle insists).
    scored_at: Mapped[datetime] = mapped_column(UtcDateTime)
    state: Mapped[str] = mapped_column(String(20))  # "pending" | "sent" | "rejected" | "superseded"
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UtcDateTime)
    # A sender claims a row until then; another sender takes it only after the lease ran out.
    lease_until: Mapped[datetime | None] = mapped_column(UtcDateTime)
    last_status: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
