"""The module-only report: per module, who takes it alone, who completed it, who pays."""

from __future__ import annotations

import pytest

from lti_tool.domain.cohort import Funder
from lti_tool.domain.enrolment import EnrolmentNotInCohort, upgrade_to_full_programme
from lti_tool.domain.module_only_report import module_only_report


def test_the_report_lists_module_only_participants_per_module(
    fei_programme, make_enrolment, make_cohort, make_module_result, moment, r10
):
    cohort = make_cohort(fei_programme, funder=r10)
    own = make_enrolment(fei_programme, key="e2", module_keys={"example-module-01"})
    both = make_enrolment(fei_programme, key="e1",
                          module_keys={"example-module-01", "example-module-03"})
    full = make_enrolment(fei_programme, key="e3")
    upgraded = upgrade_to_full_programme(
        make_enrolment(fei_programme, key="e4", module_keys={"example-module-01"}), moment(9)
    )
    results = {
        "e1": [make_module_result("example-module-01", 80, days=5),
               make_module_result("example-module-03", 10, days=6)],
        "e3": [make_module_result("example-module-01", 80, days=5)],
    }
    rows = module_only_report(fei_programme, cohort, [own, full, both, upgraded], results)

    assert [row.module.key for row in rows] == [m.key for m in fei_programme.modules]
    first, second, third = rows[:3]
    assert [p.enrolment_key for p in first.participations] == ["e1", "e2"]
    assert [p.is_completed for p in first.participations] == [True, False]
    assert first.participations[0].completed_at == moment(5)
    assert first.completed_count == 1
    assert second.participations == ()
    assert [(p.enrolment_key, p.is_completed) for p in third.participations] == [("e1", False)]
    assert {p.payer for row in rows for p in row.participations} == {r10}
    assert first.participations[1].participant == own.participant


def test_an_enrolment_s_own_funder_is_shown_as_payer(
    fei_programme, make_enrolment, make_cohort
):
    municipality = Funder("storuman", "Storumans kommun")
    enrolment = make_enrolment(fei_programme, module_keys={"example-module-02"},
                               funder=municipality)
    rows = module_only_report(fei_programme, make_cohort(fei_programme), [enrolment], {})
    assert rows[1].participations[0].payer == municipality


def test_the_participant_pays_when_nobody_funds(fei_programme, make_enrolment, make_cohort):
    enrolment = make_enrolment(fei_programme, module_keys={"example-module-02"})
    rows = module_only_report(fei_programme, make_cohort(fei_programme), [enrolment], {})
    assert rows[1].participations[0].payer == enrolment.participant


@pytest.mark.parametrize("module_keys", [{"example-module-02"}, None],
                         ids=["module-only", "full programme"])
def test_the_report_is_per_cohort(fei_programme, make_enrolment, make_cohort, module_keys):
    stray = make_enrolment(fei_programme, module_keys=module_keys, cohort_key="cohort-2026")
    with pytest.raises(EnrolmentNotInCohort):
        module_only_report(fei_programme, make_cohort(fei_programme), [stray], {})
