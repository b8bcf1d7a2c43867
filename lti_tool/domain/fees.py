"""What each enrolment is charged and the invoice basis per payer, in whole öre.

Rounding: a member discount is the exact rate times the gross amount, rounded half up
(ROUND_HALF_UP) to a whole öre, per invoice line. The SKNT discount belongs to the
member, so it applies whoever pays, a funder included.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum
from fractions import Fraction

from lti_tool.domain.cohort import Cohort, Funder
from lti_tool.domain.enrolment import (
    Enrolment,
    Participant,
    payer_of,
    require_enrolment_in,
)
from lti_tool.domain.prices import Prices, UpgradePricing
from lti_tool.domain.programme import Programme


class ModulePriceNotSet(ValueError):
    """A module-only enrolment cannot be charged while the programme has no module price."""


class LineKind(Enum):
    FULL_PROGRAMME = "full_programme"
    MODULE = "module"
    UPGRADE = "upgrade"


@dataclass(frozen=True)
class InvoiceLine:
    enrolment_key: str
    kind: LineKind
    # Set for LineKind.MODULE only.
    module_key: str | None
    gross_ore: int
    discount_ore: int

    @property
    def net_ore(self) -> int:
        return self.gross_ore - self.discount_ore

    def describe(self) -> str:
        """English, for logs; the UI translates from kind and module_key."""
        what = f"module {self.module_key}" if self.module_key else self.kind.value.replace("_", " ")
        return f"enrolment {self.enrolment_key}: {what}"


@dataclass(frozen=True)
class PayerInvoiceBasis:
    payer: Participant | Funder
    lines: tuple[InvoiceLine, ...]

    @property
    def gross_ore(self) -> int:
        return sum(line.gross_ore for line in self.lines)

    @property
    def discount_ore(self) -> int:
        return sum(line.discount_ore for line in self.lines)

    @property
    def net_ore(self) -> int:
        return sum(line.net_ore for line in self.lines)


@dataclass(frozen=True)
class CohortBilling:
    invoices: tuple[PayerInvoiceBasis, ...]
    # Module-only enrolments left out because the programme sets no module price.
    unpriced_enrolment_keys: tuple[str, ...]


def member_discount_ore(prices: Prices, gross_ore: int) -> int:
    # Half up for a non-negative amount: floor(x + 1/2), exact for Decimal and Fraction rates.
    return math.floor(Fraction(gross_ore) * Fraction(prices.member_discount) + Fraction(1, 2))


def charges_for(programme: Programme, enrolment: Enrolment) -> tuple[InvoiceLine, ...]:
    """Everything the enrolment is charged, including modules bought before an upgrade."""
    require_enrolment_in(programme, enrolment)
    prices = programme.prices
    if not enrolment.is_full_programme:
        if prices.per_module_ore is None:
            raise ModulePriceNotSet(f"enrolment {enrolment.key}: the programme has no module price")
        return _module_lines(programme, enrolment)
    if not enrolment.is_upgraded:
        return (_line(prices, enrolment, LineKind.FULL_PROGRAMME, prices.full_programme_ore),)
    # Unpriced modules were never charged here, so there is nothing to credit.
    modules = () if prices.per_module_ore is None else _module_lines(programme, enrolment)
    return (*modules, _upgrade_line(prices, enrolment, modules))


def cohort_billing(
    programme: Programme, cohort: Cohort, enrolments: Iterable[Enrolment]
) -> CohortBilling:
    """The invoice basis per payer for a cohort, payers and lines in enrolment-key order."""
    lines_by_payer: dict[Participant | Funder, list[InvoiceLine]] = {}
    unpriced: list[str] = []
    for enrolment in sorted(enrolments, key=lambda enrolment: enrolment.key):
        payer = payer_of(enrolment, cohort)
        try:
            lines = charges_for(programme, enrolment)
        except ModulePriceNotSet:
            unpriced.append(enrolment.key)
            continue
        lines_by_payer.setdefault(payer, []).extend(lines)
    invoices = tuple(
        PayerInvoiceBasis(payer, tuple(lines)) for payer, lines in lines_by_payer.items()
    )
    return CohortBilling(invoices, tuple(unpriced))


def _line(
    prices: Prices,
    enrolment: Enrolment,
    kind: LineKind,
    gross_ore: int,
    module_key: str | None = None,
) -> InvoiceLine:
    discount = member_discount_ore(prices, gross_ore) if enrolment.is_sknt_member else 0
    return InvoiceLine(enrolment.key, kind, module_key, gross_ore, discount)


def _module_lines(programme: Programme, enrolment: Enrolment) -> tuple[InvoiceLine, ...]:
    prices = programme.prices
    return tuple(
        _line(prices, enrolment, LineKind.MODULE, prices.per_module_ore, module.key)
        for module in programme.modules
        if module.key in enrolment.module_keys
    )


def _upgrade_line(
    prices: Prices, enrolment: Enrolment, paid: tuple[InvoiceLine, ...]
) -> InvoiceLine:
    full = _line(prices, enrolment, LineKind.UPGRADE, prices.full_programme_ore)
    if prices.upgrade is UpgradePricing.FULL_PRICE:
        return full
    # What was paid (net) is credited, so the total is the full net price or, if the
    # modules cost more, what they cost. The line shows the member discount not yet
    # given; usually that makes its gross the full price minus the modules' gross.
    net = max(0, full.net_ore - sum(line.net_ore for line in paid))
    discount = max(0, full.discount_ore - sum(line.discount_ore for line in paid)) if net else 0
    return InvoiceLine(enrolment.key, LineKind.UPGRADE, None, net + discount, discount)
