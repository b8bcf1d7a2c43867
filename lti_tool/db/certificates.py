"""Issued certificates, their signed credentials (one per revision) and the public status lists.

A certificate keeps a snapshot of what it says (name, programme, modules), so a renamed
user or a new programme version never changes a certificate already handed out. Its
cohort and user are composite keys with the registration, like enrolments, so the schema
refuses a certificate that mixes tenants.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import (JSON, Boolean, ForeignKey, ForeignKeyConstraint, Integer, String, Text, UniqueConstraint,
                        select)
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from ..domain.certificates import CertificateKind
from ..domain.certification import IssuedCertificate, Revocation
from .base import Base, UtcDateTime
from .programmes import KEY, NAME


class StatusListRecord(Base):
    """One Bitstring Status List served at /status/<id>; its bits are computed from the credentials."""

    __tablename__ = "status_list"

    id: Mapped[int] = mapped_column(primary_key=True)
    purpose: Mapped[str] = mapped_column(String(20))
    size: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class CertificateRecord(Base):
    __tablename__ = "certificate"
    __table_args__ = (
        UniqueConstraint("code"),
        # module_key is "" for a certification, so the pair is unique without NULL tricks.
        UniqueConstraint("enrolment_id", "kind", "module_key"),
        ForeignKeyConstraint(["cohort_id", "registration_id"], ["cohort.id", "cohort.registration_id"],
                             ondelete="CASCADE"),
        ForeignKeyConstraint(["lms_user_id", "registration_id"], ["lms_user.id", "lms_user.registration_id"],
                             ondelete="CASCADE"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    registration_id: Mapped[int] = mapped_column(ForeignKey("registration.id", ondelete="CASCADE"))
    cohort_id: Mapped[int] = mapped_column(Integer, index=True)
    lms_user_id: Mapped[int] = mapped_column(Integer, index=True)
    enrolment_id: Mapped[int] = mapped_column(ForeignKey("enrolment.id", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(String(40))
    kind: Mapped[str] = mapped_column(String(20))
    module_key: Mapped[str] = mapped_column(KEY)
    participant_name: Mapped[str] = mapped_column(NAME)
    programme_code: Mapped[str] = mapped_column(KEY)
    programme_version: Mapped[int] = mapped_column(Integer)
    programme_name_sv: Mapped[str] = mapped_column(NAME)
    programme_name_en: Mapped[str] = mapped_column(NAME)
    # [{"key", "name_sv", "name_en", "completed_at"}]: all modules, or the intyg's one module.
    modules: Mapped[list[dict]] = mapped_column(JSON)
    exam_passed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    achieved_at: Mapped[datetime] = mapped_column(UtcDateTime)
    issuer_name: Mapped[str] = mapped_column(NAME)
    issued_at: Mapped[datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    revision: Mapped[int] = mapped_column(Integer)
    revised_at: Mapped[datetime] = mapped_column(UtcDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    revoked_by: Mapped[str | None] = mapped_column(NAME)
    revocation_reason: Mapped[str | None] = mapped_column(Text)
    # The results no longer support it (a lowered grade): an administrator decides, nothing is automatic.
    needs_review: Mapped[bool] = mapped_column(Boolean, default=False)

    credentials: Mapped[list["CertificateCredentialRecord"]] = relationship(
        back_populates="certificate", order_by="CertificateCredentialRecord.revision", cascade="all, delete-orphan")

    @property
    def current_credential(self) -> "CertificateCredentialRecord":
        return self.credentials[-1]


class CertificateCredentialRecord(Base):
    """The signed OpenBadgeCredential (VC-JWT) of one revision; a re-issue supersedes the previous one."""

    __tablename__ = "certificate_credential"
    __table_args__ = (UniqueConstraint("certificate_id", "revision"),
                      UniqueConstraint("status_list_id", "status_list_index"))

    id: Mapped[int] = mapped_column(primary_key=True)
    certificate_id: Mapped[int] = mapped_column(ForeignKey("certificate.id", ondelete="CASCADE"))
    revision: Mapped[int] = mapped_column(Integer)
    participant_name: Mapped[str] = mapped_column(NAME)
    status_list_id: Mapped[int] = mapped_column(ForeignKey("status_list.id", ondelete="RESTRICT"))
    status_list_index: Mapped[int] = mapped_column(Integer)
    token: Mapped[str] = mapped_column(Text)
    kid: Mapped[str] = mapped_column(String(100))
    issued_at: Mapped[datetime] = mapped_column(UtcDateTime)
    issued_by: Mapped[str] = mapped_column(NAME)
    # Why it was re-issued, in the administrator's words (revision 1 has none).
    note: Mapped[str | None] = mapped_column(Text)
    superseded_at: Mapped[datetime | None] = mapped_column(UtcDateTime)

    certificate: Mapped[CertificateRecord] = relationship(back_populates="credentials")


def certification_holdings(session: Session, registration_id: int,
                           cohort_id: int) -> dict[int, tuple[IssuedCertificate, Revocation | None]]:
    """Per enrolment of a cohort, its issued certification and any revocation, for status computation."""
    rows = session.execute(
        select(CertificateRecord.enrolment_id, CertificateRecord.issued_at, CertificateRecord.revoked_at,
               CertificateRecord.revoked_by, CertificateRecord.revocation_reason)
        .where(CertificateRecord.registration_id == registration_id, CertificateRecord.cohort_id == cohort_id,
               CertificateRecord.kind == CertificateKind.CERTIFICATION.value))
    return {enrolment_id: (IssuedCertificate(issued_at),
                           None if revoked_at is None else Revocation(revoked_at, revoked_by or "", reason or ""))
            for enrolment_id, issued_at, revoked_at, revoked_by, reason in rows}
