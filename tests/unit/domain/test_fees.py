"""Fees in whole öre: member discount and its rounding, funders, module prices, upgrades."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lti_tool.domain.enrolment import EnrolmentNotInCohort, upgrade_to_full_programme
from lti_tool.domain.fees import (
    InvoiceLine,
    LineKind,
    ModulePriceNotSet,
    charges_for,
    cohort_billing,
    member_discount_ore,
)
from lti_tool.domain.prices import Prices, UpgradePricing

FULL = LineKind.FULL_PROGRAMME
MODULE = LineKind.MODULE
UPGRADE = LineKind.UPGRADE
CREDIT = UpgradePricing.CREDIT_MODULES_PAID
FULL_PRICE = UpgradePricing.FULL_PRICE
FIRST_THREE = ("example-module-01", "example-module-02", "example-module-03")


@pytest.mark.parametrize(
    ("gross", "rate", "discount"),
    [
        (5_800_000, Decimal("0.10"), 580_000),
        (333_334, Decimal("0.10"), 33_333),
        (333_335, Decimal("0.10"), 33_334),
        (333_325, Decimal("0.10"), 33_333),
        (5, Decimal("0.10"), 1),
        (4, Decimal("0.10"), 0),
        (100, Fraction(1, 3), 33),
        (101, Fraction(1, 6), 17),
        (0, Decimal("0.10"), 0),
        (1_000, Decimal(1), 1_000),
    ],
    ids=[
        "the full price", "0.4 rounds down", "0.5 rounds up", "another half rounds up",
        "half an öre rounds up", "0.4 öre rounds down", "a Fraction rate, 33.3",
        "a Fraction rate, 16.83", "nothing", "100 %",
    ],
)
def test_member_discount_rounds_half_up_to_whole_ore(gross, rate, discount):
    prices = Prices(full_programme_ore=0, member_discount=rate)
    assert member_discount_ore(prices, gross) == discount


def _priced(make_programme, per_module=None, upgrade=CREDIT):
    return make_programme(
        prices=Prices(full_programme_ore=5_800_000, per_module_ore=per_module, upgrade=upgrade)
    )


# Each row: module price, upgrade policy, modules taken alone (None: full programme),
# upgraded?, SKNT member? -> lines as (kind, gross, discount).
CHARGES = [
    (None, CREDIT, None, False, False, [(FULL, 5_800_000, 0)]),
    (None, CREDIT, None, False, True, [(FULL, 5_800_000, 580_000)]),
    (1_000_000, CREDIT, FIRST_THREE[:2], False, False,
     [(MODULE, 1_000_000, 0), (MODULE, 1_000_000, 0)]),
    (333_335, CREDIT, FIRST_THREE[:1], False, True, [(MODULE, 333_335, 33_334)]),
    (1_000_000, CREDIT, FIRST_THREE, True, False,
     [(MODULE, 1_000_000, 0)] * 3 + [(UPGRADE, 2_800_000, 0)]),
    (1_000_000, CREDIT, FIRST_THREE, True, True,
     [(MODULE, 1_000_000, 100_000)] * 3 + [(UPGRADE, 2_800_000, 280_000)]),
    (333_335, CREDIT, FIRST_THREE[:1], True, True,
     [(MODULE, 333_335, 33_334), (UPGRADE, 5_466_665, 546_666)]),
    (2_500_000, CREDIT, FIRST_THREE, True, True,
     [(MODULE, 2_500_000, 250_000)] * 3 + [(UPGRADE, 0, 0)]),
    (1_000_000, FULL_PRICE, FIRST_THREE[:1], True, True,
     [(MODULE, 1_000_000, 100_000), (UPGRADE, 5_800_000, 580_000)]),
    (None, CREDIT, FIRST_THREE[:1], True, False, [(UPGRADE, 5_800_000, 0)]),
]


@pytest.mark.parametrize(
    ("per_module", "policy", "taken_alone", "upgraded", "member", "lines"),
    CHARGES,
    ids=[
        "full programme, 58,000 SEK",
        "SKNT member, 52,200 SEK",
        "two modules",
        "one module with a discount to round",
        "upgrade credits the modules",
        "upgrade credits the modules and their discount",
        "upgrade credit keeps the total exact despite rounding",
        "modules dearer than the programme: the upgrade is free, never negative",
        "upgrade at full price",
        "unpriced modules: nothing to credit",
    ],
)
def test_charges(make_programme, make_enrolment, moment, per_module, policy, taken_alone,
                 upgraded, member, lines):
    programme = _priced(make_programme, per_module, policy)
    enrolment = make_enrolment(programme, module_keys=taken_alone, is_sknt_member=member)
    if upgraded:
        enrolment = upgrade_to_full_programme(enrolment, moment(30))
    charged = charges_for(programme, enrolment)
    assert [(line.kind, line.gross_ore, line.discount_ore) for line in charged] == lines
    assert all(line.net_ore >= 0 for line in charged)


# Small amounts too: that is where rounding each line can outweigh a price difference.
amounts = st.one_of(
    st.integers(min_value=0, max_value=30), st.integers(min_value=0, max_value=10**7)
)


@given(
    full_price=amounts,
    per_module=amounts,
    rate=st.decimals(min_value=0, max_value=1, places=2),
    modules=st.integers(min_value=1, max_value=12),
    member=st.booleans(),
)
def test_a_credited_upgrade_costs_the_full_price_in_total_and_never_less_than_nothing(
    make_programme, make_enrolment, moment, full_price, per_module, rate, modules, member
):
    programme = make_programme(prices=Prices(full_price, rate, per_module, CREDIT))
    keys = {module.key for module in programme.modules[:modules]}
    enrolment = make_enrolment(programme, module_keys=keys, is_sknt_member=member)
    lines = charges_for(programme, upgrade_to_full_programme(enrolment, moment(30)))
    (full,) = charges_for(programme, make_enrolment(programme, is_sknt_member=member))
    modules_net = sum(line.net_ore for line in lines if line.kind is MODULE)
    assert all(0 <= line.discount_ore <= line.gross_ore for line in lines)
    assert sum(line.net_ore for line in lines) == max(full.net_ore, modules_net)


def test_rounding_on_cheap_modules_does_not_make_the_upgrade_free(
    make_programme, make_enrolment, moment
):
    # Twelve 1-öre modules at 50 % each round to a 1-öre discount: 12 öre gross, 0 paid.
    programme = make_programme(prices=Prices(11, Decimal("0.5"), 1, CREDIT))
    keys = {module.key for module in programme.modules}
    enrolment = make_enrolment(programme, module_keys=keys, is_sknt_member=True)
    *modules, upgrade = charges_for(programme, upgrade_to_full_programme(enrolment, moment(3)))
    assert sum(line.net_ore for line in modules) == 0
    assert (upgrade.gross_ore, upgrade.discount_ore, upgrade.net_ore) == (5, 0, 5)


def test_module_lines_follow_programme_order(make_programme, make_enrolment):
    programme = _priced(make_programme, 100)
    enrolment = make_enrolment(programme, module_keys={"example-module-09", "example-module-02"})
    assert [line.module_key for line in charges_for(programme, enrolment)] == [
        "example-module-02", "example-module-09",
    ]


def test_module_only_without_a_module_price_cannot_be_charged(fei_programme, make_enrolment):
    enrolment = make_enrolment(fei_programme, module_keys={"example-module-01"})
    with pytest.raises(ModulePriceNotSet):
        charges_for(fei_programme, enrolment)


def test_a_funded_cohort_bills_the_funder_with_each_member_s_discount(
    make_programme, make_enrolment, make_cohort, r10
):
    programme = _priced(make_programme, 400_000)
    cohort = make_cohort(programme, funder=r10)
    enrolments = [
        make_enrolment(programme, key="e2", is_sknt_member=True),
        make_enrolment(programme, key="e1"),
        make_enrolment(programme, key="e3", module_keys={"example-module-04"}),
    ]
    billing = cohort_billing(programme, cohort, enrolments)
    (invoice,) = billing.invoices
    assert invoice.payer == r10
    assert [line.enrolment_key for line in invoice.lines] == ["e1", "e2", "e3"]
    assert (invoice.gross_ore, invoice.discount_ore, invoice.net_ore) == (
        5_800_000 * 2 + 400_000, 580_000, 5_800_000 + 5_220_000 + 400_000,
    )
    assert billing.unpriced_enrolment_keys == ()


def test_each_payer_gets_an_invoice_basis(make_programme, make_enrolment, make_cohort, r10):
    programme = _priced(make_programme)
    cohort = make_cohort(programme)
    own = make_enrolment(programme, key="e1", is_sknt_member=True)
    funded = make_enrolment(programme, key="e2", funder=r10)
    unpriced = make_enrolment(programme, key="e3", module_keys={"example-module-01"})
    billing = cohort_billing(programme, cohort, [unpriced, funded, own])
    assert [(invoice.payer, invoice.net_ore) for invoice in billing.invoices] == [
        (own.participant, 5_220_000),
        (r10, 5_800_000),
    ]
    assert billing.invoices[1].lines == (InvoiceLine("e2", FULL, None, 5_800_000, 0),)
    assert billing.unpriced_enrolment_keys == ("e3",)


def test_billing_is_per_cohort(fei_programme, make_enrolment, make_cohort):
    stray = make_enrolment(fei_programme, cohort_key="cohort-2026")
    with pytest.raises(EnrolmentNotInCohort):
        cohort_billing(fei_programme, make_cohort(fei_programme), [stray])


def test_a_line_describes_itself_for_logs():
    line = InvoiceLine("e1", MODULE, "example-module-01", 100, 10)
    assert line.describe() == "enrolment e1: module example-module-01"
    assert InvoiceLine("e1", UPGRADE, None, 1, 0).describe() == "enrolment e1: upgrade"
