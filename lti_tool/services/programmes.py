"""Programme configuration in the database: versioned import, export, and loading domain values."""
from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from fractions import Fraction

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..db.programmes import (CohortRecord, FunderRecord, ProgrammeModuleRecord, ProgrammeRecord,
                             ProgrammeVersionRecord, RegionRecord)
from ..domain.cohort import Cohort, Funder, Region
from ..domain.prices import Prices, UpgradePricing
from ..domain.programme import FinalExam, LocalisedName, Module, Programme, ProgrammeRef
from .programme_file import ProgrammeDocument

log = logging.getLogger(__name__)


class ProgrammeNotFound(LookupError):
    """No programme (or version) with that code for this platform."""


@dataclass(frozen=True)
class ImportOutcome:
    code: str
    version: int
    is_new_version: bool
    cohorts_added: tuple[str, ...]


def import_programme(session: Session, registration_id: int, document: ProgrammeDocument,
                     now: datetime) -> ImportOutcome:
    """Save the file's programme as a new version when it differs from the latest one.

    Versions are numbered by the tool. A cohort already saved keeps the version it started
    with, so editing the programme never rewrites past certifications; a new cohort follows
    the version this import leaves as the latest.
    """
    programme = document.programme
    record = session.scalar(select(ProgrammeRecord).where(ProgrammeRecord.registration_id == registration_id,
                                                          ProgrammeRecord.code == programme.code))
    if record is None:
        record = ProgrammeRecord(registration_id=registration_id, code=programme.code, created_at=now)
        session.add(record)
        session.flush()
    latest = record.versions[-1] if record.versions else None
    is_new = latest is None or replace(to_programme(record, latest), version=programme.version) != programme
    if is_new:
        number = latest.version + 1 if latest else 1
        latest = _version_record(record, replace(programme, version=number), now)
        session.flush()
    funders = {f.key: _upsert_named(session, FunderRecord, registration_id, f.key, f.name) for f in document.funders}
    for region in document.regions:
        _upsert_named(session, RegionRecord, registration_id, region.key, region.name)
    added = tuple(c.key for c in document.cohorts if _upsert_cohort(session, registration_id, c, latest, funders))
    session.flush()
    log.info("programme %s imported for registration %s: version %s (%s), new cohorts %s", programme.code,
             registration_id, latest.version, "new" if is_new else "unchanged", list(added))
    return ImportOutcome(programme.code, latest.version, is_new, added)


def _version_record(record: ProgrammeRecord, programme: Programme, now: datetime) -> ProgrammeVersionRecord:
    prices = programme.prices
    version = ProgrammeVersionRecord(
        version=programme.version, name_sv=programme.name.sv, name_en=programme.name.en,
        duration_weeks=programme.duration_weeks, exam_pass_mark=_exact(programme.final_exam.pass_mark),
        exam_max_attempts=programme.final_exam.max_attempts, validity_years=programme.validity_years,
        full_programme_ore=prices.full_programme_ore, member_discount=str(prices.member_discount),
        per_module_ore=prices.per_module_ore, upgrade_pricing=prices.upgrade.value, created_at=now,
        modules=[ProgrammeModuleRecord(position=i, key=m.key, name_sv=m.name.sv, name_en=m.name.en,
                                       pass_mark=_exact(m.pass_mark)) for i, m in enumerate(programme.modules)],
    )
    record.versions.append(version)
    return version


def _upsert_named(session: Session, model, registration_id: int, key: str, name: str):
    row = session.scalar(select(model).where(model.registration_id == registration_id, model.key == key))
    if row is None:
        row = model(registration_id=registration_id, key=key)
        session.add(row)
    row.name = name
    return row


def _upsert_cohort(session: Session, registration_id: int, cohort: Cohort, latest: ProgrammeVersionRecord,
                   funders: dict[str, FunderRecord]) -> bool:
    row = session.scalar(select(CohortRecord).where(CohortRecord.registration_id == registration_id,
                                                    CohortRecord.key == cohort.key))
    is_new = row is None
    if is_new:
        row = CohortRecord(registration_id=registration_id, key=cohort.key, programme_version=latest)
        session.add(row)
    row.name = cohort.name
    row.starts_on = cohort.starts_on
    row.ends_on = cohort.ends_on
    row.funder = funders.get(cohort.funder.key) if cohort.funder else None
    return is_new


def to_programme(record: ProgrammeRecord, version: ProgrammeVersionRecord) -> Programme:
    return Programme(
        code=record.code, version=version.version, name=LocalisedName(version.name_sv, version.name_en),
        duration_weeks=version.duration_weeks, validity_years=version.validity_years,
        modules=tuple(Module(key=m.key, name=LocalisedName(m.name_sv, m.name_en), pass_mark=Fraction(m.pass_mark))
                      for m in version.modules),
        final_exam=FinalExam(pass_mark=Fraction(version.exam_pass_mark), max_attempts=version.exam_max_attempts),
        prices=Prices(full_programme_ore=version.full_programme_ore, member_discount=Decimal(version.member_discount),
                      per_module_ore=version.per_module_ore, upgrade=UpgradePricing(version.upgrade_pricing)),
    )


def _exact(value: Fraction | Decimal) -> str:
    return str(Fraction(value))


def _programme_record(session: Session, registration_id: int, code: str) -> ProgrammeRecord:
    record = session.scalar(select(ProgrammeRecord).where(ProgrammeRecord.registration_id == registration_id,
                                                          ProgrammeRecord.code == code))
    if record is None or not record.versions:
        raise ProgrammeNotFound(f"no programme {code!r} for platform {registration_id}")
    return record


def load_programme(session: Session, registration_id: int, code: str, version: int | None = None) -> Programme:
    record = _programme_record(session, registration_id, code)
    chosen = record.versions[-1] if version is None else next(
        (v for v in record.versions if v.version == version), None)
    if chosen is None:
        raise ProgrammeNotFound(f"programme {code!r} has no version {version}")
    return to_programme(record, chosen)


def export_document(session: Session, registration_id: int, code: str) -> ProgrammeDocument:
    """The latest version with this platform's funders, regions and the cohorts of this programme."""
    record = _programme_record(session, registration_id, code)
    programme = to_programme(record, record.versions[-1])
    funders = session.scalars(select(FunderRecord).where(FunderRecord.registration_id == registration_id)
                              .order_by(FunderRecord.id)).all()
    regions = session.scalars(select(RegionRecord).where(RegionRecord.registration_id == registration_id)
                              .order_by(RegionRecord.id)).all()
    cohorts = session.scalars(
        select(CohortRecord).join(ProgrammeVersionRecord)
        .where(CohortRecord.registration_id == registration_id, ProgrammeVersionRecord.programme_id == record.id)
        .order_by(CohortRecord.starts_on, CohortRecord.id)).all()
    return ProgrammeDocument(
        programme=programme,
        funders=tuple(Funder(f.key, f.name) for f in funders),
        regions=tuple(Region(r.key, r.name) for r in regions),
        cohorts=tuple(Cohort(key=c.key, name=c.name, starts_on=c.starts_on, ends_on=c.ends_on,
                             programme=ProgrammeRef(code, c.programme_version.version),
                             funder=Funder(c.funder.key, c.funder.name) if c.funder else None) for c in cohorts),
    )


def list_programmes(session: Session, registration_id: int) -> list[tuple[str, int, int]]:
    """(code, latest version, number of cohorts) per programme of a platform."""
    rows = session.execute(
        select(ProgrammeRecord.code, func.max(ProgrammeVersionRecord.version))
        .join(ProgrammeVersionRecord).where(ProgrammeRecord.registration_id == registration_id)
        .group_by(ProgrammeRecord.code).order_by(ProgrammeRecord.code)).all()
    result = []
    for code, version in rows:
        count = session.scalar(select(func.count(CohortRecord.id)).join(ProgrammeVersionRecord).join(ProgrammeRecord)
                               .where(ProgrammeRecord.registration_id == registration_id,
                                      ProgrammeRecord.code == code))
        result.append((code, version, count))
    return result
