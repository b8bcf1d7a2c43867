"""Enrolments, upgrades, cohorts and who pays."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime

import pytest

from lti_tool.domain.cohort import Cohort, Funder, InvalidCohort
from lti_tool.domain.enrolment import (
    AlreadyFullProgramme,
    EnrolmentKind,
    EnrolmentNotInCohort,
    InvalidEnrolment,
    payer_of,
    upgrade_to_full_programme,
)
from lti_tool.domain.timestamps import NaiveTimestamp


def test_an_upgrade_is_a_new_full_programme_enrolment(fei_programme, make_enrolment, moment):
    module_only = make_enrolment(fei_programme, module_keys={"example-module-01"})
    upgraded = upgrade_to_full_programme(module_only, moment(30))
    assert upgraded.kind is EnrolmentKind.FULL_PROGRAMME
    assert upgraded.is_upgraded and upgraded.upgraded_at == moment(30)
    assert (upgraded.key, upgraded.module_keys) == (module_only.key, module_only.module_keys)
    assert module_only.kind is EnrolmentKind.MODULE_ONLY and not module_only.is_upgraded


def test_only_a_module_only_enrolment_can_be_upgraded(fei_programme, make_enrolment, moment):
    with pytest.raises(AlreadyFullProgramme):
        upgrade_to_full_programme(make_enrolment(fei_programme), moment(30))


def test_an_upgrade_time_is_utc(fei_programme, make_enrolment):
    module_only = make_enrolment(fei_programme, module_keys={"example-module-01"})
    with pytest.raises(NaiveTimestamp):
        upgrade_to_full_programme(module_only, datetime(2025, 9, 1))


@pytest.mark.parametrize(
    ("kind", "module_keys", "upgraded", "message"),
    [
        (EnrolmentKind.MODULE_ONLY, frozenset(), False, "takes at least one"),
        (EnrolmentKind.MODULE_ONLY, {"example-module-01"}, True, "is not upgraded"),
        (EnrolmentKind.FULL_PROGRAMME, {"example-module-01"}, False, "only an upgraded"),
    ],
    ids=["module-only without modules", "module-only yet upgraded", "full with modules"],
)
def test_an_inconsistent_enrolment_is_refused(
    fei_programme, make_enrolment, moment, kind, module_keys, upgraded, message
):
    valid = make_enrolment(fei_programme)
    with pytest.raises(InvalidEnrolment, match=message):
        replace(valid, kind=kind, module_keys=module_keys,
                upgraded_at=moment(1) if upgraded else None)


OWN_FUNDER = Funder("lycksele", "Lycksele kommun")


@pytest.mark.parametrize(
    ("enrolment_funder", "cohort_funded", "payer"),
    [
        (None, False, "participant"),
        (None, True, "r10"),
        (OWN_FUNDER, False, "lycksele"),
        (OWN_FUNDER, True, "lycksele"),
    ],
    ids=["the participant", "the cohort's funder", "the enrolment's funder",
         "the enrolment's funder over the cohort's"],
)
def test_who_pays(fei_programme, make_enrolment, make_cohort, r10, enrolment_funder,
                  cohort_funded, payer):
    enrolment = make_enrolment(fei_programme, funder=enrolment_funder)
    cohort = make_cohort(fei_programme, funder=r10 if cohort_funded else None)
    expected = {"participant": enrolment.participant, "r10": r10, "lycksele": OWN_FUNDER}
    assert payer_of(enrolment, cohort) == expected[payer]


def test_a_payer_is_only_found_within_the_enrolment_s_cohort(
    fei_programme, make_enrolment, make_cohort
):
    enrolment = make_enrolment(fei_programme, cohort_key="cohort-2026")
    with pytest.raises(EnrolmentNotInCohort):
        payer_of(enrolment, make_cohort(fei_programme))


def test_a_cohort_ends_after_it_starts(fei_programme):
    Cohort("one-day", "Endagars", fei_programme.ref, date(2025, 9, 1), date(2025, 9, 1))
    with pytest.raises(InvalidCohort, match="ends_on"):
        Cohort("backwards", "Baklänges", fei_programme.ref, date(2025, 9, 2), date(2025, 9, 1))
