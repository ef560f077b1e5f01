"""Funeral administration's rules: pure functions, no I/O."""

from __future__ import annotations

from datetime import date

from civic.identity import birth_date


class ImpossibleDeathDate(ValueError):
    pass


def check_date_of_death(resident_id: str, date_of_death: date, today: date) -> None:
    """A death is registered after it happened, and not before the person was born."""
    if date_of_death > today:
        raise ImpossibleDeathDate("date of death is in the future")
    if date_of_death < birth_date(resident_id):
        raise ImpossibleDeathDate("date of death is before the date of birth in the resident ID")
