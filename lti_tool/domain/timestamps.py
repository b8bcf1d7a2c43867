"""Rules for the UTC timestamps the domain receives and the dates it reasons about."""

from __future__ import annotations

from datetime import date, datetime, timedelta


class NaiveTimestamp(ValueError):
    """A `*_at` timestamp must be timezone-aware (UTC), or comparisons would be guesses."""


def require_utc(name: str, value: datetime) -> None:
    if value.tzinfo is None or value.utcoffset() != timedelta(0):
        raise NaiveTimestamp(f"{name}: must be a UTC datetime, got {value!r}")


def add_years(moment: datetime, years: int) -> datetime:
    """The same calendar day `years` later; 29 February falls back to 28 February."""
    try:
        return moment.replace(year=moment.year + years)
    except ValueError:
        return moment.replace(year=moment.year + years, day=28)


def is_reached(moment: datetime, as_of: date | datetime) -> bool:
    """Whether `moment` has come by `as_of`; a bare date means by the end of that day."""
    if isinstance(as_of, datetime):
        return as_of >= moment
    return as_of >= moment.date()
