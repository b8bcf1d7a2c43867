"""Amounts in öre written for people, per locale: "58 000 kr" in Swedish, "SEK 58,000" in English."""
from __future__ import annotations

import re
from decimal import Decimal

from flask_babel import format_currency, get_locale

# CLDR's currencySpacing, which Babel does not apply: a currency written in letters ("SEK") is kept
# apart from the digits by a no-break space.
_LETTER_BESIDE_DIGIT = re.compile(r"(?<=[^\W\d_])(?=\d)|(?<=\d)(?=[^\W\d_])")


def money_text(ore: int | None) -> str:
    """The locale's currency format; whole kronor without öre ("58 000 kr", not "58 000,00 kr")."""
    if ore is None:
        return ""
    pattern = get_locale().currency_formats["standard"].pattern
    if ore % 100 == 0:
        pattern = pattern.replace(".00", "")
    text = format_currency(Decimal(ore) / 100, "SEK", format=pattern, currency_digits=False)
    return _LETTER_BESIDE_DIGIT.sub("\u00a0", text)
