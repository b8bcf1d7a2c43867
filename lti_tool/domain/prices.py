"""What a programme costs, in whole öre, and how an upgrade from modules is priced."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from enum import Enum

from lti_tool.domain.validation import is_exact_fraction, is_whole_number


class UpgradePricing(Enum):
    """How a module-only enrolment upgraded to the full programme is charged."""

    # What was paid for the modules is credited: in total the participant pays the full
    # (discounted) price, or what the modules cost if that was more. Never less than 0.
    CREDIT_MODULES_PAID = "credit_modules_paid"
    # The upgrade costs the full price; the modules stay charged as they were.
    FULL_PRICE = "full_price"


@dataclass(frozen=True)
class Prices:
    """Amounts are integers in öre (1 SEK = 100 öre) so money never meets a float."""

    full_programme_ore: int
    member_discount: Decimal = Decimal("0.10")
    # None means "not priced": module-only enrolments cannot be charged until it is set.
    per_module_ore: int | None = None
    upgrade: UpgradePricing = UpgradePricing.CREDIT_MODULES_PAID

    def problems(self) -> Iterator[str]:
        """Each broken rule as "field: problem"; a programme prefixes them with "prices."."""
        yield from _amount_problems("full_programme_ore", self.full_programme_ore)
        if self.per_module_ore is not None:
            yield from _amount_problems("per_module_ore", self.per_module_ore)
        if not is_exact_fraction(self.member_discount):
            yield "member_discount: must be an exact Decimal or Fraction"
        elif not 0 <= self.member_discount <= 1:
            yield "member_discount: must be between 0 and 1"
        if not isinstance(self.upgrade, UpgradePricing):
            yield "upgrade: must be an UpgradePricing"


def _amount_problems(name: str, amount: object) -> Iterator[str]:
    if not is_whole_number(amount):
        yield f"{name}: must be a whole number of öre"
    elif amount < 0:
        yield f"{name}: must not be negative"
