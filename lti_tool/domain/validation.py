"""Small checks shared by the configuration values that report their own problems."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from decimal import Decimal
from fractions import Fraction


def is_whole_number(value: object) -> bool:
    # bool is an int subclass; True must not pass as a price or a count.
    return isinstance(value, int) and not isinstance(value, bool)


def is_exact_fraction(value: object) -> bool:
    """Fractions and Decimals compare exactly; floats would make 0.6 a near miss."""
    return isinstance(value, (Fraction, Decimal)) or is_whole_number(value)


def within(prefix: str, problems: Iterable[str]) -> Iterator[str]:
    """Place a part's problems under its field path, e.g. "modules[2]" + "key: required"."""
    return (f"{prefix}.{problem}" for problem in problems)


def required_text(name: str, value: object) -> Iterator[str]:
    if not isinstance(value, str) or not value.strip():
        yield f"{name}: required"


def positive_whole_number(name: str, value: object) -> Iterator[str]:
    if not is_whole_number(value) or value < 1:
        yield f"{name}: must be a whole number of at least 1"
