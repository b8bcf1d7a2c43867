"""The certification programme's tables: versioned programmes, cohorts, enrolments, results, statuses.

Everything hangs off a registration (one LMS customer), and enrolments point to their cohort
and LMS user through composite keys that include the registration, so the schema itself
refuses to mix tenants. Exact numbers (pass marks, scores, discounts) are stored as text:
SQLite has no exact decimal type, and "2/3" must stay two thirds.
"""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (JSON, BigInteger, Boolean, Date, ForeignKey, ForeignKeyConstraint, Integer, String,
                        UniqueConstraint)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, UtcDateTime

KEY = String(100)
NAME = String(300)
EXACT = String(64)


class ProgrammeRecord(Base):
    __tablename__ = "programme"
    __table_args__ = (UniqueConstraint("registration_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    registration_id: Mapped[int] = mapped_column(ForeignKey("registration.id", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(KEY)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)

    versions: Mapped[list["ProgrammeVersionRecord"]] = relationship(
        back_populates="programme", order_by="ProgrammeVersionRecord.version", cascade="all, delete-orphan")


class ProgrammeVersionRecord(Base):
    """One immutable version of a programme; a cohort keeps the version it started with."""

    __tablename__ = "programme_version"
    __table_args__ = (UniqueConstraint("programme_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    programme_id: Mapped[int] = mapped_column(ForeignKey("programme.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    name_sv: Mapped[str] = mapped_column(NAME)
    name_en: Mapped[str] = mapped_column(NAME)
    duration_weeks: Mapped[int] = mapped_column(Integer)
    exam_pass_mark: Mapped[str] = mapped_column(EXACT)
    exam_max_attempts: Mapped[int | None] = mapped_column(Integer)
    validity_years: Mapped[int | None] = mapped_column(Integer)
    full_programme_ore: Mapped[int] = mapped_column(BigInteger)
    member_discount: Mapped[str] = mapped_column(EXACT)
    per_module_ore: Mapped[int | None] = mapped_column(BigInteger)
    upgrade_pricing: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)

    programme: Mapped[ProgrammeRecord] = relationship(back_populates="versions")
    modules: Mapped[list["ProgrammeModuleRecord"]] = relationship(
        order_by="ProgrammeModuleRecord.position", cascade="all, delete-orphan")


class ProgrammeModuleRecord(Base):
    __tablename__ = "programme_module"
    __table_args__ = (UniqueConstraint("programme_version_id", "key"),
                      UniqueConstraint("programme_version_id", "position"))

    id: Mapped[int] = mapped_column(primary_key=True)
    programme_version_id: Mapped[int] = mapped_column(ForeignKey("programme_version.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    key: Mapped[str] = mapped_column(KEY)
    name_sv: Mapped[str] = mapped_column(NAME)
    name_en: Mapped[str] = mapped_column(NAME)
    pass_mark: Mapped[str] = mapped_column(EXACT)


class FunderRecord(Base):
    __tablename__ = "funder"
    __table_args__ = (UniqueConstraint("registration_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    registration_id: Mapped[int] = mapped_column(ForeignKey("registration.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(KEY)
    name: Mapped[str] = mapped_column(NAME)


class RegionRecord(Base):
    __tablename__ = "region"
    __table_args__ = (UniqueConstraint("registration_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    registration_id: Mapped[int] = mapped_column(ForeignKey("registration.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(KEY)
    name: Mapped[str] = mapped_column(NAME)


class CohortRecord(Base):
    __tablename__ = "cohort"
    __table_args__ = (UniqueConstraint("registration_id", "key"),
                      # the target of enrolments' tenant-checking composite key
                      UniqueConstraint("id", "registration_id"))

    id: Mapped[int] = mapped_column(primary_key=True)
    registration_id: Mapped[int] = mapped_column(ForeignKey("registration.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(KEY)
    name: Mapped[str] = mapped_column(NAME)
    programme_version_id: Mapped[int] = mapped_column(ForeignKey("programme_version.id", ondelete="RESTRICT"))
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date] = mapped_column(Date)
    funder_id: Mapped[int | None] = mapped_column(ForeignKey("funder.id", ondelete="RESTRICT"))

    programme_version: Mapped[ProgrammeVersionRecord] = relationship()
    funder: Mapped[FunderRecord | None] = relationship()


class EnrolmentRecord(Base):
    __tablename__ = "enrolment"
    __table_args__ = (
        UniqueConstraint("cohort_id", "lms_user_id"),
        ForeignKeyConstraint(["cohort_id", "registration_id"], ["cohort.id", "cohort.registration_id"],
                             ondelete="CASCADE"),
        ForeignKeyConstraint(["lms_user_id", "registration_id"], ["lms_user.id", "lms_user.registration_id"],
                             ondelete="CASCADE"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    registration_id: Mapped[int] = mapped_column(ForeignKey("registration.id", ondelete="CASCADE"))
    cohort_id: Mapped[int] = mapped_column(Integer)
    lms_user_id: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(20))
    module_keys: Mapped[list[str]] = mapped_column(JSON)
    region_id: Mapped[int | None] = mapped_column(ForeignKey("region.id", ondelete="SET NULL"))
    employer: Mapped[str | None] = mapped_column(NAME)
    is_sknt_member: Mapped[bool] = mapped_column(Boolean, default=False)
    funder_id: Mapped[int | None] = mapped_column(ForeignKey("funder.id", ondelete="RESTRICT"))
    upgraded_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    withdrawn_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class ResultEventRecord(Base):
    """Append-only: every grade seen, when, from which LMS result, and the value it replaced."""

    __tablename__ = "result_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    enrolment_id: Mapped[int] = mapped_column(ForeignKey("enrolment.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(10))  # "module" | "exam"
    module_key: Mapped[str | None] = mapped_column(KEY)
    attempt: Mapped[int | None] = mapped_column(Integer)
    score_given: Mapped[str] = mapped_column(EXACT)
    score_maximum: Mapped[str] = mapped_column(EXACT)
    graded_at: Mapped[datetime] = mapped_column(UtcDateTime)
    source: Mapped[str] = mapped_column(String(2048))
    seen_at: Mapped[datetime] = mapped_column(UtcDateTime)
    replaces_id: Mapped[int | None] = mapped_column(ForeignKey("result_event.id", ondelete="SET NULL"))


class CertificationStatusRecord(Base):
    """The last computed status of an enrolment, for reports; recomputed, never edited by hand."""

    __tablename__ = "certification_status"

    enrolment_id: Mapped[int] = mapped_column(ForeignKey("enrolment.id", ondelete="CASCADE"), primary_key=True)
    state: Mapped[str] = mapped_column(String(30), index=True)
    reasons: Mapped[list[dict]] = mapped_column(JSON)
    modules_completed: Mapped[int] = mapped_column(Integer)
    modules_required: Mapped[int] = mapped_column(Integer)
    certified_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    needs_admin_review: Mapped[bool] = mapped_column(Boolean, default=False)
    computed_at: Mapped[datetime] = mapped_column(UtcDateTime)
    # The final exam as the status judged it, so pages need not recompute it.
    exam_score_given: Mapped[str | None] = mapped_column(EXACT)
    exam_score_maximum: Mapped[str | None] = mapped_column(EXACT)
    exam_attempts_used: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    exam_attempts_left: Mapped[int | None] = mapped_column(Integer)


class ModuleStandingRecord(Base):
    """Each enrolment's state per module, written with the status: what dashboards read."""

    __tablename__ = "module_standing"

    enrolment_id: Mapped[int] = mapped_column(ForeignKey("enrolment.id", ondelete="CASCADE"), primary_key=True)
    module_key: Mapped[str] = mapped_column(KEY, primary_key=True)
    state: Mapped[str] = mapped_column(String(20))
    score_given: Mapped[str | None] = mapped_column(EXACT)
    score_maximum: Mapped[str | None] = mapped_column(EXACT)
    completed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
